#include "core/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void ps_init(ParamStore *ps) { memset(ps, 0, sizeof *ps); }

int ps_declare(ParamStore *ps, const TensorDecl *d) {
    const char *layer = d->layer, *leaf = d->leaf;
    const int ndim = d->ndim;
    xCheck(ps->data == NULL, "tensor declared after ps_finalize");
    xCheck(ndim >= 1 && ndim <= PS_MAX_DIMS, "tensor rank");
    if (ps->n_views == ps->cap_views) {
        ps->cap_views = ps->cap_views ? 2 * ps->cap_views : 32;
        ps->views = xRealloc(ps->views, (size_t)ps->cap_views * sizeof *ps->views);
    }
    TensorView *v = &ps->views[ps->n_views];
    memset(v, 0, sizeof *v);
    int n = snprintf(v->name, sizeof v->name, "%s.%s", layer, leaf);
    xCheck(n > 0 && (size_t)n < sizeof v->name, "tensor name too long");
    snprintf(v->layer, sizeof v->layer, "%s", layer);
    snprintf(v->leaf, sizeof v->leaf, "%s", leaf);
    v->layer_type = d->layer_type;
    v->layout = d->layout;
    v->layer_index = d->layer_index;
    v->trainable = d->trainable;
    v->no_decay = d->no_decay;
    v->fan_in = d->fan_in;
    v->ndim = ndim;
    v->numel = 1;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = d->shape[i];
        v->numel *= (size_t)d->shape[i];
    }
    return ps->n_views++;
}

int ps_add(ParamStore *ps, const char *layer, const char *leaf, const char *layer_type, const char *layout,
           int layer_index, int trainable, int no_decay, int fan_in, int ndim, const int *shape) {
    return ps_declare(ps, &(TensorDecl){.layer = layer, .leaf = leaf, .layer_type = layer_type, .layout = layout,
                                        .layer_index = layer_index, .trainable = trainable, .no_decay = no_decay,
                                        .fan_in = fan_in, .ndim = ndim, .shape = shape});
}

void ps_finalize(ParamStore *ps) {
    size_t off = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < ps->n_views; i++)
            if (ps->views[i].trainable == pass) {
                ps->views[i].offset = off;
                off += ps->views[i].numel;
                if (pass == 1) ps->n_params = off;
            }
    ps->n_total = off;
    ps->data = xCalloc(ps->n_total, sizeof(float));
    ps->grad = xCalloc(ps->n_params, sizeof(float));
    ps->mom = xCalloc(ps->n_params, sizeof(float));
}

void ps_free(ParamStore *ps) {
    free(ps->views);
    free(ps->data);
    free(ps->grad);
    free(ps->mom);
    memset(ps, 0, sizeof *ps);
}

int ps_find(const ParamStore *ps, const char *name) {
    for (int i = 0; i < ps->n_views; i++)
        if (strcmp(ps->views[i].name, name) == 0) return i;
    return -1;
}

float *ps_tensor(const ParamStore *ps, int view) { return ps->data + ps->views[view].offset; }

void ps_shape_str(const TensorView *v, char *buf, size_t n) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < v->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? ", " : "", v->shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}
