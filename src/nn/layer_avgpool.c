/* avgpool: { "avgpool", k = 2, stride = k } -> AvgPool2d(k, stride), no padding, floor output size. */
#include "nn/layer.h"

extern const LayerOps layer_avgpool;

static const char *const keys[] = {"k", "stride", NULL};


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

const LayerOps layer_avgpool = {.kind = "avgpool", .keys = keys, .build = build_pool_window, .forward = forward,
                                .backward = backward, .flops = pool_window_flops};
