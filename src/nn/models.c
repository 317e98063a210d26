/* The named models. Each builder reads like the architecture it builds; names follow PyTorch-style module
 * paths so checkpoints and the PyTorch twins line up tensor by tensor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/parallel.h"

const char *const model_names[] = {"mlp", "cnn", "resnet9", NULL};

static void consume(Model *m, int slot, int layer) {
    if (m->slots[slot].last_consumer < layer) m->slots[slot].last_consumer = layer;
}

static int finish(Model *m, Layer *l, int c, int h, int w, int nf) {
    int idx = (int)(l - m->layers);
    int out = model_add_slot(m, c, h, w, nf);
    l = &m->layers[idx]; /* model_add_slot does not move layers, but keep the pointer honest */
    l->out = out;
    m->slots[out].producer = idx;
    consume(m, l->in, idx);
    if (l->in2 >= 0) consume(m, l->in2, idx);
    return out;
}

static int conv(Model *m, const char *name, int x, int co, int k, int pad, int bias) {
    const Slot s = m->slots[x];
    Layer *l = model_add_layer(m, L_CONV, name, x);
    int idx = m->n_layers - 1;
    conv_dims_init(&l->conv, s.c, co, k, 1, pad, s.h, s.w);
    int fan_in = s.c * k * k;
    int wshape[4] = {co, s.c, k, k}, bshape[1] = {co};
    l->p0 = ps_declare(&m->ps, &(TensorDecl){.layer = name, .leaf = "weight", .layer_type = "conv2d", .layout = "OIHW",
                                             .layer_index = idx, .trainable = 1, .fan_in = fan_in, .ndim = 4,
                                             .shape = wshape});
    if (bias)
        l->p1 = ps_declare(&m->ps, &(TensorDecl){.layer = name, .leaf = "bias", .layer_type = "conv2d", .layout = "O",
                                                 .layer_index = idx, .trainable = 1, .no_decay = 1, .fan_in = fan_in,
                                                 .ndim = 1, .shape = bshape});
    return finish(m, l, co, l->conv.ho, l->conv.wo, 0);
}

static int bn(Model *m, const char *name, int x) {
    const Slot s = m->slots[x];
    Layer *l = model_add_layer(m, L_BN, name, x);
    int idx = m->n_layers - 1;
    l->conv.co = s.c;
    int shape[1] = {s.c};
    /* affine parameters are trained without decay; the running statistics are buffers */
    TensorDecl d = {.layer = name, .layer_type = "batchnorm2d", .layout = "C", .layer_index = idx, .trainable = 1,
                    .no_decay = 1, .ndim = 1, .shape = shape};
    d.leaf = "weight";
    l->p0 = ps_declare(&m->ps, &d);
    d.leaf = "bias";
    l->p1 = ps_declare(&m->ps, &d);
    d.trainable = 0;
    d.leaf = "running_mean";
    l->rmean = ps_declare(&m->ps, &d);
    d.leaf = "running_var";
    l->rvar = ps_declare(&m->ps, &d);
    return finish(m, l, s.c, s.h, s.w, 0);
}

static int simple(Model *m, LayerKind kind, const char *name, int x) {
    const Slot s = m->slots[x];
    Layer *l = model_add_layer(m, kind, name, x);
    switch (kind) {
    case L_MAXPOOL2: return finish(m, l, s.c, s.h / 2, s.w / 2, 0);
    case L_GAVGPOOL:
    case L_GMAXPOOL: return finish(m, l, s.c, 1, 1, 1);
    case L_FLATTEN: return finish(m, l, s.c * s.h * s.w, 1, 1, 1);
    default: return finish(m, l, s.c, s.h, s.w, s.nf);
    }
}

static int linear(Model *m, const char *name, int x, int out, int bias) {
    const Slot s = m->slots[x];
    xCheck(s.nf, "linear needs a 2-D input");
    Layer *l = model_add_layer(m, L_LINEAR, name, x);
    int idx = m->n_layers - 1;
    l->fin = s.c;
    l->fout = out;
    int wshape[2] = {out, s.c}, bshape[1] = {out};
    l->p0 = ps_declare(&m->ps, &(TensorDecl){.layer = name, .leaf = "weight", .layer_type = "linear", .layout = "OI",
                                             .layer_index = idx, .trainable = 1, .fan_in = s.c, .ndim = 2,
                                             .shape = wshape});
    if (bias)
        l->p1 = ps_declare(&m->ps, &(TensorDecl){.layer = name, .leaf = "bias", .layer_type = "linear", .layout = "O",
                                                 .layer_index = idx, .trainable = 1, .no_decay = 1, .fan_in = s.c,
                                                 .ndim = 1, .shape = bshape});
    return finish(m, l, out, 1, 1, 1);
}

static int add(Model *m, const char *name, int a, int b) {
    const Slot s = m->slots[a];
    Layer *l = model_add_layer(m, L_ADD, name, a);
    l->in2 = b;
    return finish(m, l, s.c, s.h, s.w, s.nf);
}

static int scale(Model *m, const char *name, int x, float s) {
    Layer *l = model_add_layer(m, L_SCALE, name, x);
    l->scale = s;
    return finish(m, l, m->slots[x].c, 1, 1, 1);
}

