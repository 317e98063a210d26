/* Training steps give bit-identical results at 1, 2 and 3 threads: the kernels split work so that every sum is
 * done in the same order whatever the thread count (fixed GEMM panels and weight-gradient slices, per-channel
 * BN reductions). Odd batch sizes exercise the partial last blocks. The same holds in a program that never called
 * engine_set_threads and left OpenBLAS multi-threaded (its default): building a model makes OpenBLAS
 * single-threaded, since a multi-threaded OpenBLAS rounds differently by thread count on some kernels. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/presets.h"
#include "core/rng.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/parallel.h"
#include "optim/sgd.h"
#include "testlib.h"

/* Train `steps` steps; returns malloc'd [params | grads | logits]. */
static float *train(const char *name, int c, int hw, int width, int batch, int threads, int blas_threads,
                    size_t *len) {
    engine_set_threads(threads);
    if (blas_threads > 1) openblas_set_num_threads(blas_threads); /* as if engine_set_threads was never called */
    ModelSpec spec = {.in_c = c, .in_h = hw, .in_w = hw, .classes = 10, .width = width};
    Model *m = model_create(name, &spec);
    T_CHECK(openblas_get_num_threads() == 1, "%s: OpenBLAS left at %d threads after model_create", name,
            openblas_get_num_threads());
    model_init(m, 3);
    model_set_batch(m, batch);
    Rng r;
    rng_seed(&r, 11);
    const SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < (size_t)batch * c * hw * hw; i++) model_input(m)[i] = rng_normal(&r);
        for (int i = 0; i < batch; i++) model_labels(m)[i] = (int)rng_below(&r, 10);
        sgd_zero_grad(&m->ps);
        model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        sgd_step(&m->ps, &sgd, 0.05f);
    }
    const size_t np = m->ps.n_total, ng = m->ps.n_params, nl = (size_t)batch * 10;
    *len = np + ng + nl;
    float *out = malloc(*len * sizeof(float));
    memcpy(out, m->ps.data, np * sizeof(float));
    memcpy(out + np, m->ps.grad, ng * sizeof(float));
    memcpy(out + np + ng, model_logits(m), nl * sizeof(float));
    model_free(m);
    return out;
}

static void check(const char *name, int c, int hw, int width, int batch) {
    size_t n1, n;
    float *ref = train(name, c, hw, width, batch, 1, 1, &n1);
    for (int t = 2; t <= 4; t++) {
        /* t = 4: 2 OpenMP threads after OpenBLAS was set to 3 threads */
        float *got = t < 4 ? train(name, c, hw, width, batch, t, 1, &n) : train(name, c, hw, width, batch, 2, 3, &n);
        T_CHECK(n == n1 && memcmp(ref, got, n * sizeof(float)) == 0,
                "%s batch %d: %d threads%s differ from 1 thread (max rel err %g)", name, batch, t < 4 ? t : 2,
                t < 4 ? "" : " (OpenBLAS set to 3)", n == n1 ? t_max_rel_err(got, ref, n) : -1.0);
        free(got);
    }
    free(ref);
}

/* One convolution layer, forward and backward, at `threads` threads; returns malloc'd [out | din | dweight]. */
static float *conv_run(const ConvDims *d, int n, int threads, size_t *len) {
    engine_set_threads(threads);
    const size_t nin = (size_t)d->ci * n * d->h * d->w, nout = (size_t)d->co * n * d->ho * d->wo,
                 nw = (size_t)d->co * d->ci * d->k * d->k;
    const int chunk = conv_chunk(d, n, (size_t)1 << 16);
    float *in = malloc(nin * sizeof(float)), *w = malloc(nw * sizeof(float)), *dout = malloc(nout * sizeof(float));
    float *col = calloc((size_t)d->ci * d->k * d->k * chunk * d->ho * d->wo, sizeof(float));
    Rng r;
    rng_seed(&r, 5);
    for (size_t i = 0; i < nin; i++) in[i] = rng_normal(&r);
    for (size_t i = 0; i < nw; i++) w[i] = rng_normal(&r);
    for (size_t i = 0; i < nout; i++) dout[i] = rng_normal(&r);
    *len = nout + nin + nw;
    float *res = calloc(*len, sizeof(float));
    conv2d_forward(res, in, w, NULL, col, d, n, chunk, NULL, 0);
    conv2d_backward(res + nout, res + nout + nin, NULL, dout, in, w, col, d, n, chunk, NULL, 0);
    free(in); free(w); free(dout); free(col);
    return res;
}

/* Convolution kernels alone, every implementation (im2col + GEMM, oneDNN direct, oneDNN with Winograd), on shapes whose chunks and weight-gradient slots do not
 * divide evenly among 2 or 3 threads. */
static void check_conv(ConvImpl impl, int ci, int co, int k, int stride, int pad, int h, int n) {
    conv2d_set_impl(impl);
    if (conv2d_impl() != impl) return; /* oneDNN not in this build */
    ConvDims d;
    conv_dims_init(&d, ci, co, k, stride, pad, h, h);
    size_t n1, len;
    float *ref = conv_run(&d, n, 1, &n1);
    for (int t = 2; t <= 3; t++) {
        float *got = conv_run(&d, n, t, &len);
        T_CHECK(len == n1 && memcmp(ref, got, len * sizeof(float)) == 0,
                "conv %s %d>%d k%d s%d %dx%d n%d: %d threads differ from 1 thread (max rel err %g)",
                conv2d_kernel(&d, n), ci, co, k, stride, h, h, n, t, t_max_rel_err(got, ref, len));
        free(got);
    }
    free(ref);
    conv2d_set_impl(CONV_AUTO);
}

int main(void) {
    const ConvImpl impls[3] = {CONV_GEMM, CONV_DIRECT, CONV_ONEDNN};
    for (int i = 0; i < 3; i++) {
        const ConvImpl impl = impls[i];
        check_conv(impl, 19, 21, 3, 1, 1, 9, 11);
        check_conv(impl, 32, 40, 3, 2, 1, 12, 13);
        check_conv(impl, 3, 16, 3, 1, 1, 32, 7);
        check_conv(impl, 64, 64, 3, 1, 1, 4, 37); /* deep layer: big chunks, uneven slots */
        check_conv(impl, 16, 32, 3, 1, 1, 8, 9);  /* Winograd where the CPU has it */
    }
    check("mlp", 1, 28, 0, 37);
    check("cnn", 1, 28, 0, 19);
    check("resnet9", 3, 32, 8, 7);
    engine_set_threads(omp_get_num_procs());
    return t_exit("test_engine_threads");
}
