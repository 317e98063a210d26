/* conv2d: oneDNN's kernels (conv2d_dnnl.c) when the build has oneDNN, else im2col + one SGEMM per chunk
 * of images. With CNHW activations the output of a chunk is a column block of the [co][n*ho*wo] output matrix,
 * so the im2col path needs no transposes anywhere. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/zero.h"
#include "nn/conv2d_dnnl.h"
#include "nn/layers.h"
#include "nn/parallel.h"

static ConvImpl g_impl = CONV_AUTO;
static Precision g_prec = PREC_FP32;
static void gemm_backward(float *din, float *dweight, const float *dout, const float *in, const float *weight,
                          float *col, const ConvDims *d, int n, int chunk);

void conv2d_set_impl(ConvImpl impl) { g_impl = impl; }

ConvImpl conv2d_impl(void) {
    if (g_impl == CONV_AUTO) {
        const char *e = getenv("SWAP_CONV");
        if (e && !strcmp(e, "gemm")) g_impl = CONV_GEMM;
        else if (e && !strcmp(e, "direct") && conv_dnnl_available()) g_impl = CONV_DIRECT;
        else if (e && *e && strcmp(e, "onednn") && strcmp(e, "auto") && strcmp(e, "direct"))
            swap_fail("SWAP_CONV: expected onednn, direct, gemm or auto, got '%s'", e);
        else g_impl = conv_dnnl_available() ? CONV_ONEDNN : CONV_GEMM;
    }
    if ((g_impl == CONV_ONEDNN || g_impl == CONV_DIRECT) && !conv_dnnl_available()) g_impl = CONV_GEMM;
    return g_impl;
}

const char *nn_bf16_missing(void) { return conv_dnnl_bf16_missing(); }

void nn_set_precision(Precision p) {
    if (p == PREC_BF16) {
        const char *missing = nn_bf16_missing();
        if (missing) swap_fail("precision bf16: this CPU lacks %s; use precision = \"fp32\"", missing);
        if (conv2d_impl() == CONV_GEMM)
            swap_fail("precision bf16: SWAP_CONV=gemm computes in fp32 only; unset SWAP_CONV or use onednn/direct");
    }
    g_prec = p;
}

Precision nn_precision(void) { return g_prec; }

static int g_ablate;
void nn_set_ablation(int flags) { g_ablate = flags; }
int nn_ablation(void) { return g_ablate; }

const char *nn_precision_name(Precision p) { return p == PREC_BF16 ? "bf16" : "fp32"; }

int nn_precision_parse(const char *s, Precision *p) {
    if (!strcmp(s, "fp32")) *p = PREC_FP32;
    else if (!strcmp(s, "bf16")) *p = PREC_BF16;
    else return -1;
    return 0;
}

/* NULL: this layer runs im2col + GEMM (chosen so, or oneDNN cannot do the shape). In bf16 a shape oneDNN cannot
 * run is an error rather than a silent fp32 fallback. */
static ConvPlan *dnnl_plan(const ConvDims *d, int n) {
    const ConvImpl impl = conv2d_impl();
    if (impl == CONV_GEMM) return NULL;
    ConvPlan *p = conv_dnnl_plan(d, n, impl == CONV_ONEDNN, g_prec == PREC_BF16);
    if (!p && g_prec == PREC_BF16)
        swap_fail("precision bf16: oneDNN has no bf16 kernel for a %dx%d convolution %d->%d channels on %dx%d "
                  "(stride %d)", d->k, d->k, d->ci, d->co, d->h, d->w, d->stride);
    return p;
}

void conv2d_prepare(const ConvDims *d, int n) { (void)dnnl_plan(d, n); }

void conv2d_profile_enable(void) { conv_dnnl_profile_enable(); }

double nn_matmul_peak_gflops(int bf16, int size, double *wall) { return conv_dnnl_matmul_gflops(bf16, size, wall); }

void conv2d_profile(const ConvDims *d, int n, double t[CONV_T_N]) {
    for (int i = 0; i < CONV_T_N; i++) t[i] = 0.0;
    const ConvPlan *p = dnnl_plan(d, n);
    if (p) conv_dnnl_profile_get(p, t);
}

const char *conv2d_kernel(const ConvDims *d, int n) {
    static char buf[200];
    const ConvPlan *p = dnnl_plan(d, n);
    if (!p) return "im2col+gemm";
    snprintf(buf, sizeof buf, "onednn:%s", conv_dnnl_kernel(p));
    return buf;
}

