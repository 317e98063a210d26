/* Building a model by interpreting a network spec: the JSON form of an experiment's resolved `model`
 * ({"name": ..., "layers": [{"kind": "conv", "out": 64, ...}, ...]}, docs/networks.md). The walk is generic:
 * each layer object is handed to its kind's build() (nn/layer.h), which reads its keys, declares its tensors and
 * infers its output shape. The model keeps the canonical JSON of what it built (every key resolved, fixed key
 * order) so checkpoints can carry the architecture and rebuild it exactly. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "nn/layer.h"
#include "nn/parallel.h"

int build_fail(Build *b, const char *fmt, ...) {
    if (b->failed) return -1;
    b->failed = 1;
    int used = snprintf(b->err, b->errcap, "%s: %s%s", b->path, b->kind ? b->kind : "", b->kind ? ": " : "");
    if (used < 0 || (size_t)used >= b->errcap) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err + used, b->errcap - (size_t)used, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_int(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 2147483648.0;
}

int build_int(Build *b, const cJSON *spec, const char *key, int def, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    if (!v || cJSON_IsNull(v)) {
        if (def == BUILD_REQUIRED) return build_fail(b, "missing key '%s' (an integer)", key);
        *out = def;
    } else {
        if (!is_int(v)) return build_fail(b, "'%s' must be an integer", key);
        *out = (int)v->valuedouble;
    }
    if (*out < lo || *out > hi) return build_fail(b, "%s=%d is out of range [%d, %d]", key, *out, lo, hi);
    cJSON_AddNumberToObject(b->canon, key, *out);
    return 0;
}

int build_bool(Build *b, const cJSON *spec, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    if (!v || cJSON_IsNull(v)) *out = def;
    else if (!cJSON_IsBool(v)) return build_fail(b, "'%s' must be true or false", key);
    else *out = cJSON_IsTrue(v);
    cJSON_AddBoolToObject(b->canon, key, *out);
    return 0;
}

int build_num(Build *b, const cJSON *spec, const char *key, double def, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    if (!v || cJSON_IsNull(v)) {
        if (isnan(def)) return build_fail(b, "missing key '%s' (a number)", key);
        *out = def;
    } else if (!cJSON_IsNumber(v)) {
        return build_fail(b, "'%s' must be a number", key);
    } else {
        *out = v->valuedouble;
    }
    if (!(*out >= lo && *out <= hi)) return build_fail(b, "%s=%g is out of range [%g, %g]", key, *out, lo, hi);
    cJSON_AddNumberToObject(b->canon, key, *out);
    return 0;
}

const char *build_shape(const Model *m, int slot, char *buf, size_t cap) {
    const Slot *s = &m->slots[slot];
    if (s->nf) snprintf(buf, cap, "%d", s->c);
    else snprintf(buf, cap, "%dx%dx%d", s->c, s->h, s->w);
    return buf;
}

/* The layer's name is the canonical object's "name" (set before build() runs). */
static const char *current_name(const Build *b) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(b->canon, "name");
    return cJSON_IsString(n) ? n->valuestring : "";
}

Layer *build_layer(Build *b, const char *suffix, int in) {
    char name[96];
    snprintf(name, sizeof name, "%s%s", current_name(b), suffix);
    return model_add_layer(b->m, b->ops, name, in);
}

int build_pool_window(Build *b, const cJSON *spec, int in) {
    const Slot s = b->m->slots[in];
    int k = 2, stride = 2; /* set by build_int; initialized for the optimizer's sake */
    if (build_int(b, spec, "k", 2, 1, 64, &k) < 0 || build_int(b, spec, "stride", k, 1, 64, &stride) < 0) return -1;
    if (s.nf) return build_fail(b, "needs an image input (channels x height x width), got %d flat features", s.c);
    if (k > s.h || k > s.w) return build_fail(b, "k=%d is larger than the %dx%d input", k, s.h, s.w);
    Layer *l = build_layer(b, "", in);
    conv_dims_init(&l->conv, s.c, s.c, k, stride, 0, s.h, s.w);
    return build_output(b, l, s.c, l->conv.ho, l->conv.wo, 0);
}

double pool_window_flops(const Model *m, const Layer *l) {
    return (double)l->conv.k * l->conv.k * slot_numel(&m->slots[l->out]);
}

