/* conv2d through oneDNN, the library PyTorch's CPU convolutions run on, driven from C.
 *
 * Outside the layer nothing changes: activations are CNHW, weights OIHW in the flat parameter store. Inside, the
 * batch is cut into chunks of a few images; a thread reorders a chunk into the blocked layout oneDNN's kernels
 * want (Winograd or direct, see wino_shape), convolves it and reorders the result back while it is still in
 * cache. Weights are reordered once per call. A training forward writes its blocked input chunks into the layer's
 * keep buffer instead of the thread's, and the backward-weights kernel reads them there: the input is converted
 * once per step, not twice (half the bytes in bf16, and no second pass over the fp32 activations).
 *
 * In bf16 (nn_set_precision) the same reorders round the fp32 input, weights and output gradient to bf16 on their
 * way into the blocked layouts; the kernels multiply bf16 pairs (AVX512_BF16's vdpbf16ps), accumulate in fp32 and
 * write fp32 outputs, input gradients and weight gradients, so nothing outside this file sees a bf16 number.
 *
 * Results do not depend on the thread count: every primitive is created for one thread, and the engine's OpenMP
 * threads share out whole chunks, so a chunk is computed by the same code in the same order whoever runs it.
 * The weight gradient sums over the batch: chunks are dealt, in order, to a fixed number of slots (SLOTS, or
 * fewer chunks), each slot sums its chunks' partial gradients in order, and the slots are added in order at the
 * end. The chunking depends on the layer shape and the batch only.
 *
 * Plans (primitives, memory descriptors, buffers) are built once per layer shape and batch size, at model
 * planning time or on first use, and kept for the life of the process. */
#include "nn/conv2d_dnnl.h"

#include <omp.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "nn/reorder16.h"

#ifndef SWAP_HAVE_DNNL

int conv_dnnl_available(void) { return 0; }
int conv_dnnl_own_reorders(int on) {
    (void)on;
    return 0;
}
int conv_dnnl_own_roles(const ConvPlan *p) {
    (void)p;
    return 0;
}
const char *conv_dnnl_bf16_missing(void) { return "oneDNN (this build has none)"; }
ConvPlan *conv_dnnl_plan(const ConvDims *d, int n, int wino, int bf16) {
    (void)d; (void)n; (void)wino; (void)bf16;
    return NULL;
}
void conv_dnnl_forward(ConvPlan *p, float *out, const float *in, const float *weight, void *keep,
                       size_t keep_bytes) {
    (void)p; (void)out; (void)in; (void)weight; (void)keep; (void)keep_bytes;
    xCheck(0, "built without oneDNN");
}
void conv_dnnl_backward(ConvPlan *p, float *din, float *dweight, const float *dout, const float *in,
                        const float *weight, const void *keep, size_t keep_bytes, int set) {
    (void)p; (void)din; (void)dweight; (void)dout; (void)in; (void)weight; (void)keep; (void)keep_bytes; (void)set;
    xCheck(0, "built without oneDNN");
}
size_t conv_dnnl_keep_bytes(const ConvPlan *p, int n) {
    (void)p; (void)n;
    return 0;
}
const char *conv_dnnl_kernel(const ConvPlan *p) {
    (void)p;
    return "none";
}
void conv_dnnl_profile_enable(void) {}
void conv_dnnl_profile_get(const ConvPlan *p, double *t) { (void)p; (void)t; }
double conv_dnnl_matmul_gflops(int bf16, int size, double *wall_gflops) {
    (void)bf16; (void)size;
    *wall_gflops = 0;
    return 0;
}

#else

#include <dnnl.h>

/* Slots for the weight-gradient sum; a constant (never the thread count) so the summation order is fixed. */
#define SLOTS 4
/* Blocked input + output floats of one chunk: small enough to stay in L2 between the reorders and the kernel. */
#define CHUNK_FLOATS ((size_t)96 << 10)
/* Winograd kernels transform the weights once per call, so they want more images per call: 3 MiB chunks ran
 * ResNet-9 width 64's eval forward about 12% faster than 384 KiB ones (results/BENCH.md); training was even. */
#define CHUNK_FLOATS_WINO ((size_t)768 << 10)

/* Per-thread working memory objects of one chunk shape (their data handles point into the thread's buffer). */
enum { M_USRC, M_UDST, M_FSRC, M_FDST, M_BDD, M_WDD, M_BDS, M_WSRC, M_DWT, M_SCR, M_ROLES };

typedef struct {
    int nb; /* images in a chunk of this shape */
    dnnl_primitive_t fwd, r_src_f, r_dst_f;
    dnnl_primitive_t bwd_d, bwd_w, r_dd_b, r_dd_w, r_src_w, r_ds_b; /* r_dd_w NULL: bwd_w reads bwd_d's ddst */
    dnnl_primitive_t r_ds_s; /* r_ds_b writing instead of adding (conv_dnnl_backward's set) */
    dnnl_memory_desc_t md[M_ROLES];
    unsigned char own[M_ROLES]; /* the role's layout is nChw16c: reorder16.c moves it instead of the r_* reorder */
    size_t src_img; /* bytes per image of the forward's blocked input */
} Shape;