void conv_dims_init(ConvDims *d, int ci, int co, int k, int stride, int pad, int h, int w) {
    d->ci = ci; d->co = co; d->k = k; d->stride = stride; d->pad = pad; d->h = h; d->w = w;
    d->ho = (h + 2 * pad - k) / stride + 1;
    d->wo = (w + 2 * pad - k) / stride + 1;
}

int conv_chunk(const ConvDims *d, int n, size_t col_cap) {
    size_t per_image = (size_t)d->ci * d->k * d->k * d->ho * d->wo;
    size_t c = col_cap / per_image;
    if (c < 1) c = 1;
    return c > (size_t)n ? n : (int)c;
}

/* "Same" convolutions (stride 1, output size = input size) copy a whole image plane per row of col: the
 * destination block is the source plane shifted by (ky-p, kx-p), so it is one contiguous copy whose
 * wrapped-around border columns are zeroed afterwards. Short rows (4..32 floats in ResNet-9) made the
 * row-by-row copy mostly loop overhead. */
static void im2col_same_plane(float *restrict dst, const float *restrict src, int h, int w, int dy, int dx) {
    const int oy0 = dy < 0 ? -dy : 0, oy1 = dy > 0 ? h - dy : h;
    if (oy1 <= oy0) {
        memset(dst, 0, (size_t)h * w * sizeof(float));
        return;
    }
    memset(dst, 0, (size_t)oy0 * w * sizeof(float));
    memset(dst + (size_t)oy1 * w, 0, (size_t)(h - oy1) * w * sizeof(float));
    float *d = dst + (size_t)oy0 * w;
    const long s0 = (long)(oy0 + dy) * w + dx, len = (long)(oy1 - oy0) * w, plane = (long)h * w;
    const long jlo = s0 < 0 ? -s0 : 0, jhi = s0 + len > plane ? plane - s0 : len;
    for (long j = 0; j < jlo; j++) d[j] = 0.0f;
    const float *sp = src + (s0 + jlo);
    float *dp = d + jlo;
    for (long j = 0; j < jhi - jlo; j++) dp[j] = sp[j];
    for (long j = jhi; j < len; j++) d[j] = 0.0f;
    if (dx < 0)
        for (int oy = 0; oy < oy1 - oy0; oy++)
            for (int ox = 0; ox < -dx && ox < w; ox++) d[(size_t)oy * w + ox] = 0.0f;
    if (dx > 0)
        for (int oy = 0; oy < oy1 - oy0; oy++)
            for (int ox = w - dx > 0 ? w - dx : 0; ox < w; ox++) d[(size_t)oy * w + ox] = 0.0f;
}

/* Rows r0..r1 of col [ci*k*k][ldc] (first nb*ho*wo columns) from images n0..n0+nb of in [ci][n][h][w] */
static void im2col_rows(float *col, size_t ldc, const float *in, const ConvDims *d, int n, int n0, int nb, int r0,
                        int r1) {
    const int k = d->k, ho = d->ho, wo = d->wo, h = d->h, w = d->w, s = d->stride, p = d->pad;
    const size_t cols = ldc;
    if (s == 1 && ho == h && wo == w) {
        for (int r = r0; r < r1; r++) {
            const int c = r / (k * k), ky = (r / k) % k, kx = r % k;
            for (int b = 0; b < nb; b++)
                im2col_same_plane(col + (size_t)r * cols + (size_t)b * h * w, in + ((size_t)c * n + n0 + b) * h * w,
                                  h, w, ky - p, kx - p);
        }
        return;
    }
    for (int r = r0; r < r1; r++) {
        const int c = r / (k * k), ky = (r / k) % k, kx = r % k;
        float *dst = col + (size_t)r * cols;
        for (int b = 0; b < nb; b++) {
            const float *src = in + ((size_t)c * n + n0 + b) * h * w;
            for (int oy = 0; oy < ho; oy++) {
                const int iy = oy * s - p + ky;
                float *drow = dst + ((size_t)b * ho + oy) * wo;
                if (iy < 0 || iy >= h) {
                    memset(drow, 0, (size_t)wo * sizeof(float));
                    continue;
                }
                const float *srow = src + (size_t)iy * w;
                if (s == 1) {
                    /* the valid ox range is contiguous: copy it in one go */
                    int lo = p - kx > 0 ? p - kx : 0;
                    int hi = w + p - kx < wo ? w + p - kx : wo;
                    for (int ox = 0; ox < lo; ox++) drow[ox] = 0.0f;
                    /* rows are short (tens of floats): an inline loop beats a memcpy call */
                    const int off = kx - p;
                    for (int ox = lo; ox < hi; ox++) drow[ox] = srow[ox + off];
                    for (int ox = hi > lo ? hi : lo; ox < wo; ox++) drow[ox] = 0.0f;
                } else {
                    for (int ox = 0; ox < wo; ox++) {
                        const int ix = ox * s - p + kx;
                        drow[ox] = (ix >= 0 && ix < w) ? srow[ix] : 0.0f;
                    }
                }
            }
        }
    }
}

