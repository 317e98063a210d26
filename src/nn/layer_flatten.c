/* flatten: { "flatten" } -> an image becomes c*h*w features in PyTorch's (c, h, w) order. */
#include "nn/layer.h"

extern const LayerOps layer_flatten;

static int build(Build *b, const cJSON *spec, int in) {
    (void)spec;
    const Slot s = b->m->slots[in];
    if (s.nf) return build_fail(b, "the input is already flat (%d features)", s.c);
    return build_output(b, build_layer(b, "", in), s.c * s.h * s.w, 1, 1, 1);
}

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    const Slot *si = &m->slots[l->in];
    flatten_forward(m->slots[l->out].x, si->x, si->c, m->batch, si->h * si->w);
}

static void backward(Model *m, Layer *l, int set) {
    (void)set;
    const Slot *si = &m->slots[l->in];
    if (si->dx) flatten_backward(si->dx, m->slots[l->out].dx, si->c, m->batch, si->h * si->w);
}

static double flops(const Model *m, const Layer *l) { (void)m; (void)l; return 0.0; }

const LayerOps layer_flatten = {.kind = "flatten", .build = build, .forward = forward, .backward = backward,
                                .flops = flops};
