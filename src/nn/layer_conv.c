/* conv: { "conv", out = 64, k = 3, stride = 1, pad = (k-1)/2, bias = true } -> Conv2d(in, out, k, stride, pad).
 * The kernels (oneDNN Winograd/direct or im2col + GEMM) are conv2d_forward/backward's choice. */
#include "nn/layer.h"

extern const LayerOps layer_conv;

static const char *const keys[] = {"out", "k", "stride", "pad", "bias", NULL};

static int build(Build *b, const cJSON *spec, int in) {
    const Slot s = b->m->slots[in];
    int out, k, stride, pad, bias;
    if (build_int(b, spec, "out", BUILD_REQUIRED, 1, 65536, &out) < 0 || build_int(b, spec, "k", 3, 1, 64, &k) < 0 ||
        build_int(b, spec, "stride", 1, 1, 64, &stride) < 0 || build_int(b, spec, "pad", (k - 1) / 2, 0, 64, &pad) < 0 ||
        build_bool(b, spec, "bias", 1, &bias) < 0)
        return -1;
    if (s.nf) return build_fail(b, "needs an image input (channels x height x width), got %d flat features", s.c);
    if (k > s.h + 2 * pad || k > s.w + 2 * pad) {
        if (pad) return build_fail(b, "k=%d is larger than the %dx%d input padded by %d", k, s.h, s.w, pad);
        return build_fail(b, "k=%d is larger than the %dx%d input", k, s.h, s.w);
    }
    Layer *l = build_layer(b, "", in);
    conv_dims_init(&l->conv, s.c, out, k, stride, pad, s.h, s.w);
    const int fan_in = s.c * k * k, wshape[4] = {out, s.c, k, k}, bshape[1] = {out};
    l->p0 = build_tensor(b, l, "weight", "conv2d", "OIHW", 1, 0, fan_in, 4, wshape);
    if (bias) l->p1 = build_tensor(b, l, "bias", "conv2d", "O", 1, 1, fan_in, 1, bshape);
    return build_output(b, l, out, l->conv.ho, l->conv.wo, 0);
}

static size_t scratch(const Layer *l, int n) {
    const int chunk = conv_chunk(&l->conv, n, LAYER_COL_CAP_FLOATS);
    return (size_t)l->conv.ci * l->conv.k * l->conv.k * chunk * l->conv.ho * l->conv.wo;
}

static void prepare(const Layer *l, int n) { conv2d_prepare(&l->conv, n); }

/* The input as the kernels read it (blocked, bf16 in bf16), kept from a training forward for the backward. */
static size_t state(const Layer *l, int n) { return (conv2d_keep_bytes(&l->conv, n) + 3) / 4; }

static void forward(Model *m, Layer *l, int train) {
    const int n = m->batch, chunk = conv_chunk(&l->conv, n, LAYER_COL_CAP_FLOATS);
    conv2d_forward(m->slots[l->out].x, m->slots[l->in].x, layer_param(m, l->p0), layer_param(m, l->p1), m->col,
                   &l->conv, n, chunk, train ? l->state : NULL, 4 * state(l, m->cap_batch));
}

static void backward(Model *m, Layer *l, int set) {
    const int n = m->batch, chunk = conv_chunk(&l->conv, n, LAYER_COL_CAP_FLOATS);
    (set ? conv2d_backward_set : conv2d_backward)(m->slots[l->in].dx, layer_grad(m, l->p0), layer_grad(m, l->p1),
                                                  m->slots[l->out].dx, m->slots[l->in].x, layer_param(m, l->p0),
                                                  m->col, &l->conv, n, chunk, l->state, 4 * state(l, m->cap_batch));
}

/* the input gradient is written, not added to, when the conv is its only reader: no zeroing pass before it */
static int backward_sets(const Layer *l) {
    (void)l;
    return 1;
}

static double flops(const Model *m, const Layer *l) {
    (void)m;
    const ConvDims *d = &l->conv;
    return 2.0 * d->co * d->ci * d->k * d->k * d->ho * d->wo;
}

static const char *kernel(const Layer *l, int n) { return conv2d_kernel(&l->conv, n); }

const LayerOps layer_conv = {.kind = "conv", .keys = keys, .build = build, .scratch = scratch, .prepare = prepare,
                             .state = state, .forward = forward, .backward = backward,
                             .backward_sets = backward_sets, .flops = flops, .kernel = kernel};