typedef struct {
    dnnl_memory_t m[2][M_ROLES];
    char *bound; /* thread buffer the blocked memory objects point at */
} ThreadMems;

struct ConvPlan {
    ConvDims d;
    int n, bimg, chunks, slots, nsh;
    int wino_asked; /* the caller allows Winograd */
    int bf16;       /* bf16 sources, weights and output gradients; fp32 outputs and gradients (see build_shape) */
    int wino;       /* ... and the shape is one where it pays: each primitive tries it first */
    int alg[3];     /* 0 Winograd, 1 direct (pick's order): what forward, backward-data, backward-weights run */
    size_t keep_img; /* bytes per image a training forward keeps for backward-weights; 0: not keepable */
    Shape sh[2];
    size_t off[M_ROLES], tbytes; /* per-thread buffer layout (bytes) */
    dnnl_memory_desc_t uw, wf, wb, dw;
    dnnl_primitive_t r_wf, r_wb, r_dw; /* NULL when the layout is OIHW already (r_dw always exists) */
    dnnl_memory_t m_uw, m_wf, m_wb, m_udw, m_acc[SLOTS];
    float *wf_buf, *wb_buf, *acc[SLOTS];
    size_t dw_floats;
    ThreadMems *tm;
    int ntm;
    char kernel[160];
    double prof[CONV_T_N]; /* thread CPU seconds by part (profiling only) */
    ConvPlan *next;
};

static dnnl_engine_t g_eng;
static ConvPlan *g_plans;
static int g_prof;
static int g_own_reorders = 1; /* conv_dnnl_own_reorders */
/* Per-thread buffers and streams, shared by all plans (one layer runs at a time). */
static struct {
    char *buf;
    size_t cap;
    dnnl_stream_t stream;
} *g_thr;
static int g_nthr;

int conv_dnnl_available(void) { return 1; }

/* oneDNN's own view of the CPU, so ONEDNN_MAX_CPU_ISA caps it as it caps the kernels. Without AVX512_BF16 oneDNN
 * 2.6 emulates bf16 on plain AVX-512 (several instructions per dot product) or falls back to reference C code. */
const char *conv_dnnl_bf16_missing(void) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16)
        return NULL;
    return "AVX512_BF16 (avx512_bf16 in /proc/cpuinfo; oneDNN would only emulate it)";
}

#define DN(call)                                                                                                 \
    do {                                                                                                         \
        dnnl_status_t st_ = (call);                                                                              \
        if (st_ != dnnl_success) swap_check_failed(__FILE__, __LINE__, #call, "oneDNN call failed");             \
    } while (0)

/* Plan-time calls may fail for shapes oneDNN does not cover: the layer then falls back to im2col + GEMM. */
#define TRY(call)                                                                                                \
    do {                                                                                                         \
        if ((call) != dnnl_success) goto fail;                                                                   \
    } while (0)

static void *amalloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) swap_fail("out of memory (%zu bytes)", bytes);
    return p;
}

static size_t rup(size_t b) { return (b + 63) / 64 * 64; }

/* CNHW view of images n0..n0+nb of a [c][n][h][w] tensor, as an (nb, c, h, w) oneDNN tensor: the data handle is
 * the first image's plane of channel 0. */
static void cnhw_md(dnnl_memory_desc_t *md, int nb, int c, int h, int w, int n) {
    const dnnl_dims_t dims = {nb, c, h, w}, strides = {(dnnl_dim_t)h * w, (dnnl_dim_t)n * h * w, w, 1};
    DN(dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides));
}