int build_output(Build *b, Layer *l, int c, int h, int w, int nf) {
    Model *m = b->m;
    const int idx = (int)(l - m->layers);
    if (c < 1 || h < 1 || w < 1) return build_fail(b, "the output would be empty (%dx%dx%d)", c, h, w);
    const int out = model_add_slot(m, c, h, w, nf);
    l = &m->layers[idx];
    l->out = out;
    m->slots[out].producer = idx;
    if (m->slots[l->in].last_consumer < idx) m->slots[l->in].last_consumer = idx;
    if (l->in2 >= 0 && m->slots[l->in2].last_consumer < idx) m->slots[l->in2].last_consumer = idx;
    return out;
}

int build_tensor(Build *b, Layer *l, const char *leaf, const char *layer_type, const char *layout, int trainable,
                 int no_decay, int fan_in, int ndim, const int *shape) {
    return ps_declare(&b->m->ps, &(TensorDecl){.layer = l->name, .leaf = leaf, .layer_type = layer_type,
                                               .layout = layout, .layer_index = (int)(l - b->m->layers),
                                               .trainable = trainable, .no_decay = no_decay, .fan_in = fan_in,
                                               .ndim = ndim, .shape = shape});
}

static int valid_name(const char *s) {
    if (!*s || strlen(s) > 48 || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..")) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '.'))
            return 0;
    return 1;
}

/* One layer object: kind, name, keys, then its kind's build(). */
static int build_one(Build *b, const cJSON *spec, cJSON *canon_list, int x) {
    if (!cJSON_IsObject(spec)) return build_fail(b, "a layer must be a table whose first element is its kind");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(spec, "kind");
    if (!cJSON_IsString(k)) return build_fail(b, "a layer must be a table whose first element is its kind");
    const LayerOps *ops = layer_ops_find(k->valuestring);
    if (!ops) return build_fail(b, "unknown kind '%.40s' (known: %s)", k->valuestring, layer_kind_list());
    b->kind = ops->kind;
    b->ops = ops;
    for (const cJSON *it = spec->child; it; it = it->next) {
        if (!strcmp(it->string, "kind") || !strcmp(it->string, "name")) continue;
        int ok = 0;
        for (const char *const *q = ops->keys; q && *q; q++) ok |= !strcmp(*q, it->string);
        if (!ok) {
            char known[200] = "";
            for (const char *const *q = ops->keys; q && *q; q++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "", *q);
            return build_fail(b, "unknown key '%.40s' (%s takes %s)", it->string, ops->kind,
                              known[0] ? known : "no keys besides name");
        }
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(spec, "name");
    const char *name = b->tensor_base;
    if (nm && !cJSON_IsNull(nm)) {
        if (!cJSON_IsString(nm)) return build_fail(b, "'name' must be a string");
        name = nm->valuestring;
    }
    if (!valid_name(name))
        return build_fail(b, "name '%.60s' must be 1-48 characters of A-Z a-z 0-9 _ . (dot-separated)", name);
    for (int i = 0; i < b->m->n_layers; i++)
        if (!strcmp(b->m->layers[i].name, name))
            return build_fail(b, "name '%s' is used by another layer", name);
    cJSON *canon = cJSON_CreateObject();
    cJSON_AddItemToArray(canon_list, canon);
    cJSON_AddStringToObject(canon, "kind", ops->kind);
    cJSON_AddStringToObject(canon, "name", name);
    b->canon = canon;
    const int out = ops->build(b, spec, x);
    if (out < 0) return build_fail(b, "cannot build the layer");
    return out;
}

int build_sequence(Build *b, const cJSON *spec, const char *key, int x) {
    const cJSON *list = spec ? cJSON_GetObjectItemCaseSensitive(spec, key) : NULL;
    cJSON *canon_list = cJSON_CreateArray();
    cJSON_AddItemToObject(b->canon, key, canon_list);
    if (!list || cJSON_IsNull(list)) return x;
    /* an empty Lua table encodes as {} */
    if (cJSON_IsObject(list) && !list->child) return x;
    if (!cJSON_IsArray(list)) return build_fail(b, "'%s' must be a list of layers", key);
    if (b->depth >= 16) return build_fail(b, "layers nested more than 16 deep");
    const Build saved = *b;
    int i = 0;
    b->depth++;
    for (const cJSON *it = list->child; it && x >= 0; it = it->next, i++) {
        /* paths deeper than the buffers are cut short (messages only; names are checked separately) */
        int np = snprintf(b->path, sizeof b->path, "%.200s.%.16s[%d]", saved.path, key, i + 1);
        int nt = snprintf(b->tensor_base, sizeof b->tensor_base, "%.40s%s%.8s.%d", saved.tensor_base,
                          saved.tensor_base[0] ? "." : "", key, i);
        (void)np;
        (void)nt;
        b->kind = NULL;
        x = build_one(b, it, canon_list, x);
    }
    /* restore where we are for the caller's own messages (the first error is kept) */
    memcpy(b->path, saved.path, sizeof b->path);
    memcpy(b->tensor_base, saved.tensor_base, sizeof b->tensor_base);
    b->kind = saved.kind;
    b->ops = saved.ops;
    b->canon = saved.canon;
    b->depth = saved.depth;
    return x;
}

Model *model_build(const char *spec_json, const ModelSpec *spec, double max_floats, char *err, size_t errcap) {
    err[0] = '\0';
    cJSON *root = cJSON_Parse(spec_json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errcap, "model: the network spec is not a JSON object");
        return NULL;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (spec->in_c < 1 || spec->in_h < 1 || spec->in_w < 1 || spec->classes < 2 || spec->in_c > 65536 ||
        spec->in_h > 65536 || spec->in_w > 65536 || (double)spec->in_c * spec->in_h * spec->in_w > 1e9) {
        snprintf(err, errcap, "model: invalid input shape %dx%dx%d or class count %d", spec->in_c, spec->in_h,
                 spec->in_w, spec->classes);
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_IsString(nm) || !valid_name(nm->valuestring)) {
        snprintf(err, errcap, "model.name: expected 1-48 characters of A-Z a-z 0-9 _ .");
        cJSON_Delete(root);
        return NULL;
    }
    engine_blas_single(); /* results independent of the thread count, whoever set up the threads */
    Model *m = xCalloc(1, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", nm->valuestring);
    m->spec = *spec;
    m->bn_momentum = 0.1f;
    m->bn_eps = 1e-5f;
    ps_init(&m->ps);
    int x = model_add_slot(m, spec->in_c, spec->in_h, spec->in_w, 0);

    cJSON *canon = cJSON_CreateObject();
    cJSON_AddStringToObject(canon, "name", m->name);
    cJSON *in = cJSON_AddArrayToObject(canon, "input");
    cJSON_AddItemToArray(in, cJSON_CreateNumber(spec->in_c));
    cJSON_AddItemToArray(in, cJSON_CreateNumber(spec->in_h));
    cJSON_AddItemToArray(in, cJSON_CreateNumber(spec->in_w));
    cJSON_AddNumberToObject(canon, "classes", spec->classes);
    Build b = {.m = m, .path = "model", .canon = canon, .err = err, .errcap = errcap};
    for (const cJSON *it = root->child; it; it = it->next)
        if (strcmp(it->string, "name") && strcmp(it->string, "layers") && strcmp(it->string, "input") &&
            strcmp(it->string, "classes"))
            build_fail(&b, "unknown key '%.40s' (a network has name and layers)", it->string);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!b.failed && (!cJSON_IsArray(layers) || !layers->child))
        build_fail(&b, "'layers' must be a non-empty list of layers");
    if (!b.failed) x = build_sequence(&b, root, "layers", x);
    if (!b.failed) {
        const Slot *o = &m->slots[x];
        char sh[64];
        int n_top = cJSON_GetArraySize(layers);
        snprintf(b.path, sizeof b.path, "model.layers[%d]", n_top);
        b.kind = NULL;
        if (!o->nf || o->c != spec->classes)
            build_fail(&b, "the last layer's output is %s, but the loss needs %d outputs (one per class)",
                       build_shape(m, x, sh, sizeof sh), spec->classes);
    }
    size_t total = 0;
    for (int v = 0; v < m->ps.n_views; v++) total += m->ps.views[v].numel;
    if (!b.failed && max_floats > 0 && (double)total > max_floats) {
        snprintf(err, errcap, "model: %zu parameters and buffers, more than the %.0f allowed here", total, max_floats);
        b.failed = 1;
    }
    cJSON_Delete(root);
    if (b.failed) {
        cJSON_Delete(canon);
        model_free(m);
        return NULL;
    }
    m->arch = cJSON_PrintUnformatted(canon);
    cJSON_Delete(canon);
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
