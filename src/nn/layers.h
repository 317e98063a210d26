/* Layer kernels. Conventions (llm.c style):
 *  - arguments are outputs first, then inputs, then sizes;
 *  - backward ACCUMULATES into its gradient outputs (d-inputs and d-parameters); callers zero them;
 *  - a NULL d-input means "not needed" (e.g. the network input);
 *  - *_set variants write the d-input instead of adding to it (d-parameters still accumulate): the model uses
 *    them when the layer is the only reader of its input, which saves zeroing and re-reading that buffer.
 * Layouts: 4-D activations are channel-major "CNHW" ([C][N][H][W]) so one GEMM covers the whole batch and a
 * channel's values are contiguous for batch norm; 2-D activations are "NF" ([N][F]) as in PyTorch.
 * Parameter layouts match PyTorch: conv weight [Co][Ci][k][k], linear weight [O][I].
 * Layers know nothing of files, MPI or the model graph. */
#ifndef SWAP_LAYERS_H
#define SWAP_LAYERS_H
#include <stddef.h>

typedef struct {
    int ci, co, k, stride, pad;
    int h, w, ho, wo; /* input and output spatial size */
} ConvDims;

void conv_dims_init(ConvDims *d, int ci, int co, int k, int stride, int pad, int h, int w);
/* Images per im2col chunk so the column scratch stays under col_cap floats. */
int conv_chunk(const ConvDims *d, int n, size_t col_cap);
/* out: [co][n][ho][wo]; in: [ci][n][h][w]; weight: [co][ci][k][k]; bias: [co] or NULL;
 * col: scratch of >= ci*k*k * chunk*ho*wo floats.
 * keep (keep_bytes): where a training forward leaves its input as the kernels read it, so the backward of the
 * same step does not convert `in` again (the same bits either way). It is used when keep_bytes >=
 * conv2d_keep_bytes(d, n) > 0; NULL in an eval forward, and in the backward unless the forward of this `in` was
 * given it. */
void conv2d_forward(float *out, const float *in, const float *weight, const float *bias, float *col,
                    const ConvDims *d, int n, int chunk, void *keep, size_t keep_bytes);
void conv2d_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                     const float *weight, float *col, const ConvDims *d, int n, int chunk, const void *keep,
                     size_t keep_bytes);
void conv2d_backward_set(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                         const float *weight, float *col, const ConvDims *d, int n, int chunk, const void *keep,
                         size_t keep_bytes);
/* 0 when the kernels for this shape and batch keep nothing (im2col+gemm, or layouts that differ). */
size_t conv2d_keep_bytes(const ConvDims *d, int n);
/* Which convolution kernels run: oneDNN (the default when the build has it: Winograd on 3x3 stride-1 layers from
 * 16 channels where the CPU has a kernel for it, direct elsewhere; layouts are converted inside the layer, col is
 * then unused), oneDNN's direct kernels only, or im2col + GEMM. CONV_AUTO takes SWAP_CONV=onednn|direct|gemm
 * from the environment, else oneDNN if available. Process-wide; set it before building models. */
typedef enum { CONV_AUTO, CONV_GEMM, CONV_ONEDNN, CONV_DIRECT } ConvImpl;
void conv2d_set_impl(ConvImpl impl);
ConvImpl conv2d_impl(void); /* the implementation in effect (never CONV_AUTO) */
/* Arithmetic precision of the convolutions, process-wide like conv2d_set_impl (set it before building models).
 * PREC_FP32 (default): everything fp32. PREC_BF16: conv2d_forward/backward round their input, weights and output
 * gradient to bf16, multiply in bf16 and accumulate and write in fp32 (oneDNN's direct kernels; Winograd and
 * im2col+gemm have no bf16 form). Every other layer, the parameters, the gradients the callers see, the
 * optimizer and the loss stay fp32; linear layers stay fp32 too (the classifiers of cnn and resnet9 are under
 * 0.1% of a step's FLOPs). Signatures do not change: tensors outside the layer are fp32 in both precisions. */
typedef enum { PREC_FP32, PREC_BF16 } Precision;
/* Fails (one line, naming the missing instruction set) for PREC_BF16 on a CPU or build without native bf16
 * convolutions, or with SWAP_CONV=gemm. */
void nn_set_precision(Precision p);
Precision nn_precision(void);
const char *nn_precision_name(Precision p); /* "fp32" / "bf16", the config and checkpoint spelling */
/* 0 and *p set for "fp32" or "bf16", else -1. */
int nn_precision_parse(const char *s, Precision *p);
/* NULL when this CPU and build run bf16 convolutions natively, else what is missing (for messages and skips). */
const char *nn_bf16_missing(void);
/* Profiling: CPU seconds (summed over threads) that conv2d_forward/backward spent on this shape and batch since
 * conv2d_profile_enable, by part: the forward, backward-data and backward-weights kernels, and the layout work
 * around them (CNHW <-> blocked reorders, bf16 rounding, weight reorders, the weight-gradient slot sums). All zero
 * for the im2col+gemm path, which is not broken down. */
enum { CONV_T_FWD, CONV_T_BWD_DATA, CONV_T_BWD_WEIGHTS, CONV_T_LAYOUT, CONV_T_N };
/* Ablation, for swap-bench --ablate only: what a step would cost without a part of it. NN_ABLATE_LAYOUT skips the
 * activation reorders around the oneDNN convolution kernels (input, output, output gradient, input gradient; the
 * weight reorders and slot sums stay), NN_ABLATE_BN skips batch norm forward and backward (with the ReLU fused into
 * it). The kernels then read stale buffers, so every result is wrong: it measures an upper bound on what keeping
 * activations in the kernels' layout, or a free batch norm, could save. Never set in training. */