static dnnl_status_t make_prim(dnnl_primitive_t *p, dnnl_primitive_desc_t pd) {
    dnnl_status_t st = dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static size_t scratch_bytes(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* Reorder src -> dst (dst += src when accumulate), user-managed scratchpad. Returns its scratch bytes. */
static dnnl_status_t make_reorder(dnnl_primitive_t *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                                  int accumulate, size_t *scratch) {
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (accumulate) {
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_sum(po, 1.0f);
        dnnl_primitive_attr_set_post_ops(attr, po);
    }
    st = dnnl_reorder_primitive_desc_create(&pd, src, g_eng, dst, g_eng, attr);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return st;
    const size_t s = scratch_bytes(pd);
    if (s > *scratch) *scratch = s;
    return make_prim(p, pd);
}

static const char *impl_name(const_dnnl_primitive_desc_t pd) {
    const char *s = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s) return "?";
    return s;
}

/* Dense nChw16c (aBcd16b) of its own dims, fp32 or bf16: image by image, so a chunk of images is one range. */
static int is_blocked16(const dnnl_memory_desc_t *md) {
    dnnl_memory_desc_t want;
    if (md->ndims != 4 || (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16)) return 0;
    if (dnnl_memory_desc_init_by_tag(&want, 4, md->dims, md->data_type, dnnl_aBcd16b) != dnnl_success) return 0;
    return dnnl_memory_desc_equal(&want, md);
}

/* ... on a CPU that runs reorder16.c: its moves replace oneDNN's reorder for this tensor. */
static int is_nchw16c(const dnnl_memory_desc_t *md) {
    return is_blocked16(md) && reorder16_available(md->data_type == dnnl_bf16);
}

/* What every primitive of one chunk shape is described with. In bf16 the tensors a primitive reads are bf16 (lp)
 * and the ones it writes fp32 (f): forward reads s_lp, w_lp and writes d_f; backward-data reads d_lp, w_lp and
 * writes s_f; backward-weights reads s_lp, d_lp and writes w_f. The kernels accumulate in fp32, so keeping the
 * outputs fp32 costs no speed in the kernel and spares a second rounding (PyTorch's autocast rounds them to
 * bf16). In fp32 lp and f are the same. */
typedef struct {
    dnnl_memory_desc_t s_lp, w_lp, d_lp, s_f, w_f, d_f; /* format "any" */
    dnnl_dims_t strides, pl, pr;
    dnnl_primitive_attr_t attr;
} ConvDesc;

/* Primitive k (0 forward, 1 backward-data, 2 backward-weights) with weights layout w: Winograd first where the
 * plan allows it, else direct. The second chunk shape runs the first one's algorithm (same weight layouts). */
static dnnl_primitive_desc_t pick(ConvPlan *p, int k, int first, const ConvDesc *c, const dnnl_memory_desc_t *w,
                                  const_dnnl_primitive_desc_t hint) {
    static const dnnl_alg_kind_t algs[2] = {dnnl_convolution_winograd, dnnl_convolution_direct};
    for (int a = first ? 0 : p->alg[k]; a < 2; a++) {
        if (a == 0 && !p->wino) continue;
        dnnl_convolution_desc_t cd;
        dnnl_status_t st =
            k == 0   ? dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, algs[a], &c->s_lp, w, NULL,
                                                          &c->d_f, c->strides, c->pl, c->pr)
            : k == 1 ? dnnl_convolution_backward_data_desc_init(&cd, algs[a], &c->s_f, w, &c->d_lp, c->strides, c->pl,
                                                                c->pr)
                     : dnnl_convolution_backward_weights_desc_init(&cd, algs[a], &c->s_lp, w, NULL, &c->d_lp,
                                                                   c->strides, c->pl, c->pr);
        dnnl_primitive_desc_t pd = NULL;
        if (st == dnnl_success && dnnl_primitive_desc_create(&pd, &cd, c->attr, g_eng, hint) == dnnl_success) {
            p->alg[k] = a;
            return pd;
        }
        if (!first) break;
    }
    return NULL;
}

/* Primitives for chunks of sh->nb images. Shape 0 lets oneDNN pick every layout; the other shape must use the
 * same weight layouts (one reordered weight tensor, one gradient layout for the slot sums). */
