/* maxpool: { "maxpool", k = 2, stride = k } -> MaxPool2d(k, stride), no padding, floor output size. */
#include "nn/layer.h"

extern const LayerOps layer_maxpool;

static const char *const keys[] = {"k", "stride", NULL};

static int build(Build *b, const cJSON *spec, int in) {
    const Slot s = b->m->slots[in];
    int k, stride;
    if (build_int(b, spec, "k", 2, 1, 64, &k) < 0 || build_int(b, spec, "stride", k, 1, 64, &stride) < 0) return -1;
    if (s.nf) return build_fail(b, "needs an image input (channels x height x width), got %d flat features", s.c);
    if (k > s.h || k > s.w) return build_fail(b, "k=%d is larger than the %dx%d input", k, s.h, s.w);
    Layer *l = build_layer(b, "", in);
    conv_dims_init(&l->conv, s.c, s.c, k, stride, 0, s.h, s.w);
    return build_output(b, l, s.c, l->conv.ho, l->conv.wo, 0);
}

static double flops(const Model *m, const Layer *l) {
    return (double)l->conv.k * l->conv.k * slot_numel(&m->slots[l->out]);
}

/* 2x2 windows at stride 2 over even planes (every CIFAR network's pool) have their own kernels, whose backward
 * also writes every input gradient element (so the model can skip zeroing it). */
static int is_2x2(const Layer *l) {
    const ConvDims *d = &l->conv;
    return d->k == 2 && d->stride == 2 && d->h % 2 == 0 && d->w % 2 == 0;
}

static int backward_sets(const Layer *l) { return is_2x2(l); }

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    const ConvDims *d = &l->conv;
    const size_t planes = (size_t)d->ci * m->batch;
    if (is_2x2(l)) maxpool2_forward(m->slots[l->out].x, m->slots[l->in].x, planes, d->h, d->w);
    else maxpool_forward(m->slots[l->out].x, m->slots[l->in].x, planes, d->h, d->w, d->k, d->stride);
}

static void backward(Model *m, Layer *l, int set) {
    const ConvDims *d = &l->conv;
    const Slot *si = &m->slots[l->in], *so = &m->slots[l->out];
    const size_t planes = (size_t)d->ci * m->batch;
    if (!si->dx) return;
    if (is_2x2(l)) (set ? maxpool2_backward_set : maxpool2_backward)(si->dx, so->dx, si->x, so->x, planes, d->h, d->w);
    else maxpool_backward(si->dx, so->dx, si->x, so->x, planes, d->h, d->w, d->k, d->stride);
}

const LayerOps layer_maxpool = {.kind = "maxpool", .keys = keys, .build = build, .forward = forward,
                                .backward = backward, .backward_sets = backward_sets, .flops = flops};
