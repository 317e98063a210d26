/* global_maxpool: { "global_maxpool" } -> the max over each channel's plane; an image becomes c features. */
#include "nn/layer.h"

extern const LayerOps layer_global_maxpool;

static int build(Build *b, const cJSON *spec, int in) {
    (void)spec;
    const Slot s = b->m->slots[in];
    if (s.nf) return build_fail(b, "needs an image input (channels x height x width), got %d flat features", s.c);
    return build_output(b, build_layer(b, "", in), s.c, 1, 1, 1);
}

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    const Slot *si = &m->slots[l->in];
    global_maxpool_forward(m->slots[l->out].x, si->x, si->c, m->batch, si->h * si->w);
}

static double flops(const Model *m, const Layer *l) { return (double)slot_numel(&m->slots[l->in]); }

static void backward(Model *m, Layer *l, int set) {
    (void)set;
    const Slot *si = &m->slots[l->in], *so = &m->slots[l->out];
    if (si->dx) global_maxpool_backward(si->dx, so->dx, si->x, so->x, si->c, m->batch, si->h * si->w);
}

const LayerOps layer_global_maxpool = {.kind = "global_maxpool", .build = build, .forward = forward,
                                       .backward = backward, .flops = flops};
