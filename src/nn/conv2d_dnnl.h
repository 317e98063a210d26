/* conv2d through oneDNN (internal to the conv layer; conv2d.c dispatches here). */
#ifndef SWAP_CONV2D_DNNL_H
#define SWAP_CONV2D_DNNL_H
#include "nn/layers.h"

typedef struct ConvPlan ConvPlan;

/* 1 when the build has oneDNN. */
int conv_dnnl_available(void);
/* NULL when oneDNN runs bf16 natively on this CPU, else the instruction set it lacks (a phrase for messages). */
const char *conv_dnnl_bf16_missing(void);
/* The plan for a layer shape at batch n, built on first use and kept for the process (primitives, layouts and
 * buffers are made once, outside training steps). wino = 0 keeps to the direct kernels; otherwise Winograd runs
 * where it pays and oneDNN has it. bf16 = 1: the kernels read bf16 copies of the input, weights and output
 * gradient (rounded to nearest even in the layout reorders) and write fp32 (direct kernels only). NULL if oneDNN is missing or cannot run this shape. */
ConvPlan *conv_dnnl_plan(const ConvDims *d, int n, int wino, int bf16);
/* out [co][n][ho][wo] = conv(in [ci][n][h][w], weight [co][ci][k][k]) (no bias; the caller adds it).
 * keep (keep_bytes, see conv_dnnl_keep_bytes): where the forward leaves its input in the kernels' layout for the
 * backward-weights kernel of the same step, which then reads it instead of converting `in` again; NULL: not
 * kept (an eval forward). */
void conv_dnnl_forward(ConvPlan *p, float *out, const float *in, const float *weight, void *keep,
                       size_t keep_bytes);
/* din += dconv/din (din = dconv/din when set; skipped when din is NULL), dweight += dconv/dweight. keep: what
 * the forward of `in` left there (the same buffer and size), or NULL. */
void conv_dnnl_backward(ConvPlan *p, float *din, float *dweight, const float *dout, const float *in,
                        const float *weight, const void *keep, size_t keep_bytes, int set);
/* Bytes a forward at batch n keeps (0: the plan cannot keep its input, e.g. the backward-weights kernel wants it
 * in another layout than the forward). */
size_t conv_dnnl_keep_bytes(const ConvPlan *p, int n);
/* Profiling (swap-bench --profile): once enabled, every plan adds the thread CPU seconds its calls spend in each
 * part (CONV_T_* in layers.h) to t[]; conv_dnnl_profile_get reads them. */
void conv_dnnl_profile_enable(void);
void conv_dnnl_profile_get(const ConvPlan *p, double *t);
/* GFLOP per process-CPU-second of one large oneDNN matmul (size^3, bf16 or fp32 sources, fp32 output) on the
 * engine's threads: the measured peak swap-bench --profile compares bf16 convolutions with. *wall_gflops gets
 * the rate per wall-clock second. 0 without oneDNN or without a kernel for it. */
double conv_dnnl_matmul_gflops(int bf16, int size, double *wall_gflops);
/* Whether the moves between CNHW and nChw16c use reorder16.c (1, the default, where the CPU has AVX-512) or
 * oneDNN's reorders (0); on < 0 only asks. Returns the previous setting. The two give the same bits
 * (tests/unit/test_reorder16.c switches between them). */
int conv_dnnl_own_reorders(int on);
/* How many of the plan's chunk tensors (input, output and gradients, as each kernel reads or writes them) are
 * nChw16c and moved by reorder16.c: 0 on a CPU without AVX-512 or for layouts it does not cover. */
int conv_dnnl_own_roles(const ConvPlan *p);
/* oneDNN's implementation names, forward / backward-data / backward-weights, e.g. "brgconv:avx512_core". */
const char *conv_dnnl_kernel(const ConvPlan *p);

#endif
