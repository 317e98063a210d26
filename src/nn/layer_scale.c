/* scale: { "scale", by = 0.125 } -> multiply by a constant (ResNet-9's logit scaling). */
#include <math.h>

#include "nn/layer.h"

extern const LayerOps layer_scale;

static const char *const keys[] = {"by", NULL};

static int build(Build *b, const cJSON *spec, int in) {
    double by;
    if (build_num(b, spec, "by", NAN, -1e30, 1e30, &by) < 0) return -1;
    const Slot s = b->m->slots[in];
    Layer *l = build_layer(b, "", in);
    l->scale = (float)by;
    return build_output(b, l, s.c, s.h, s.w, s.nf);
}

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    scale_forward(m->slots[l->out].x, m->slots[l->in].x, l->scale, slot_numel(&m->slots[l->in]) * m->batch);
}

static void backward(Model *m, Layer *l, int set) {
    (void)set;
    const Slot *si = &m->slots[l->in];
    if (si->dx) scale_backward(si->dx, m->slots[l->out].dx, l->scale, slot_numel(si) * m->batch);
}

static double flops(const Model *m, const Layer *l) { return (double)slot_numel(&m->slots[l->in]); }

const LayerOps layer_scale = {.kind = "scale", .keys = keys, .build = build, .forward = forward, .backward = backward,
                              .flops = flops};
