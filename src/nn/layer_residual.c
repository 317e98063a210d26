/* residual: { "residual", body = { ... }, shortcut = { ... } } -> body(x) + shortcut(x); the shortcut is the
 * identity when absent or empty. The body and shortcut layers are ordinary layers of the model (built here,
 * in that order); this kind adds the sum, under the residual's own name. */
#include "nn/layer.h"

extern const LayerOps layer_residual;

static const char *const keys[] = {"body", "shortcut", NULL};

static int build(Build *b, const cJSON *spec, int in) {
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(spec, "body");
    if (!cJSON_IsArray(body) || !body->child) return build_fail(b, "'body' must be a non-empty list of layers");
    const int y = build_sequence(b, spec, "body", in);
    if (y < 0) return -1;
    const int s = build_sequence(b, spec, "shortcut", in);
    if (s < 0) return -1;
    const Slot *sy = &b->m->slots[y], *ss = &b->m->slots[s];
    if (sy->c != ss->c || sy->h != ss->h || sy->w != ss->w || sy->nf != ss->nf) {
        char a[64], c[64];
        return build_fail(b, "the body gives %s but the shortcut gives %s (they are added)",
                          build_shape(b->m, y, a, sizeof a), build_shape(b->m, s, c, sizeof c));
    }
    Layer *l = build_layer(b, "", s);
    l->in2 = y;
    return build_output(b, l, sy->c, sy->h, sy->w, sy->nf);
}

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    add_forward(m->slots[l->out].x, m->slots[l->in].x, m->slots[l->in2].x, slot_numel(&m->slots[l->in]) * m->batch);
}

static void backward(Model *m, Layer *l, int set) {
    add_backward(m->slots[l->in].dx, m->slots[l->in2].dx, m->slots[l->out].dx,
                 slot_numel(&m->slots[l->in]) * m->batch, set & LAYER_SET_IN, set & LAYER_SET_IN2);
}

/* the sum is the last reader of both its inputs, so it starts both gradients: it writes them, no zeroing first */
static int backward_sets(const Layer *l) {
    (void)l;
    return 1;
}

static double flops(const Model *m, const Layer *l) { return (double)slot_numel(&m->slots[l->out]); }

const LayerOps layer_residual = {.kind = "residual", .keys = keys, .build = build, .forward = forward,
                                 .backward = backward, .backward_sets = backward_sets, .flops = flops};
