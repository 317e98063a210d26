/* bn: { "bn" } -> BatchNorm2d(channels) with PyTorch's eps 1e-5 and momentum 0.1 (model-wide, so phase 3 can
 * switch every BN to cumulative averaging). A BN whose output only feeds the ReLU right after it runs both in
 * one pass (batchnorm_relu_*): the model asks fuses() and then hands this layer the ReLU's buffers. */
#include "nn/layer.h"

extern const LayerOps layer_bn, layer_relu;

static int build(Build *b, const cJSON *spec, int in) {
    (void)spec;
    const Slot s = b->m->slots[in];
    if (s.nf) return build_fail(b, "needs an image input (channels x height x width), got %d flat features", s.c);
    Layer *l = build_layer(b, "", in);
    l->conv.co = s.c;
    const int shape[1] = {s.c};
    /* affine parameters are trained without decay; the running statistics are buffers */
    l->p0 = build_tensor(b, l, "weight", "batchnorm2d", "C", 1, 1, 0, 1, shape);
    l->p1 = build_tensor(b, l, "bias", "batchnorm2d", "C", 1, 1, 0, 1, shape);
    l->rmean = build_tensor(b, l, "running_mean", "batchnorm2d", "C", 0, 1, 0, 1, shape);
    l->rvar = build_tensor(b, l, "running_var", "batchnorm2d", "C", 0, 1, 0, 1, shape);
    return build_output(b, l, s.c, s.h, s.w, 0);
}

/* batch mean, then 1/std, per channel */
static size_t state(const Layer *l, int n) {
    (void)n;
    return 2 * (size_t)l->conv.co;
}

static int fuses(const Layer *l, const Layer *next) { (void)l; return next->ops == &layer_relu; }

static int backward_sets(const Layer *l) {
    (void)l;
    return 1;
}

static void forward(Model *m, Layer *l, int train) {
    if (nn_ablation() & NN_ABLATE_BN) return; /* swap-bench --ablate bn: timing only */
    const Slot *si = &m->slots[l->in];
    const size_t plane = (size_t)m->batch * si->h * si->w;
    float *mean = l->state, *rstd = l->state + l->conv.co;
    float *out = l->fused ? m->slots[l[1].out].x : m->slots[l->out].x;
    const float *g = layer_param(m, l->p0), *be = layer_param(m, l->p1);
    float *rm = layer_param(m, l->rmean), *rv = layer_param(m, l->rvar);
    if (train) {
        float mom = m->bn_momentum;
        if (mom < 0) mom = 1.0f / (float)(m->bn_count + 1);
        (l->fused ? batchnorm_relu_forward_train : batchnorm_forward_train)(out, mean, rstd, rm, rv, si->x, g, be,
                                                                            si->c, plane, mom, m->bn_eps);
    } else {
        (l->fused ? batchnorm_relu_forward_eval : batchnorm_forward_eval)(out, si->x, g, be, rm, rv, si->c, plane,
                                                                          m->bn_eps);
    }
}

static void backward(Model *m, Layer *l, int set) {
    if (nn_ablation() & NN_ABLATE_BN) return;
    const Slot *si = &m->slots[l->in];
    const size_t plane = (size_t)m->batch * si->h * si->w;
    const float *mean = l->state, *rstd = l->state + l->conv.co;
    if (l->fused) {
        const Slot *sr = &m->slots[l[1].out];
        (set ? batchnorm_relu_backward_set : batchnorm_relu_backward)(
            si->dx, layer_grad(m, l->p0), layer_grad(m, l->p1), sr->dx, si->x, layer_param(m, l->p0),
            layer_param(m, l->p1), mean, rstd, si->c, plane);
    } else {
        (set ? batchnorm_backward_set : batchnorm_backward)(si->dx, layer_grad(m, l->p0), layer_grad(m, l->p1),
                                                            m->slots[l->out].dx, si->x, layer_param(m, l->p0),
                                                            mean, rstd, si->c, plane);
    }
}

static double flops(const Model *m, const Layer *l) { return 2.0 * slot_numel(&m->slots[l->in]); }

const LayerOps layer_bn = {.kind = "bn", .build = build, .state = state, .forward = forward, .backward = backward,
                           .backward_sets = backward_sets, .fuses = fuses, .flops = flops};
