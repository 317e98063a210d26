/* avgpool: { "avgpool", k = 2, stride = k } -> AvgPool2d(k, stride), no padding, floor output size. */
#include "nn/layer.h"

extern const LayerOps layer_avgpool;

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

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    const ConvDims *d = &l->conv;
    avgpool_forward(m->slots[l->out].x, m->slots[l->in].x, (size_t)d->ci * m->batch, d->h, d->w, d->k, d->stride);
}

static void backward(Model *m, Layer *l, int set) {
    (void)set;
    const ConvDims *d = &l->conv;
    const Slot *si = &m->slots[l->in];
    if (si->dx) avgpool_backward(si->dx, m->slots[l->out].dx, (size_t)d->ci * m->batch, d->h, d->w, d->k, d->stride);
}

const LayerOps layer_avgpool = {.kind = "avgpool", .keys = keys, .build = build, .forward = forward,
                                .backward = backward, .flops = flops};