static int build_shape(ConvPlan *p, Shape *sh, int first, size_t *scratch) {
    const ConvDims *d = &p->d;
    const int nb = sh->nb;
    const dnnl_dims_t sdims = {nb, d->ci, d->h, d->w}, wdims = {d->co, d->ci, d->k, d->k},
                      ddims = {nb, d->co, d->ho, d->wo};
    ConvDesc c = {.strides = {d->stride, d->stride},
                  .pl = {d->pad, d->pad},
                  .pr = {(d->ho - 1) * d->stride + d->k - d->h - d->pad,
                         (d->wo - 1) * d->stride + d->k - d->w - d->pad}};
    dnnl_primitive_desc_t fpd = NULL, bdpd = NULL, bwpd = NULL;
    const dnnl_memory_desc_t *q;
    const dnnl_data_type_t lp = p->bf16 ? dnnl_bf16 : dnnl_f32;
    TRY(dnnl_memory_desc_init_by_tag(&c.s_lp, 4, sdims, lp, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&c.w_lp, 4, wdims, lp, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&c.d_lp, 4, ddims, lp, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&c.s_f, 4, sdims, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&c.w_f, 4, wdims, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&c.d_f, 4, ddims, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_primitive_attr_create(&c.attr));
    TRY(dnnl_primitive_attr_set_scratchpad_mode(c.attr, dnnl_scratchpad_mode_user));

    if (!(fpd = pick(p, 0, first, &c, first ? &c.w_lp : &p->wf, NULL))) goto fail;
    sh->md[M_FSRC] = *dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    sh->md[M_FDST] = *dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    if (first) p->wf = *dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    if (scratch_bytes(fpd) > *scratch) *scratch = scratch_bytes(fpd);

    if (!(bdpd = pick(p, 1, first, &c, first ? &c.w_lp : &p->wb, fpd))) goto fail;
    sh->md[M_BDS] = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_src_md, 0);
    sh->md[M_BDD] = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_dst_md, 0);
    if (first) p->wb = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_weights_md, 0);
    if (scratch_bytes(bdpd) > *scratch) *scratch = scratch_bytes(bdpd);

    if (!(bwpd = pick(p, 2, first, &c, first ? &c.w_f : &p->dw, fpd))) goto fail;
    sh->md[M_WSRC] = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_src_md, 0);
    sh->md[M_WDD] = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_dst_md, 0);
    q = dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 0);
    if (first) p->dw = *q;
    sh->md[M_DWT] = p->dw;
    if (scratch_bytes(bwpd) > *scratch) *scratch = scratch_bytes(bwpd);
    if (first)
        snprintf(p->kernel, sizeof p->kernel, "%s/%s/%s", impl_name(fpd), impl_name(bdpd), impl_name(bwpd));

    for (int r = M_FSRC; r < M_ROLES; r++) sh->own[r] = r != M_DWT && r != M_SCR && is_nchw16c(&sh->md[r]);
    /* the forward's blocked input can serve backward-weights when that kernel reads the same layout */
    sh->src_img = is_blocked16(&sh->md[M_FSRC]) && dnnl_memory_desc_equal(&sh->md[M_FSRC], &sh->md[M_WSRC])
                      ? dnnl_memory_desc_get_size(&sh->md[M_FSRC]) / (size_t)nb
                      : 0;
    cnhw_md(&sh->md[M_USRC], nb, d->ci, d->h, d->w, p->n);
    cnhw_md(&sh->md[M_UDST], nb, d->co, d->ho, d->wo, p->n);
    TRY(make_reorder(&sh->r_src_f, &sh->md[M_USRC], &sh->md[M_FSRC], 0, scratch));
    TRY(make_reorder(&sh->r_dst_f, &sh->md[M_FDST], &sh->md[M_UDST], 0, scratch));
    TRY(make_reorder(&sh->r_dd_b, &sh->md[M_UDST], &sh->md[M_BDD], 0, scratch));
    if (!dnnl_memory_desc_equal(&sh->md[M_WDD], &sh->md[M_BDD]))
        TRY(make_reorder(&sh->r_dd_w, &sh->md[M_UDST], &sh->md[M_WDD], 0, scratch));
    TRY(make_reorder(&sh->r_src_w, &sh->md[M_USRC], &sh->md[M_WSRC], 0, scratch));
    TRY(make_reorder(&sh->r_ds_b, &sh->md[M_BDS], &sh->md[M_USRC], 1, scratch));
    TRY(make_reorder(&sh->r_ds_s, &sh->md[M_BDS], &sh->md[M_USRC], 0, scratch));

    TRY(dnnl_primitive_create(&sh->fwd, fpd));
    TRY(dnnl_primitive_create(&sh->bwd_d, bdpd));
    TRY(dnnl_primitive_create(&sh->bwd_w, bwpd));
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bdpd);
    dnnl_primitive_desc_destroy(bwpd);
    dnnl_primitive_attr_destroy(c.attr);
    return 1;
fail:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bdpd) dnnl_primitive_desc_destroy(bdpd);
    if (bwpd) dnnl_primitive_desc_destroy(bwpd);
    if (c.attr) dnnl_primitive_attr_destroy(c.attr);
    return 0;
}

/* Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3, AVX-512 only) needs 2.25x fewer multiplications than a direct
 * 3x3 convolution; on ResNet-9 and cnn it cut the convolution time by 1.2-1.7x. With few input channels (the
 * first layer of every model) the transforms cost more than they save, so it is tried from 16 channels up.
 * Where oneDNN has no Winograd kernel for the shape or the CPU, the direct one runs. */
static int wino_shape(const ConvDims *d) { return d->k == 3 && d->stride == 1 && d->ci >= 16 && d->co >= 16; }

/* Images per chunk: the chunk's input and output fit the cache budget, but a chunk is at least big enough that
 * adding its partial weight gradient into its slot costs no more than its activations (deep layers with big
 * weights and small planes), and there are at least min(n, SLOTS) chunks so that threads have work. */
static int chunk_images(const ConvDims *d, int n, int wino) {
    const size_t ci = (size_t)(d->ci + 15) / 16 * 16, co = (size_t)(d->co + 15) / 16 * 16;
    const size_t per = ci * d->h * d->w + co * d->ho * d->wo, wsz = co * ci * d->k * d->k;
    size_t b = (wino ? CHUNK_FLOATS_WINO : CHUNK_FLOATS) / per;
    const size_t bw = (wsz + per - 1) / per;
    if (b < bw) b = bw;
    const int parts = n < SLOTS ? n : SLOTS;
    const size_t cap = ((size_t)n + parts - 1) / parts;
    if (b > cap) b = cap;
    return b < 1 ? 1 : (int)b;
}

