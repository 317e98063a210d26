/* reorder16.c's CNHW <-> nChw16c moves give exactly what oneDNN's reorders give: whole convolutions (forward,
 * backward-data accumulating into a nonzero input gradient, backward-weights) run once with each, in fp32 and in
 * bf16 (where the CPU has it), must agree bit for bit. So must a convolution whose forward keeps its blocked input
 * for the backward (conv2d_forward's keep): its input is overwritten with noise between the two, so the backward
 * gets the reference weight gradient only if it reads the kept copy, and a kept copy in the wrong place or layout
 * changes it. The shapes cover channel counts that are not multiples of 16
 * (padded blocks), planes whose size is not a multiple of 16 (masked tails), strides, a chunk shape for the batch's
 * remainder, and a 1x1 projection. Skipped (exit 77) on a CPU without AVX-512 or a build without oneDNN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/conv2d_dnnl.h"
#include "nn/layers.h"
#include "testlib.h"

/* [out | din | dweight] after forward and backward of one layer on seeded data; with keep, the forward keeps its
 * blocked input and the input is scrambled before the backward (which must not need it then). */
static float *conv_run(const ConvDims *d, int n, size_t *len, int keep) {
    const size_t nin = (size_t)d->ci * n * d->h * d->w, nout = (size_t)d->co * n * d->ho * d->wo,
                 nw = (size_t)d->co * d->ci * d->k * d->k;
    float *in = malloc(nin * sizeof(float)), *w = malloc(nw * sizeof(float)), *dout = malloc(nout * sizeof(float));
    Rng r;
    rng_seed(&r, 9);
    for (size_t i = 0; i < nin; i++) in[i] = rng_normal(&r);
    for (size_t i = 0; i < nw; i++) w[i] = rng_normal(&r);
    for (size_t i = 0; i < nout; i++) dout[i] = rng_normal(&r);
    *len = nout + nin + nw;
    float *res = calloc(*len, sizeof(float));
    /* im2col scratch, used only if oneDNN cannot plan the shape and the layer falls back to GEMM */
    const int chunk = conv_chunk(d, n, (size_t)1 << 16);
    float *col = calloc((size_t)d->ci * d->k * d->k * chunk * d->ho * d->wo, sizeof(float));
    for (size_t i = 0; i < nin; i++) res[nout + i] = 0.25f * rng_normal(&r); /* din accumulates onto this */
    const size_t kb = keep ? conv2d_keep_bytes(d, n) : 0;
    void *kept = kb ? malloc(kb) : NULL;
    conv2d_forward(res, in, w, NULL, col, d, n, chunk, kept, kb);
    if (kept)
        for (size_t i = 0; i < nin; i++) in[i] = rng_normal(&r);
    conv2d_backward(res + nout, res + nout + nin, NULL, dout, in, w, col, d, n, chunk, kept, kb);
    free(in); free(w); free(dout); free(col); free(kept);
    return res;
}

/* keeps: the input layout is nChw16c, so a training forward must keep it */
static int check(int ci, int co, int k, int stride, int pad, int h, int n, int keeps) {
    ConvDims d;
    conv_dims_init(&d, ci, co, k, stride, pad, h, h);
    const ConvPlan *p = conv_dnnl_plan(&d, n, conv2d_impl() == CONV_ONEDNN, nn_precision() == PREC_BF16);
    if (!p) return 0;
    const int own = conv_dnnl_own_roles(p);
    size_t n1, n2;
    conv_dnnl_own_reorders(0);
    float *ref = conv_run(&d, n, &n1, 0);
    for (int keep = 0; keep < 2; keep++)
        for (int mine = keep ? 0 : 1; mine < 2; mine++) {
            conv_dnnl_own_reorders(mine);
            float *got = conv_run(&d, n, &n2, keep);
            T_CHECK(n1 == n2 && memcmp(ref, got, n1 * sizeof(float)) == 0,
                    "%s %s %d>%d k%d s%d %dx%d n%d (%d tensors moved by reorder16; %s reorders, %s): differs "
                    "from oneDNN's reorders (max rel err %g)", nn_precision_name(nn_precision()),
                    conv2d_kernel(&d, n), ci, co, k, stride, h, h, n, own, mine ? "own" : "oneDNN's",
                    keep ? "forward's input kept" : "nothing kept", t_max_rel_err(got, ref, n1));
            free(got);
        }
    T_CHECK(!keeps || conv2d_keep_bytes(&d, n) > 0, "%s %d>%d k%d: a blocked input is not kept",
            nn_precision_name(nn_precision()), ci, co, k);
    free(ref);
    return own;
}

int main(void) {
    if (!conv_dnnl_available()) {
        printf("SKIP: this build has no oneDNN\n");
        return 77;
    }
    int total = 0;
    for (int run = 0; run < 3; run++) { /* fp32 direct, fp32 with Winograd where oneDNN has it, bf16 direct */
        if (run == 2 && nn_bf16_missing()) {
            printf("bf16 not checked: %s\n", nn_bf16_missing());
            break;
        }
        conv2d_set_impl(run == 1 ? CONV_ONEDNN : CONV_DIRECT);
        nn_set_precision(run == 2 ? PREC_BF16 : PREC_FP32);
        int own = 0;
        own += check(16, 32, 3, 1, 1, 8, 5, 1);   /* whole blocks */
        own += check(19, 21, 3, 1, 1, 9, 11, 1);  /* padded blocks, 81-pixel planes: masked tails */
        own += check(32, 40, 3, 2, 1, 12, 13, 1); /* stride 2, 36-pixel output planes */
        own += check(64, 64, 3, 1, 1, 4, 37, 1);  /* deep layer, batch remainder chunk */
        own += check(16, 48, 1, 2, 0, 14, 6, 1);  /* 1x1 projection, 49-pixel output */
        check(3, 16, 3, 1, 1, 32, 7, 0);       /* 3-channel input: oneDNN's plain layout, its own reorder */
        printf("%s %s: %d chunk tensors moved by reorder16, all equal to oneDNN's reorders\n",
               nn_precision_name(nn_precision()), run == 1 ? "onednn (Winograd where it has it)" : "direct", own);
        total += own;
    }
    if (!total) {
        printf("SKIP: no layout here is moved by reorder16 (it needs AVX-512)\n");
        return 77;
    }
    nn_set_precision(PREC_FP32);
    conv2d_set_impl(CONV_AUTO);
    return t_exit("test_reorder16");
}
