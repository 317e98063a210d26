/* Parameter store: one flat float32 buffer for every parameter and buffer of a model, one for gradients and
 * one for momentum, with a table of named, shaped views in network order (llm.c style). Trainable tensors
 * occupy data[0, n_params) so that gradients, momentum, the optimizer loop and the MPI gradient sum each
 * touch one contiguous range; BN running statistics follow in data[n_params, n_total). */
#ifndef SWAP_PARAMS_H
#define SWAP_PARAMS_H
#include <stddef.h>

#define PS_MAX_DIMS 4
#define PS_NAME_LEN 64

typedef struct {
    char name[PS_NAME_LEN];  /* full name, e.g. "layer1.conv.weight" */
    char layer[PS_NAME_LEN]; /* owning layer, e.g. "layer1.conv" */
    char leaf[24];           /* "weight", "bias", "running_mean", "running_var" */
    const char *layer_type;  /* "conv2d", "batchnorm2d", "linear" */
    const char *layout;      /* memory layout of the tensor: "OIHW", "OI", "C" */
    int layer_index;         /* index of the owning layer in the model */
    int ndim;
    int shape[PS_MAX_DIMS];
    size_t numel;
    size_t offset;  /* into data (and into grad/mom when trainable) */
    int trainable;  /* 0 for BN running statistics */
    int no_decay;   /* BN affine parameters and biases: may be exempt from weight decay */
    int fan_in;     /* for PyTorch-style initialization */
} TensorView;

typedef struct {
    TensorView *views;
    int n_views, cap_views;
    size_t n_params;  /* trainable floats */
    size_t n_total;   /* trainable + buffers */
    float *data;      /* [n_total] */
    float *grad;      /* [n_params] */
    float *mom;       /* [n_params] */
} ParamStore;

/* A tensor to declare, with designated initializers so that every flag reads by name at the call site. */
typedef struct {
    const char *layer, *leaf;      /* "layer1.conv", "weight" */
    const char *layer_type, *layout;
    int layer_index;
    int trainable;  /* 0: a buffer (BN running statistics), kept out of gradients and momentum */
    int no_decay;   /* exempt from weight decay when the optimizer is told so */
    int fan_in;
    int ndim;
    const int *shape;
} TensorDecl;

void ps_init(ParamStore *ps);
/* Declare a tensor; offsets are assigned by ps_finalize. Returns the view index. */
int ps_declare(ParamStore *ps, const TensorDecl *d);
/* ps_declare with the fields in TensorDecl's order (kept for existing callers). */
int ps_add(ParamStore *ps, const char *layer, const char *leaf, const char *layer_type, const char *layout,
           int layer_index, int trainable, int no_decay, int fan_in, int ndim, const int *shape);
/* Assign offsets (trainable first, each group in declaration order) and allocate zeroed buffers. */
void ps_finalize(ParamStore *ps);
void ps_free(ParamStore *ps);
int ps_find(const ParamStore *ps, const char *name); /* -1 if absent */
float *ps_tensor(const ParamStore *ps, int view);    /* data pointer of a view */
/* "[64, 3, 3, 3]" */
void ps_shape_str(const TensorView *v, char *buf, size_t n);

#endif
