#include "optim/sgd.h"
#include "core/clones.h"
#include "core/zero.h"

/* Both loops are parallel and elementwise, so results do not depend on the thread count. */
void sgd_zero_grad(ParamStore *ps) { zero_floats(ps->grad, ps->n_params); }

CLONE_INLINE void step_range(float *restrict p, const float *restrict g, float *restrict b, size_t n, float lr,
                       float wd, float mu, int nesterov) {
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
    } else if (nesterov) {
        for (size_t i = 0; i < n; i++) {
            const float d = g[i] + wd * p[i];
            b[i] = mu * b[i] + d;
            p[i] -= lr * (d + mu * b[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            b[i] = mu * b[i] + (g[i] + wd * p[i]);
            p[i] -= lr * b[i];
        }
    }
}

CPU_CLONES void sgd_step(ParamStore *ps, const SgdConfig *c, float lr) {
    const float mu = c->momentum;
    const size_t block = (size_t)1 << 14;
    for (int t = 0; t < ps->n_views; t++) {
        const TensorView *v = &ps->views[t];
        if (!v->trainable) continue;
        const float wd = (v->no_decay && !c->decay_bn_and_bias) ? 0.0f : c->weight_decay;
        float *p = ps->data + v->offset, *g = ps->grad + v->offset, *b = ps->mom + v->offset;
        const size_t n = v->numel;
        if (n < 4 * block) {
            step_range(p, g, b, n, lr, wd, mu, c->nesterov);
            continue;
        }
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i += block)
            step_range(p + i, g + i, b + i, n - i < block ? n - i : block, lr, wd, mu, c->nesterov);
    }
}