static ConvPlan *build_plan(const ConvDims *d, int n, int wino, int bf16) {
    ConvPlan *p = xCalloc(1, sizeof *p);
    p->d = *d;
    p->n = n;
    p->wino_asked = wino;
    p->bf16 = bf16;
    p->wino = wino && !bf16 && wino_shape(d); /* oneDNN 2.6 has no bf16 Winograd */
    p->bimg = chunk_images(d, n, p->wino);
    p->chunks = (n + p->bimg - 1) / p->bimg;
    p->slots = p->chunks < SLOTS ? p->chunks : SLOTS;
    p->nsh = n % p->bimg ? 2 : 1;
    p->sh[0].nb = p->bimg;
    p->sh[1].nb = n % p->bimg;
    size_t scratch = 0;
    const dnnl_dims_t wdims = {d->co, d->ci, d->k, d->k};
    DN(dnnl_memory_desc_init_by_tag(&p->uw, 4, wdims, dnnl_f32, dnnl_oihw));

    /* one thread while creating: the kernels' work split is fixed at creation */
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int ok = build_shape(p, &p->sh[0], 1, &scratch) && (p->nsh == 1 || build_shape(p, &p->sh[1], 0, &scratch));
    if (ok) p->keep_img = p->nsh == 1 || p->sh[1].src_img == p->sh[0].src_img ? p->sh[0].src_img : 0;
    if (ok && !dnnl_memory_desc_equal(&p->wf, &p->uw)) ok = make_reorder(&p->r_wf, &p->uw, &p->wf, 0, &scratch) == 0;
    if (ok && !dnnl_memory_desc_equal(&p->wb, &p->uw)) ok = make_reorder(&p->r_wb, &p->uw, &p->wb, 0, &scratch) == 0;
    if (ok) ok = make_reorder(&p->r_dw, &p->dw, &p->uw, 1, &scratch) == 0;
    omp_set_num_threads(threads);
    if (!ok) {
        /* primitives already made are kept alive by oneDNN's cache anyway; this path is rare (exotic shapes) */
        free(p);
        return NULL;
    }

    /* per-thread buffer: every blocked chunk tensor of either shape, the partial gradient and the scratchpad */
    size_t off = 0;
    for (int r = M_FSRC; r < M_ROLES; r++) {
        size_t need = 0;
        for (int s = 0; s < p->nsh; s++) {
            size_t b = r == M_SCR ? scratch : dnnl_memory_desc_get_size(&p->sh[s].md[r]);
            if (b > need) need = b;
        }
        p->off[r] = off;
        off += rup(need) + 64;
    }
    p->tbytes = off;

    DN(dnnl_memory_create(&p->m_uw, &p->uw, g_eng, DNNL_MEMORY_NONE));
    DN(dnnl_memory_create(&p->m_udw, &p->uw, g_eng, DNNL_MEMORY_NONE));
    if (p->r_wf) {
        p->wf_buf = amalloc(dnnl_memory_desc_get_size(&p->wf));
        DN(dnnl_memory_create(&p->m_wf, &p->wf, g_eng, p->wf_buf));
    } else {
        DN(dnnl_memory_create(&p->m_wf, &p->wf, g_eng, DNNL_MEMORY_NONE));
    }
    if (p->r_wb) {
        p->wb_buf = amalloc(dnnl_memory_desc_get_size(&p->wb));
        DN(dnnl_memory_create(&p->m_wb, &p->wb, g_eng, p->wb_buf));
    } else {
        DN(dnnl_memory_create(&p->m_wb, &p->wb, g_eng, DNNL_MEMORY_NONE));
    }
    p->dw_floats = dnnl_memory_desc_get_size(&p->dw) / sizeof(float);
    for (int s = 0; s < p->slots; s++) {
        p->acc[s] = amalloc(p->dw_floats * sizeof(float));
        DN(dnnl_memory_create(&p->m_acc[s], &p->dw, g_eng, p->acc[s]));
    }
    return p;
}

/* Make sure threads 0..t-1 have a buffer of at least p->tbytes, a stream, and memory objects for this plan.
 * Allocates only when the plan is new or the thread count grew. */
static void ensure_threads(ConvPlan *p, int t) {
    if (t > g_nthr) {
        g_thr = xRealloc(g_thr, (size_t)t * sizeof *g_thr);
        for (int i = g_nthr; i < t; i++) {
            g_thr[i].buf = NULL;
            g_thr[i].cap = 0;
            DN(dnnl_stream_create(&g_thr[i].stream, g_eng, dnnl_stream_default_flags));
        }
        g_nthr = t;
    }
    for (int i = 0; i < t; i++)
        if (g_thr[i].cap < p->tbytes) {
            free(g_thr[i].buf);
            g_thr[i].buf = amalloc(p->tbytes);
            g_thr[i].cap = p->tbytes;
        }
    if (t > p->ntm) {
        p->tm = xRealloc(p->tm, (size_t)t * sizeof *p->tm);
        for (int i = p->ntm; i < t; i++) {
            ThreadMems *tm = &p->tm[i];
            tm->bound = NULL;
            for (int s = 0; s < p->nsh; s++)
                for (int r = 0; r < M_ROLES; r++) {
                    dnnl_memory_desc_t md = p->sh[s].md[r];
                    if (r == M_SCR) {
                        const dnnl_dims_t dims = {(dnnl_dim_t)(p->tbytes - p->off[M_SCR])};
                        DN(dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_u8, dnnl_a));
                    }
                    DN(dnnl_memory_create(&tm->m[s][r], &md, g_eng, DNNL_MEMORY_NONE));
                }
        }
        p->ntm = t;
    }
    for (int i = 0; i < t; i++) {
        ThreadMems *tm = &p->tm[i];
        if (tm->bound == g_thr[i].buf) continue;
        for (int s = 0; s < p->nsh; s++)
            for (int r = M_FSRC; r < M_ROLES; r++)
                DN(dnnl_memory_set_data_handle_v2(tm->m[s][r], g_thr[i].buf + p->off[r], g_thr[i].stream));
        tm->bound = g_thr[i].buf;
    }
}

