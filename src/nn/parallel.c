#include "parallel.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

void engine_exec_passive_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the default policy */
    unsetenv("OMP_WAIT_POLICY");
}

void engine_set_threads(int t) {
    omp_set_num_threads(t < 1 ? 1 : t);
    openblas_set_num_threads(1);
}

int engine_block_threads(void) { return openblas_get_num_threads() > 1 ? 1 : omp_get_max_threads(); }

/* Blocks narrower than this waste the GEMM kernel's register tile (16 floats wide) and repack A per call. */
#define MIN_BLOCK 64

void sgemm_par(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
    const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt == 1 || openblas_get_num_threads() > 1 || (m < 2 * MIN_BLOCK && n < 2 * MIN_BLOCK)) {
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* split the longer side; block edges on multiples of 16 keep the kernel's full tiles */
    const int split_n = n >= m;
    const int len = split_n ? n : m;
    int parts = len / MIN_BLOCK < nt ? len / MIN_BLOCK : nt;
    if (parts < 1) parts = 1;
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int p = 0; p < parts; p++) {
        const int step = ((len + parts - 1) / parts + 15) / 16 * 16;
        const int lo = p * step, hi = lo + step < len ? lo + step : len;
        if (hi <= lo) continue;
        if (split_n) {
            const float *bp = trans_b ? b + (size_t)lo * ldb : b + lo;
            cblas_sgemm(CblasRowMajor, ta, tb, m, hi - lo, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
        } else {
            const float *ap = trans_a ? a + lo : a + (size_t)lo * lda;
            cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, n, k, alpha, ap, lda, b, ldb, beta, c + (size_t)lo * ldc,
                        ldc);
        }
    }
}
