/* Layer kinds as data. Each kind lives in its own file (layer_<kind>.c) and is described by one LayerOps table;
 * src/nn/layer_registry.c lists them. A model is built by interpreting a network spec (the canonical JSON of
 * the resolved `model` of an experiment, docs/networks.md): each layer object names its kind, and the kind's
 * build() reads its keys, declares its tensors, checks and infers its output shape, and records its resolved
 * keys (defaults filled in) in the canonical spec. Nothing outside these files knows what a kind does.
 *
 * Errors in a spec are one line naming the layer by its path in the experiment ("model.layers[4].body[1]: conv:
 * k=7 is larger than the 4x4 input"); building returns them instead of exiting, because specs also come from
 * checkpoint files. */
#ifndef SWAP_LAYER_H
#define SWAP_LAYER_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "nn/model.h"

/* Building one network: the model being built, where we are in the spec, and the first error. */
typedef struct {
    Model *m;
    char path[256];      /* "model.layers[4].body[1]" */
    char tensor_base[64]; /* default tensor-name prefix of the layer being built: "layers.3.body.0" */
    const char *kind;
    const struct LayerOps *ops; /* of the layer being built: build_layer gives it to the layers it adds */
    cJSON *canon;        /* the canonical object of the layer being built */
    char *err;
    size_t errcap;
    int failed;
    int depth;
} Build;

typedef struct LayerOps {
    const char *kind;
    const char *const *keys; /* keys the kind accepts besides "kind" and "name", NULL-terminated */
    /* Read the layer's keys from spec, add its layer(s) reading slot `in` (declare tensors, infer and check the
     * output shape), write its resolved keys into b->canon. Returns the output slot, or -1 after build_fail. */
    int (*build)(Build *b, const cJSON *spec, int in);
    /* Optional. Floats of shared scratch the layer needs at batch n (the largest over layers is allocated). */
    size_t (*scratch)(const Layer *l, int n);
    /* Optional. Floats of private state kept from forward to backward at batches up to n, placed in l->state. */
    size_t (*state)(const Layer *l, int n);
    /* Optional. Called once the arena is planned for batch n (build kernels outside training steps). */
    void (*prepare)(const Layer *l, int n);
    void (*forward)(Model *m, Layer *l, int train);
    /* set: bit 0 (LAYER_SET_IN), the input gradient may be written rather than added to (see backward_sets);
     * bit 1 (LAYER_SET_IN2), the same for the second input. */
    void (*backward)(Model *m, Layer *l, int set);
    /* Optional. 1 if backward writes every element of its input gradients when asked to (set). */
    int (*backward_sets)(const Layer *l);
    /* Optional. 1 if this layer runs `next` (which reads only its output) inside its own pass. */
    int (*fuses)(const Layer *l, const Layer *next);
    /* Forward FLOPs per image (a multiply-add counts 2). */
    double (*flops)(const Model *m, const Layer *l);
    /* Optional. The kernel the layer runs at batch n, for provenance ("" if nothing to say). */
    const char *(*kernel)(const Layer *l, int n);
} LayerOps;

enum { LAYER_SET_IN = 1, LAYER_SET_IN2 = 2 };

/* The registry (layer_registry.c): every kind, NULL-terminated, and lookup by name (NULL if unknown). */
extern const LayerOps *const layer_kinds[];
const LayerOps *layer_ops_find(const char *kind);
/* "conv, bn, relu, ..." for messages */
const char *layer_kind_list(void);

/* --- for the kinds' build() --- */
/* Record "path: kind: message" (the first error wins) and return -1. */
int build_fail(Build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Integer key: absent -> def (required when def == BUILD_REQUIRED); must be in [lo, hi]. Writes the resolved
 * value into the canonical object. 0 or -1. */
#define BUILD_REQUIRED (-2147483647 - 1)
int build_int(Build *b, const cJSON *spec, const char *key, int def, int lo, int hi, int *out);
int build_bool(Build *b, const cJSON *spec, const char *key, int def, int *out);
int build_num(Build *b, const cJSON *spec, const char *key, double def, double lo, double hi, double *out);
/* A new layer of the model reading slot `in`, named b's current layer name plus `suffix` ("" for the layer
 * itself). */
Layer *build_layer(Build *b, const char *suffix, int in);
/* The layer's output slot of the given shape (nf: 1 for a flat [n][c] vector, 0 for a CNHW image). */
int build_output(Build *b, Layer *l, int c, int h, int w, int nf);
/* maxpool and avgpool: keys k and stride (default k), a window no larger than the image input, no padding,
 * floor output size; the geometry goes in l->conv (ci = co = channels). FLOPs: one per window element. */
int build_pool_window(Build *b, const cJSON *spec, int in);
double pool_window_flops(const Model *m, const Layer *l);
/* Declare a tensor "<layer name>.<leaf>" of the layer; returns the view index. */
int build_tensor(Build *b, Layer *l, const char *leaf, const char *layer_type, const char *layout, int trainable,
                 int no_decay, int fan_in, int ndim, const int *shape);
/* Build the list spec[key] (absent: empty) as a chain from slot x; its canonical form goes to b->canon[key].
 * Returns the output slot (x itself for an empty list) or -1. */
int build_sequence(Build *b, const cJSON *spec, const char *key, int x);
/* Shape text "64x8x8" or "512" for messages */
const char *build_shape(const Model *m, int slot, char *buf, size_t cap);

/* --- for forward()/backward() --- */
static inline size_t slot_numel(const Slot *s) { return (size_t)s->c * s->h * s->w; }
static inline float *layer_param(const Model *m, int view) { return view < 0 ? 0 : m->ps.data + m->ps.views[view].offset; }
static inline float *layer_grad(const Model *m, int view) { return view < 0 ? 0 : m->ps.grad + m->ps.views[view].offset; }

/* im2col scratch is capped so memory stays bounded for large batches. */
#define LAYER_COL_CAP_FLOATS ((size_t)8 << 20)

#endif