static int same_dims(const ConvDims *a, const ConvDims *b) {
    return a->ci == b->ci && a->co == b->co && a->k == b->k && a->stride == b->stride && a->pad == b->pad &&
           a->h == b->h && a->w == b->w;
}

ConvPlan *conv_dnnl_plan(const ConvDims *d, int n, int wino, int bf16) {
    for (ConvPlan *p = g_plans; p; p = p->next)
        if (p->n == n && p->wino_asked == wino && p->bf16 == bf16 && same_dims(&p->d, d)) return p;
    if (!g_eng) DN(dnnl_engine_create(&g_eng, dnnl_cpu, 0));
    ConvPlan *p = build_plan(d, n, wino, bf16);
    if (!p) return NULL;
    ensure_threads(p, omp_get_max_threads());
    p->next = g_plans;
    g_plans = p;
    return p;
}

const char *conv_dnnl_kernel(const ConvPlan *p) { return p->kernel; }

int conv_dnnl_own_roles(const ConvPlan *p) {
    int k = 0;
    for (int r = 0; r < M_ROLES; r++) k += p->sh[0].own[r];
    return k;
}

int conv_dnnl_own_reorders(int on) {
    const int was = g_own_reorders;
    if (on >= 0) g_own_reorders = on;
    return was;
}

void conv_dnnl_profile_enable(void) { g_prof = 1; }

void conv_dnnl_profile_get(const ConvPlan *p, double *t) {
    for (int i = 0; i < CONV_T_N; i++) t[i] = p->prof[i];
}

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Profiling clock: the thread's CPU time since the last mark, charged to part k of the plan. */
static void charge(ConvPlan *p, int k, double *mark) {
    if (!g_prof) return;
    const double now = thread_cpu(), dt = now - *mark;
    *mark = now;
#pragma omp atomic
    p->prof[k] += dt;
}

static double mark_now(void) { return g_prof ? thread_cpu() : 0.0; }


static void exec(dnnl_primitive_t prim, dnnl_stream_t s, int nargs, const dnnl_exec_arg_t *args) {
    DN(dnnl_primitive_execute(prim, s, nargs, args));
}

static void reorder(dnnl_primitive_t r, dnnl_stream_t s, dnnl_memory_t from, dnnl_memory_t to, dnnl_memory_t scr) {
    const dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, scr}};
    exec(r, s, 3, a);
}

/* CNHW chunk (m[user], at src) -> the blocked tensor of `role` at blk (m[role]'s handle): reorder16 where the
 * layout is nChw16c, else oneDNN's reorder r. c channels of hw pixels. */
static void to_blk(const ConvPlan *p, const Shape *sh, int t, int role, dnnl_primitive_t r, int user, void *blk,
                   const float *src, int c, size_t hw) {
    dnnl_memory_t *m = p->tm[t].m[sh == &p->sh[0] ? 0 : 1];
    if (g_own_reorders && sh->own[role])
        reorder16_to_blocked(blk, sh->md[role].data_type == dnnl_bf16, src, sh->nb, c, (int)hw, (size_t)p->n * hw);
    else
        reorder(r, g_thr[t].stream, m[user], m[role], m[M_SCR]);
}

/* The blocked tensor of `role` -> the CNHW chunk (m[user], at dst); dst += it when accumulate (r was made so). */
static void from_blk(const ConvPlan *p, const Shape *sh, int t, int role, dnnl_primitive_t r, int user, float *dst,
                     int c, size_t hw, int accumulate) {
    dnnl_memory_t *m = p->tm[t].m[sh == &p->sh[0] ? 0 : 1];
    if (g_own_reorders && sh->own[role])
        reorder16_from_blocked(dst, (const float *)(g_thr[t].buf + p->off[role]), sh->nb, c, (int)hw,
                               (size_t)p->n * hw, accumulate);
    else
        reorder(r, g_thr[t].stream, m[role], m[user], m[M_SCR]);
}

static void set_handle(dnnl_memory_t m, const void *ptr, dnnl_stream_t s) {
    DN(dnnl_memory_set_data_handle_v2(m, (void *)ptr, s));
}

/* Threads for this call: the engine's, capped by the chunks (or slots) there are. */
static int call_threads(ConvPlan *p, int units) {
    int t = omp_get_max_threads();
    if (t > units) t = units;
    if (t < 1) t = 1;
    ensure_threads(p, t);
    return t;
}

/* Reorder the OIHW weights for a primitive (or point straight at them when the layout is OIHW already). */
static void prep_weights(ConvPlan *p, dnnl_primitive_t r, dnnl_memory_t m, const float *weight) {
    if (!r) {
        set_handle(m, weight, g_thr[0].stream);
        return;
    }
    set_handle(p->m_uw, weight, g_thr[0].stream);
    reorder(r, g_thr[0].stream, p->m_uw, m, p->tm[0].m[0][M_SCR]);
}

