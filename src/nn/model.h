/* A model is a list of layers over numbered activation slots (a DAG: residual adds read two slots), a
 * parameter store, and one arena holding every activation, activation gradient and scratch buffer for a
 * given batch size. Planning happens once per batch size; forward/backward allocate nothing. What each layer
 * does is its kind's business (nn/layer.h); a model is built by interpreting a network spec (model_build). */
#ifndef SWAP_MODEL_H
#define SWAP_MODEL_H
#include <stdint.h>

#include "core/arena.h"
#include "core/params.h"
#include "nn/layers.h"

struct LayerOps;

typedef struct Layer {
    const struct LayerOps *ops; /* the layer's kind (nn/layer.h) */
    char name[64];     /* tensor-name prefix: "layer1.conv" */
    int in, in2, out;  /* slot ids (in2: a residual add's body) */
    int p0, p1;        /* views: weight|gamma, bias|beta (-1 if none) */
    int rmean, rvar;   /* BN running statistics views */
    ConvDims conv;     /* conv geometry; pools use it for their window (ci = co = channels); BN: co = channels */
    int fin, fout;     /* linear */
    float scale;
    float *state;      /* the kind's per-batch state (ops->state floats, in the arena) */
    int fused;         /* BN: also applies the next layer's ReLU, writing its output; ReLU: done by the BN */
} Layer;

typedef struct {
    int c, h, w;      /* per-sample shape; h = w = 1 for 2-D */
    int nf;           /* 1: NF layout [n][c]; 0: CNHW */
    int producer;     /* layer index, -1 for the input */
    int last_consumer;
    size_t grad_off;  /* offset (per sample) of the gradient block; SIZE_MAX if none */
    int readers;      /* layers reading this slot (a layer reading it twice counts twice) */
    int elided;       /* output of a BN fused with its ReLU: never stored, no buffers */
    float *x, *dx;
} Slot;

typedef struct {
    int in_c, in_h, in_w, classes;
    int width;        /* the `width` setting the presets were expanded with (recorded in checkpoints) */
    float label_smoothing;
} ModelSpec;

/* Backward runs from the last layer to the first and parameters are laid out in layer order, so the gradients
 * that are final form a growing tail of the flat buffer. The trainer uses this to start reducing that tail
 * while earlier layers still compute; the model knows nothing of what the callback does. */
typedef void (*GradReadyFn)(void *ctx, size_t from);

typedef struct Model {
    char name[64];    /* the network's name ("resnet9", or the user's) */
    char *arch;       /* canonical JSON of the resolved network spec (what checkpoints store) */
    ModelSpec spec;
    Layer *layers;
    int n_layers, cap_layers;
    Slot *slots;
    int n_slots, cap_slots;
    ParamStore ps;
    float bn_momentum; /* 0.1; negative: cumulative average (BN recompute) */
    float bn_eps;
    long bn_count;     /* batches seen in cumulative mode */
    /* planned for up to `cap_batch` samples; `batch` is the active size (<= cap_batch) */
    int batch, cap_batch;
    size_t grad_per_sample;
    float *grad_base;
    Arena arena;
    float *col;
    size_t col_cap;
    int *labels;
    float *probs;
    int last_train;
    /* optional: told during backward that ps.grad[from, n_params) is final (see model_set_grad_ready) */
    GradReadyFn grad_ready;
    void *grad_ready_ctx;
    /* optional per-layer process CPU time (seconds, accumulated) for swap-bench --profile; NULL when off; and the
     * wall time of forward + backward, which against the CPU time shows where threads wait (serial parts) */
    double *prof_fwd, *prof_bwd, *prof_wall;
} Model;

/* Build the network a spec describes (JSON: {"name": ..., "layers": [...]}, docs/networks.md) for this input
 * shape and class count. NULL with a one-line error in err (naming the layer's path) when the spec is wrong;
 * max_floats > 0 refuses networks with more parameters and buffers than that before allocating them.
 * Presets by name are built by model_create (config/presets.h). */
Model *model_build(const char *spec_json, const ModelSpec *spec, double max_floats, char *err, size_t errcap);
void model_free(Model *m);
/* PyTorch-default initialization from our seeded RNG. */
void model_init(Model *m, uint64_t seed);
/* The distinct convolution kernels the model runs at its planned batch, in layer order, comma-separated
 * (conv2d_kernel's names; "" for a model without convolutions or never planned for a batch). */
void model_conv_kernels(const Model *m, char *buf, size_t cap);
/* Set the active batch size. Within the planned capacity this only re-points buffers (no allocation), so
 * evaluation can run a short last batch; a larger n re-plans the arena (outside training steps). */
void model_set_batch(Model *m, int n);
float *model_input(Model *m); /* [in_c][n][in_h][in_w] */
int *model_labels(Model *m);  /* [n] */
/* Forward over the planned batch. Returns the mean loss when with_loss (labels must be filled), else 0. */
float model_forward(Model *m, int train, int with_loss);
/* Accumulate parameter gradients into ps.grad for loss scaled by dloss (after a forward with loss). */
void model_backward(Model *m, float dloss);
const float *model_logits(const Model *m); /* [n][classes] */
int model_count_correct(const Model *m);   /* against model_labels */
int model_predicted(const Model *m, int b); /* argmax of sample b's logits (the first on ties) */
/* Reset BN running statistics to (0, 1) and switch BN to cumulative averaging (update_bn semantics). */
void model_bn_recompute_begin(Model *m);
void model_bn_recompute_end(Model *m);
int model_has_bn(const Model *m);
/* Call fn(ctx, from) during model_backward after each layer with trainable parameters: every gradient in
 * ps.grad[from, n_params) is then final. fn = NULL turns it off. Fails if the layout is not in layer order. */
void model_set_grad_ready(Model *m, GradReadyFn fn, void *ctx);
/* Start accumulating per-layer forward/backward process CPU time (allocates once, outside any step). */
void model_profile_enable(Model *m);
/* FLOPs of one training step per sample (forward + backward), for throughput reports. */
double model_train_flops_per_sample(const Model *m);
/* Parameters and buffers (floats) of the whole model, and of one layer (its tensors). */
size_t model_layer_params(const Model *m, int layer);
/* The kind of one layer ("conv", "bn", ...). */
const char *model_layer_kind(const Model *m, int layer);
/* Forward FLOPs per image of one layer. */
double model_layer_flops(const Model *m, int layer);

/* Builders used by the layer kinds (nn/layer.h) */
int model_add_slot(Model *m, int c, int h, int w, int nf);
Layer *model_add_layer(Model *m, const struct LayerOps *ops, const char *name, int in);

#endif
