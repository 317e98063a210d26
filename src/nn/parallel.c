#include "nn/parallel.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

void engine_exec_wait_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", ENGINE_SPINCOUNT, 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with libgomp's default */
    unsetenv("GOMP_SPINCOUNT");
}

void engine_set_threads(int t) {
    omp_set_num_threads(t < 1 ? 1 : t);
    openblas_set_num_threads(1);
}

void engine_blas_single(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

int engine_block_threads(void) { return omp_get_max_threads(); }

/* Panels are at least this wide (a few register tiles), and there are at most MAX_PANELS of them. Panel widths
 * depend on the matrix shape only, never on the thread count: OpenBLAS picks different code paths (small-matrix
 * kernels, K blocking) by shape, so thread-dependent panels would make results depend on the thread count. */
#define MIN_PANEL 64
#define MAX_PANELS 16

void sgemm_par(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
    const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    const int split_n = n >= m;
    const int len = split_n ? n : m;
    int width = ((len + MAX_PANELS - 1) / MAX_PANELS + 15) / 16 * 16;
    if (width < MIN_PANEL) width = MIN_PANEL;
    const int panels = (len + width - 1) / width;
    const int nt = omp_in_parallel() ? 1 : engine_block_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && panels > 1)
    for (int p = 0; p < panels; p++) {
        const int lo = p * width, hi = lo + width < len ? lo + width : len;
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