/* din += col2im(col) for images n0..n0+nb; one thread per call, so blocks of distinct images never race. */
static void col2im_add(float *din, const float *col, const ConvDims *d, int n, int n0, int nb) {
    const int k = d->k, ho = d->ho, wo = d->wo, h = d->h, w = d->w, s = d->stride, p = d->pad;
    const size_t cols = (size_t)nb * ho * wo;
    for (int c = 0; c < d->ci; c++) {
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = col + ((size_t)(c * k + ky) * k + kx) * cols;
                for (int b = 0; b < nb; b++) {
                    float *dst = din + ((size_t)c * n + n0 + b) * h * w;
                    for (int oy = 0; oy < ho; oy++) {
                        const int iy = oy * s - p + ky;
                        if (iy < 0 || iy >= h) continue;
                        const float *srow = src + ((size_t)b * ho + oy) * wo;
                        float *drow = dst + (size_t)iy * w;
                        if (s == 1) {
                            /* valid ox are a contiguous range: a branch-free loop that vectorizes */
                            const int lo = p - kx > 0 ? p - kx : 0;
                            const int hi = w + p - kx < wo ? w + p - kx : wo;
                            const int off = kx - p;
                            for (int ox = lo; ox < hi; ox++) drow[ox + off] += srow[ox];
                        } else {
                            for (int ox = 0; ox < wo; ox++) {
                                const int ix = ox * s - p + kx;
                                if (ix >= 0 && ix < w) drow[ix] += srow[ox];
                            }
                        }
                    }
                }
            }
    }
}

/* Forward and the input gradient work on blocks of a few images whose columns fit in L2: each thread builds a
 * block's columns and multiplies them right away, instead of streaming the whole chunk's columns (often tens of
 * MB) through memory twice. A block's columns sit at the same place they would in the full chunk matrix. */
#define BLOCK_FLOATS ((size_t)96 << 10)

static int block_images(const ConvDims *d) {
    const size_t per_image = (size_t)d->ci * d->k * d->k * d->ho * d->wo;
    const size_t b = BLOCK_FLOATS / per_image;
    return b < 1 ? 1 : (int)b;
}

/* Rows of col per weight-gradient slice. Each slice re-packs the dout block (the GEMM's A operand), so slices
 * should be wide; four share out evenly over two threads, and wide layers get eight so that more threads have
 * work. The count depends on the layer only (never on the thread count), which keeps results reproducible. */
static int slice_width(int kk) {
    const int parts = kk >= 512 ? 8 : 4;
    const int w = ((kk + parts - 1) / parts + 3) / 4 * 4;
    return w < 4 ? 4 : w;
}

/* Images per weight-gradient block: the slice's columns stay within the L2 budget (GEMM depth = images*hw). */
static int dw_block_images(const ConvDims *d, int sw, int nb) {
    const size_t b = BLOCK_FLOATS / ((size_t)sw * d->ho * d->wo);
    return b < 1 ? 1 : (b > (size_t)nb ? nb : (int)b);
}

