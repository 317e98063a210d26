/* maxpool: { "maxpool", k = 2, stride = k } -> MaxPool2d(k, stride), no padding, floor output size. */
#include "nn/layer.h"

extern const LayerOps layer_maxpool;

static const char *const keys[] = {"k", "stride", NULL};


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

const LayerOps layer_maxpool = {.kind = "maxpool", .keys = keys, .build = build_pool_window, .forward = forward,
                                .backward = backward, .backward_sets = backward_sets, .flops = pool_window_flops};
