/* Training steps give bit-identical results at 1, 2 and 3 threads: the kernels split work so that every sum is
 * done in the same order whatever the thread count (fixed GEMM panels and weight-gradient slices, per-channel
 * BN reductions). Odd batch sizes exercise the partial last blocks. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/model.h"
#include "nn/parallel.h"
#include "optim/sgd.h"
#include "testlib.h"

/* Train `steps` steps; returns malloc'd [params | grads | logits]. */
static float *train(const char *name, int c, int hw, int width, int batch, int threads, size_t *len) {
    engine_set_threads(threads);
    ModelSpec spec = {.in_c = c, .in_h = hw, .in_w = hw, .classes = 10, .width = width};
    Model *m = model_create(name, &spec);
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
    float *ref = train(name, c, hw, width, batch, 1, &n1);
    for (int t = 2; t <= 3; t++) {
        float *got = train(name, c, hw, width, batch, t, &n);
        T_CHECK(n == n1 && memcmp(ref, got, n * sizeof(float)) == 0,
                "%s batch %d: %d threads differ from 1 thread (max rel err %g)", name, batch, t,
                n == n1 ? t_max_rel_err(got, ref, n) : -1.0);
        free(got);
    }
    free(ref);
}

int main(void) {
    check("mlp", 1, 28, 0, 37);
    check("cnn", 1, 28, 0, 19);
    check("resnet9", 3, 32, 8, 7);
    engine_set_threads(omp_get_num_procs());
    return t_exit("test_engine_threads");
}
