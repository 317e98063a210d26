/* linear: { "linear", out = 10, bias = true } -> Linear(features, out) on a flat input. */
#include "nn/layer.h"

extern const LayerOps layer_linear;

static const char *const keys[] = {"out", "bias", NULL};

static int build(Build *b, const cJSON *spec, int in) {
    const Slot s = b->m->slots[in];
    int out, bias;
    if (build_int(b, spec, "out", BUILD_REQUIRED, 1, 1 << 24, &out) < 0 || build_bool(b, spec, "bias", 1, &bias) < 0)
        return -1;
    if (!s.nf)
        return build_fail(b, "needs a flat input, got %dx%dx%d (put a flatten or a global pool before it)", s.c, s.h,
                          s.w);
    Layer *l = build_layer(b, "", in);
    l->fin = s.c;
    l->fout = out;
    const int wshape[2] = {out, s.c}, bshape[1] = {out};
    l->p0 = build_tensor(b, l, "weight", "linear", "OI", 1, 0, s.c, 2, wshape);
    if (bias) l->p1 = build_tensor(b, l, "bias", "linear", "O", 1, 1, s.c, 1, bshape);
    return build_output(b, l, out, 1, 1, 1);
}

static void forward(Model *m, Layer *l, int train) {
    (void)train;
    linear_forward(m->slots[l->out].x, m->slots[l->in].x, layer_param(m, l->p0), layer_param(m, l->p1), m->batch,
                   l->fin, l->fout);
}

static void backward(Model *m, Layer *l, int set) {
    (void)set;
    linear_backward(m->slots[l->in].dx, layer_grad(m, l->p0), layer_grad(m, l->p1), m->slots[l->out].dx,
                    m->slots[l->in].x, layer_param(m, l->p0), m->batch, l->fin, l->fout);
}

static double flops(const Model *m, const Layer *l) { (void)m; return 2.0 * l->fin * l->fout; }

const LayerOps layer_linear = {.kind = "linear", .keys = keys, .build = build, .forward = forward,
                               .backward = backward, .flops = flops};