static void gemm_forward(float *out, const float *in, const float *weight, float *col, const ConvDims *d, int n,
                         int chunk) {
    const int kk = d->ci * d->k * d->k, bi = block_images(d);
    const size_t hw = (size_t)d->ho * d->wo, ld = (size_t)n * hw;
    const int nt = engine_block_threads();
    for (int n0 = 0; n0 < n; n0 += chunk) {
        const int nb = n - n0 < chunk ? n - n0 : chunk;
        const int blocks = (nb + bi - 1) / bi;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < blocks; b++) {
            const int i0 = b * bi, ib = nb - i0 < bi ? nb - i0 : bi;
            float *c = col + (size_t)i0 * kk * hw;
            im2col_rows(c, ib * hw, in, d, n, n0 + i0, ib, 0, kk);
            /* out[:, (n0+i0)*hw : +ib*hw] = W[co][kk] x c[kk][ib*hw] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->co, (int)(ib * hw), kk, 1.0f, weight, kk, c,
                        (int)(ib * hw), 0.0f, out + (size_t)(n0 + i0) * hw, (int)ld);
        }
    }
}

size_t conv2d_keep_bytes(const ConvDims *d, int n) {
    const ConvPlan *p = dnnl_plan(d, n);
    return p ? conv_dnnl_keep_bytes(p, n) : 0;
}

void conv2d_forward(float *out, const float *in, const float *weight, const float *bias, float *col,
                    const ConvDims *d, int n, int chunk, void *keep, size_t keep_bytes) {
    ConvPlan *p = dnnl_plan(d, n);
    if (p) conv_dnnl_forward(p, out, in, weight, keep, keep_bytes);
    else gemm_forward(out, in, weight, col, d, n, chunk);
    const size_t ld = (size_t)n * d->ho * d->wo;
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < d->co; o++) {
            float *row = out + (size_t)o * ld;
            for (size_t j = 0; j < ld; j++) row[j] += bias[o];
        }
    }
}

static void backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                     const float *weight, float *col, const ConvDims *d, int n, int chunk, const void *keep,
                     size_t keep_bytes, int set) {
    const size_t ld = (size_t)n * d->ho * d->wo;
    if (dbias) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < d->co; o++) {
            const float *row = dout + (size_t)o * ld;
            double acc = 0.0;
            for (size_t j = 0; j < ld; j++) acc += row[j];
            dbias[o] += (float)acc;
        }
    }
    ConvPlan *p = dnnl_plan(d, n);
    if (p) {
        conv_dnnl_backward(p, din, dweight, dout, in, weight, keep, keep_bytes, set);
        return;
    }
    if (din && set) zero_floats(din, (size_t)d->ci * n * d->h * d->w); /* col2im adds */
    gemm_backward(din, dweight, dout, in, weight, col, d, n, chunk);
}

void conv2d_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                     const float *weight, float *col, const ConvDims *d, int n, int chunk, const void *keep,
                     size_t keep_bytes) {
    backward(din, dweight, dbias, dout, in, weight, col, d, n, chunk, keep, keep_bytes, 0);
}

void conv2d_backward_set(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                         const float *weight, float *col, const ConvDims *d, int n, int chunk, const void *keep,
                         size_t keep_bytes) {
    backward(din, dweight, dbias, dout, in, weight, col, d, n, chunk, keep, keep_bytes, 1);
}

static void gemm_backward(float *din, float *dweight, const float *dout, const float *in, const float *weight,
                          float *col, const ConvDims *d, int n, int chunk) {
    const int kk = d->ci * d->k * d->k, bi = block_images(d);
    const size_t hw = (size_t)d->ho * d->wo, ld = (size_t)n * hw;
    const int nt = engine_block_threads();
    for (int n0 = 0; n0 < n; n0 += chunk) {
        const int nb = n - n0 < chunk ? n - n0 : chunk;
        const float *dchunk = dout + (size_t)n0 * hw;
        /* dW[co][kk] += sum over blocks of dout_block[co][bw*hw] x col_block^T. The kk columns of dW (rows of col)
         * are cut into fixed slices dealt to the threads: a thread builds only its slices' rows of each block's
         * columns, in L2, and adds the blocks in order. GEMM shapes depend on the layer only, so each weight
         * gradient is summed the same way whatever the thread count. */
        const int sw = slice_width(kk), slices = (kk + sw - 1) / sw;
        const int bw = dw_block_images(d, sw, nb), dblocks = (nb + bw - 1) / bw;
#pragma omp parallel num_threads(nt)
        {
            const int t = omp_get_thread_num(), T = omp_get_num_threads();
            for (int b = 0; b < dblocks; b++) {
                const int i0 = b * bw, ib = nb - i0 < bw ? nb - i0 : bw;
                /* one row stride for every block, so threads' row ranges never overlap */
                const int cols = (int)(ib * hw), ldc = (int)(bw * hw);
                for (int sl = t; sl < slices; sl += T) {
                    const int r0 = sl * sw, r1 = r0 + sw < kk ? r0 + sw : kk;
                    im2col_rows(col, (size_t)ldc, in, d, n, n0 + i0, ib, r0, r1);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->co, r1 - r0, cols, 1.0f,
                                dchunk + (size_t)i0 * hw, (int)ld, col + (size_t)r0 * ldc, ldc, 1.0f, dweight + r0,
                                kk);
                }
            }
        }
        const int blocks = (nb + bi - 1) / bi;
        if (!din) continue;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < blocks; b++) {
            const int i0 = b * bi, ib = nb - i0 < bi ? nb - i0 : bi;
            float *c = col + (size_t)i0 * kk * hw;
            /* dcol[kk][ib*hw] = W^T x dout_block, then scattered back onto the block's images */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, (int)(ib * hw), d->co, 1.0f, weight, kk,
                        dchunk + (size_t)i0 * hw, (int)ld, 0.0f, c, (int)(ib * hw));
            col2im_add(din, c, d, n, n0 + i0, ib);
        }
    }
}
