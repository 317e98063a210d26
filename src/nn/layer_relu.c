/* relu: { "relu" } -> ReLU. When the BN before it runs it (fused), this layer does nothing itself. */
#include "nn/layer.h"

extern const LayerOps layer_relu;

static int build(Build *b, const cJSON *spec, int in) {
    (void)spec;
    const Slot s = b->m->slots[in];
    return build_output(b, build_layer(b, "", in), s.c, s.h, s.w, s.nf);
}

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    if (!l->fused) relu_forward(m->slots[l->out].x, m->slots[l->in].x, slot_numel(&m->slots[l->in]) * m->batch);
}

static void backward(Model *m, Layer *l, int set) {
    (void)set;
    const Slot *si = &m->slots[l->in], *so = &m->slots[l->out];
    if (si->dx && !l->fused) relu_backward(si->dx, so->dx, so->x, slot_numel(si) * m->batch);
}

static double flops(const Model *m, const Layer *l) { return (double)slot_numel(&m->slots[l->in]); }

const LayerOps layer_relu = {.kind = "relu", .build = build, .forward = forward, .backward = backward, .flops = flops};
