#include "sgd.h"

#include <string.h>

void sgd_zero_grad(ParamStore *ps) { memset(ps->grad, 0, ps->n_params * sizeof(float)); }

void sgd_step(ParamStore *ps, const SgdConfig *c, float lr) {
    const float mu = c->momentum;
    for (int t = 0; t < ps->n_views; t++) {
        const TensorView *v = &ps->views[t];
        if (!v->trainable) continue;
        const float wd = (v->no_decay && !c->decay_bn_and_bias) ? 0.0f : c->weight_decay;
        float *p = ps->data + v->offset, *g = ps->grad + v->offset, *b = ps->mom + v->offset;
        const size_t n = v->numel;
        if (mu == 0.0f) {
            for (size_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
        } else if (c->nesterov) {
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
}