size_t conv_dnnl_keep_bytes(const ConvPlan *p, int n) { return p->keep_img * (size_t)n; }

/* Where chunk n0's blocked input goes (forward) or comes from (backward-weights): the kept copy when there is
 * one, else thread t's buffer. */
static char *src_blk(const ConvPlan *p, int t, int role, const void *keep, int n0) {
    return keep ? (char *)keep + p->keep_img * (size_t)n0 : g_thr[t].buf + p->off[role];
}

void conv_dnnl_forward(ConvPlan *p, float *out, const float *in, const float *weight, void *keep,
                       size_t keep_bytes) {
    const ConvDims *d = &p->d;
    const size_t ihw = (size_t)d->h * d->w, ohw = (size_t)d->ho * d->wo;
    const int nt = call_threads(p, p->chunks), skip = nn_ablation() & NN_ABLATE_LAYOUT;
    if (!p->keep_img || keep_bytes < conv_dnnl_keep_bytes(p, p->n)) keep = NULL;
    double mk = mark_now();
    prep_weights(p, p->r_wf, p->m_wf, weight);
    charge(p, CONV_T_LAYOUT, &mk);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int c = 0; c < p->chunks; c++) {
        double tm = mark_now();
        const int t = omp_get_thread_num(), n0 = c * p->bimg;
        const int s = (p->n - n0 < p->bimg) ? 1 : 0;
        const Shape *sh = &p->sh[s];
        dnnl_memory_t *m = p->tm[t].m[s];
        dnnl_stream_t st = g_thr[t].stream;
        set_handle(m[M_USRC], in + (size_t)n0 * ihw, st);
        set_handle(m[M_UDST], out + (size_t)n0 * ohw, st);
        char *blk = src_blk(p, t, M_FSRC, keep, n0);
        set_handle(m[M_FSRC], blk, st);
        if (!skip) to_blk(p, sh, t, M_FSRC, sh->r_src_f, M_USRC, blk, in + (size_t)n0 * ihw, d->ci, ihw);
        charge(p, CONV_T_LAYOUT, &tm);
        const dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, m[M_FSRC]}, {DNNL_ARG_WEIGHTS, p->m_wf},
                                      {DNNL_ARG_DST, m[M_FDST]}, {DNNL_ARG_SCRATCHPAD, m[M_SCR]}};
        exec(sh->fwd, st, 4, a);
        charge(p, CONV_T_FWD, &tm);
        if (!skip) from_blk(p, sh, t, M_FDST, sh->r_dst_f, M_UDST, out + (size_t)n0 * ohw, d->co, ohw, 0);
        charge(p, CONV_T_LAYOUT, &tm);
    }
}

/* The weight-gradient slot sums, in slot order, then dweight += the total in OIHW. */
static void add_slots(ConvPlan *p, float *dweight) {
    double mk = mark_now();
    const size_t nf = p->dw_floats;
    const int slots = p->slots;
    float *const *acc = p->acc;
    if (slots > 1) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nf; i++) {
            float v = acc[0][i];
            for (int s = 1; s < slots; s++) v += acc[s][i];
            acc[0][i] = v;
        }
    }
    set_handle(p->m_udw, dweight, g_thr[0].stream);
    reorder(p->r_dw, g_thr[0].stream, p->m_acc[0], p->m_udw, p->tm[0].m[0][M_SCR]);
    charge(p, CONV_T_LAYOUT, &mk); /* the slot-sum loop's other threads are not counted: it is short */
}