enum { NN_ABLATE_LAYOUT = 1, NN_ABLATE_BN = 2 };
void nn_set_ablation(int flags);
int nn_ablation(void);
void conv2d_profile_enable(void);
void conv2d_profile(const ConvDims *d, int n, double t[CONV_T_N]);
/* GFLOP per process-CPU-second of a size^3 oneDNN matmul with bf16 (or fp32) sources on the engine's threads, the
 * machine's bf16 peak for swap-bench --profile; *wall gets GFLOP per wall second. 0 without oneDNN. */
double nn_matmul_peak_gflops(int bf16, int size, double *wall);
/* Build the kernels for this shape and batch now (outside training steps); otherwise the first call does. */
void conv2d_prepare(const ConvDims *d, int n);
/* What conv2d_forward/backward run for this shape and batch: "onednn:<fwd>/<bwd data>/<bwd weights>" with
 * oneDNN's implementation names, or "im2col+gemm". The string is overwritten by the next call. */
const char *conv2d_kernel(const ConvDims *d, int n);

/* Batch norm over CNHW with per-channel planes of m = n*h*w values (PyTorch BatchNorm2d semantics).
 * Train mode normalizes with the biased batch variance, stores mean and 1/std in save_mean/save_rstd for
 * backward, and blends the unbiased variance into the running statistics with `momentum`
 * (momentum < 0 means cumulative average: factor 1/(count+1), as torch.optim.swa_utils.update_bn). */
void batchnorm_forward_train(float *out, float *save_mean, float *save_rstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma, const float *beta,
                             int c, size_t m, float momentum, float eps);
void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, int c, size_t m, float eps);
void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *gamma, const float *save_mean, const float *save_rstd, int c, size_t m);
void batchnorm_backward_set(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                            const float *gamma, const float *save_mean, const float *save_rstd, int c, size_t m);

/* BN followed by ReLU in one pass: out = max(bn(in), 0). The BN output itself is never stored; backward takes
 * the gradient w.r.t. the ReLU output and masks it where bn(in) > 0, recomputed from in, gamma, beta and the saved
 * statistics exactly as the forward computed it (the ReLU output is not read). Same results as the two layers
 * separately. */
void batchnorm_relu_forward_train(float *out, float *save_mean, float *save_rstd, float *running_mean,
                                  float *running_var, const float *in, const float *gamma, const float *beta,
                                  int c, size_t m, float momentum, float eps);
void batchnorm_relu_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, int c, size_t m, float eps);
void batchnorm_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                             const float *gamma, const float *beta, const float *save_mean, const float *save_rstd,
                             int c, size_t m);
void batchnorm_relu_backward_set(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                 const float *gamma, const float *beta, const float *save_mean,
                                 const float *save_rstd, int c, size_t m);

void relu_forward(float *out, const float *in, size_t n);
void relu_backward(float *din, const float *dout, const float *out, size_t n);

/* 2x2 max pool, stride 2, over planes of h x w (h, w even); planes = c*n. */
void maxpool2_forward(float *out, const float *in, size_t planes, int h, int w);
void maxpool2_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                       int w);
void maxpool2_backward_set(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                           int w);

/* k x k windows at stride s, no padding, output (h-k)/s+1 per side (pool2d.c); backward accumulates. */
void maxpool_forward(float *out, const float *in, size_t planes, int h, int w, int k, int s);
void maxpool_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int h, int w,
                      int k, int s);
void avgpool_forward(float *out, const float *in, size_t planes, int h, int w, int k, int s);
void avgpool_backward(float *din, const float *dout, size_t planes, int h, int w, int k, int s);

/* Global pools: in CNHW [c][n][hw] -> out NF [n][c]. */
void global_avgpool_forward(float *out, const float *in, int c, int n, int hw);
void global_avgpool_backward(float *din, const float *dout, int c, int n, int hw);
void global_maxpool_forward(float *out, const float *in, int c, int n, int hw);
void global_maxpool_backward(float *din, const float *dout, const float *in, const float *out, int c, int n,
                             int hw);

/* Flatten CNHW [c][n][hw] -> NF [n][c*hw] in PyTorch's (c, h, w) feature order. */
void flatten_forward(float *out, const float *in, int c, int n, int hw);
void flatten_backward(float *din, const float *dout, int c, int n, int hw);

/* out [n][o] = in [n][i] * weight[o][i]^T + bias[o] (bias may be NULL). */
void linear_forward(float *out, const float *in, const float *weight, const float *bias, int n, int i, int o);
void linear_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                     const float *weight, int n, int i, int o);

void add_forward(float *out, const float *a, const float *b, size_t n);
/* da += dout (da = dout when set_a), the same for db; NULL: not needed. */
void add_backward(float *da, float *db, const float *dout, size_t n, int set_a, int set_b);

void scale_forward(float *out, const float *in, float s, size_t n);
void scale_backward(float *din, const float *dout, float s, size_t n);

/* Softmax cross-entropy with label smoothing eps (PyTorch CrossEntropyLoss(label_smoothing=eps)), mean over
 * the n rows. probs [n][k] is saved for backward. Returns the loss. */
float xent_forward(float *probs, const float *logits, const int *labels, int n, int k, float smoothing);
/* dlogits += dloss * (probs - target) / n */
void xent_backward(float *dlogits, const float *probs, const int *labels, int n, int k, float smoothing,
                   float dloss);

#endif