/* conv3x3 (pad 1, no bias) -> BN -> ReLU, as "<prefix>.conv", "<prefix>.bn", "<prefix>.relu" */
static int conv_bn(Model *m, const char *prefix, int x, int co) {
    char n1[48], n2[48], n3[48];
    snprintf(n1, sizeof n1, "%s.conv", prefix);
    snprintf(n2, sizeof n2, "%s.bn", prefix);
    snprintf(n3, sizeof n3, "%s.relu", prefix);
    x = conv(m, n1, x, co, 3, 1, 0);
    x = bn(m, n2, x);
    return simple(m, L_RELU, n3, x);
}

static int pool(Model *m, const char *prefix, int x) {
    char n[48];
    snprintf(n, sizeof n, "%s.pool", prefix);
    return simple(m, L_MAXPOOL2, n, x);
}

/* x + res2(res1(x)) */
static int residual(Model *m, const char *prefix, int x) {
    char a[48], b[48], s[48];
    snprintf(a, sizeof a, "%s.res1", prefix);
    snprintf(b, sizeof b, "%s.res2", prefix);
    snprintf(s, sizeof s, "%s.add", prefix);
    int c = m->slots[x].c;
    int y = conv_bn(m, b, conv_bn(m, a, x, c), c);
    return add(m, s, x, y);
}

static void build_mlp(Model *m, int x) {
    x = simple(m, L_FLATTEN, "flatten", x);
    x = simple(m, L_RELU, "relu1", linear(m, "fc1", x, 512, 1));
    x = simple(m, L_RELU, "relu2", linear(m, "fc2", x, 256, 1));
    linear(m, "fc3", x, m->spec.classes, 1);
}

static void build_cnn(Model *m, int x) {
    x = pool(m, "layer1", conv_bn(m, "layer1", x, 32));
    x = pool(m, "layer2", conv_bn(m, "layer2", x, 64));
    x = conv_bn(m, "layer3", x, 128);
    x = simple(m, L_GAVGPOOL, "gap", x);
    linear(m, "fc", x, m->spec.classes, 1);
}

static void build_resnet9(Model *m, int x) {
    const int w = m->spec.width;
    x = conv_bn(m, "prep", x, w);
    x = residual(m, "layer1", pool(m, "layer1", conv_bn(m, "layer1", x, 2 * w)));
    x = pool(m, "layer2", conv_bn(m, "layer2", x, 4 * w));
    x = residual(m, "layer3", pool(m, "layer3", conv_bn(m, "layer3", x, 8 * w)));
    x = simple(m, L_GMAXPOOL, "gmp", x);
    x = linear(m, "fc", x, m->spec.classes, 0);
    scale(m, "scale", x, 0.125f);
}

Model *model_create(const char *name, const ModelSpec *spec) {
    int known = -1;
    for (int i = 0; model_names[i]; i++)
        if (strcmp(name, model_names[i]) == 0) known = i;
    if (known < 0) swap_fail("unknown model '%s' (valid: mlp, cnn, resnet9)", name);
    if (spec->in_c < 1 || spec->in_h < 1 || spec->in_w < 1 || spec->classes < 2)
        swap_fail("model '%s': invalid input shape %dx%dx%d or class count %d", name, spec->in_c, spec->in_h,
                  spec->in_w, spec->classes);
    if (known == 2 && (spec->width < 1 || spec->width > 4096))
        swap_fail("model 'resnet9': width must be in [1, 4096], got %d", spec->width);
    if (known == 1 && (spec->in_h % 4 || spec->in_w % 4))
        swap_fail("model 'cnn': input %dx%d must be divisible by 4", spec->in_h, spec->in_w);
    if (known == 2 && (spec->in_h % 8 || spec->in_w % 8))
        swap_fail("model 'resnet9': input %dx%d must be divisible by 8", spec->in_h, spec->in_w);

    engine_blas_single(); /* results independent of the thread count, whoever set up the threads */
    Model *m = xCalloc(1, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->spec = *spec;
    m->bn_momentum = 0.1f;
    m->bn_eps = 1e-5f;
    ps_init(&m->ps);
    int x = model_add_slot(m, spec->in_c, spec->in_h, spec->in_w, 0);
    if (known == 0) build_mlp(m, x);
    else if (known == 1) build_cnn(m, x);
    else build_resnet9(m, x);
    ps_finalize(&m->ps);
    return m;
}

void model_init(Model *m, uint64_t seed) {
    Rng r;
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        float *p = ps_tensor(&m->ps, i);
        /* one stream per tensor, so adding a layer does not change the others' initial values */
        rng_stream(&r, seed, RNG_INIT, (uint64_t)i, 0);
        float fill = 0.0f, bound = 0.0f;
        if (!strcmp(v->layer_type, "batchnorm2d"))
            fill = (!strcmp(v->leaf, "weight") || !strcmp(v->leaf, "running_var")) ? 1.0f : 0.0f;
        else /* kaiming_uniform(a=sqrt(5)) and PyTorch's bias init share the bound 1/sqrt(fan_in) */
            bound = 1.0f / sqrtf((float)v->fan_in);
        for (size_t j = 0; j < v->numel; j++) p[j] = bound > 0 ? (2.0f * rng_uniform(&r) - 1.0f) * bound : fill;
    }
    memset(m->ps.mom, 0, m->ps.n_params * sizeof(float));
    memset(m->ps.grad, 0, m->ps.n_params * sizeof(float));
}