void conv_dnnl_backward(ConvPlan *p, float *din, float *dweight, const float *dout, const float *in,
                        const float *weight, const void *keep, size_t keep_bytes, int set) {
    const ConvDims *d = &p->d;
    const size_t ihw = (size_t)d->h * d->w, ohw = (size_t)d->ho * d->wo;
    const int nt = call_threads(p, p->slots), skip = nn_ablation() & NN_ABLATE_LAYOUT;
    if (!p->keep_img || keep_bytes < conv_dnnl_keep_bytes(p, p->n)) keep = NULL;
    double mk = mark_now();
    if (din) prep_weights(p, p->r_wb, p->m_wb, weight);
    charge(p, CONV_T_LAYOUT, &mk);
#pragma omp parallel for schedule(static, 1) num_threads(nt)
    for (int sl = 0; sl < p->slots; sl++) {
        double tm = mark_now();
        const int t = omp_get_thread_num();
        dnnl_stream_t st = g_thr[t].stream;
        const int c0 = sl * p->chunks / p->slots, c1 = (sl + 1) * p->chunks / p->slots;
        for (int c = c0; c < c1; c++) {
            const int n0 = c * p->bimg;
            const int s = (p->n - n0 < p->bimg) ? 1 : 0;
            const Shape *sh = &p->sh[s];
            dnnl_memory_t *m = p->tm[t].m[s];
            set_handle(m[M_USRC], in + (size_t)n0 * ihw, st);
            set_handle(m[M_UDST], dout + (size_t)n0 * ohw, st);
            if (!skip)
                to_blk(p, sh, t, M_BDD, sh->r_dd_b, M_UDST, g_thr[t].buf + p->off[M_BDD], dout + (size_t)n0 * ohw,
                       d->co, ohw);
            charge(p, CONV_T_LAYOUT, &tm);
            if (din) {
                const dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, m[M_BDD]}, {DNNL_ARG_WEIGHTS, p->m_wb},
                                              {DNNL_ARG_DIFF_SRC, m[M_BDS]}, {DNNL_ARG_SCRATCHPAD, m[M_SCR]}};
                exec(sh->bwd_d, st, 4, a);
                charge(p, CONV_T_BWD_DATA, &tm);
                set_handle(m[M_USRC], din + (size_t)n0 * ihw, st);
                if (!skip)
                    from_blk(p, sh, t, M_BDS, set ? sh->r_ds_s : sh->r_ds_b, M_USRC, din + (size_t)n0 * ihw, d->ci,
                             ihw, !set);
                set_handle(m[M_USRC], in + (size_t)n0 * ihw, st);
            }
            dnnl_memory_t ddw = m[M_BDD];
            if (sh->r_dd_w) {
                if (!skip)
                    to_blk(p, sh, t, M_WDD, sh->r_dd_w, M_UDST, g_thr[t].buf + p->off[M_WDD],
                           dout + (size_t)n0 * ohw, d->co, ohw);
                ddw = m[M_WDD];
            }
            char *blk = src_blk(p, t, M_WSRC, keep, n0);
            set_handle(m[M_WSRC], blk, st);
            if (!skip && !keep)
                to_blk(p, sh, t, M_WSRC, sh->r_src_w, M_USRC, blk, in + (size_t)n0 * ihw, d->ci, ihw);
            charge(p, CONV_T_LAYOUT, &tm);
            /* the slot's first chunk writes the slot sum; later chunks add their partial to it, in order */
            const int first = c == c0;
            const dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, m[M_WSRC]}, {DNNL_ARG_DIFF_DST, ddw},
                                          {DNNL_ARG_DIFF_WEIGHTS, first ? p->m_acc[sl] : m[M_DWT]},
                                          {DNNL_ARG_SCRATCHPAD, m[M_SCR]}};
            exec(sh->bwd_w, st, 4, a);
            charge(p, CONV_T_BWD_WEIGHTS, &tm);
            if (!first) {
                float *restrict acc = p->acc[sl];
                const float *restrict part = (const float *)(g_thr[t].buf + p->off[M_DWT]);
                for (size_t i = 0; i < p->dw_floats; i++) acc[i] += part[i];
            }
            charge(p, CONV_T_LAYOUT, &tm);
        }
    }
    add_slots(p, dweight);
}

double conv_dnnl_matmul_gflops(int bf16, int size, double *wall_gflops) {
    *wall_gflops = 0;
    if (!g_eng && dnnl_engine_create(&g_eng, dnnl_cpu, 0) != dnnl_success) return 0;
    const dnnl_data_type_t lp = bf16 ? dnnl_bf16 : dnnl_f32;
    const dnnl_dims_t dims = {size, size};
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_stream_t st = NULL;
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
    double rate = 0;
    if (dnnl_memory_desc_init_by_tag(&a, 2, dims, lp, dnnl_ab) || dnnl_memory_desc_init_by_tag(&b, 2, dims, lp, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&c, 2, dims, dnnl_f32, dnnl_ab) || dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) ||
        dnnl_primitive_desc_create(&pd, &md, NULL, g_eng, NULL) || dnnl_primitive_create(&prim, pd))
        goto done;
    DN(dnnl_stream_create(&st, g_eng, dnnl_stream_default_flags));
    DN(dnnl_memory_create(&ma, &a, g_eng, DNNL_MEMORY_ALLOCATE));
    DN(dnnl_memory_create(&mb, &b, g_eng, DNNL_MEMORY_ALLOCATE));
    DN(dnnl_memory_create(&mc, &c, g_eng, DNNL_MEMORY_ALLOCATE));
    void *h;
    DN(dnnl_memory_get_data_handle(ma, &h));
    memset(h, 0x3f, dnnl_memory_desc_get_size(&a)); /* ~0.75 (either type): finite, no denormals */
    DN(dnnl_memory_get_data_handle(mb, &h));
    memset(h, 0x3f, dnnl_memory_desc_get_size(&b));
    const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    exec(prim, st, 3, args); /* warm-up */
    DN(dnnl_stream_wait(st));
    const int reps = 5;
    struct timespec w0, w1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int r = 0; r < reps; r++) exec(prim, st, 3, args);
    DN(dnnl_stream_wait(st));
    clock_gettime(CLOCK_MONOTONIC, &w1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    const double flops = 2.0 * size * size * (double)size * reps;
    const double wall = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
    const double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    rate = flops / cpu * 1e-9;
    *wall_gflops = flops / wall * 1e-9;
done:
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
    if (st) dnnl_stream_destroy(st);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return rate;
}

#endif
