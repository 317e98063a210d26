/* Every layer kernel against a direct forward reference and a central finite-difference gradient of the
 * scalar objective sum(dout * f(x)); backward must accumulate. Then whole models (mlp, cnn, resnet9) through
 * model_forward/model_backward, and BatchNorm running statistics (momentum, eval, cumulative average). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/presets.h"
#include "core/err.h"
#include "core/rng.h"
#include "nn/layers.h"
#include "nn/layer.h"
#include "nn/model.h"
#include "optim/sgd.h"
#include "testlib.h"

static Rng R;

static float *fnew(size_t n) { return xCalloc(n ? n : 1, sizeof(float)); }

static float *randn(size_t n) {
    float *p = fnew(n);
    for (size_t i = 0; i < n; i++) p[i] = rng_normal(&R);
    return p;
}

/* Values at least `gap` apart in random order, so max selections and ReLU masks survive a +-eps nudge. */
static float *distinct(size_t n, float gap) {
    float *p = fnew(n);
    uint32_t *perm = xMalloc(n * sizeof *perm);
    rng_permutation(&R, perm, n);
    for (size_t i = 0; i < n; i++) p[i] = ((float)perm[i] - 0.5f * (float)n) * gap;
    free(perm);
    return p;
}

/* ---------------------------------------------------------------- kernel FD harness */

#define MAXW 4
typedef struct Case Case;
struct Case {
    const char *name;
    void (*fwd)(Case *);
    void (*bwd)(Case *); /* accumulates into g[] given dout */
    float *out, *dout;
    size_t n_out;
    int nw;                /* w[0] is the layer input, g[0] its gradient */
    const char *wname[MAXW];
    float *w[MAXW], *g[MAXW];
    size_t wn[MAXW];
    /* layer arguments */
    ConvDims cd;
    int n, chunk, c, h, w_, hw, k, fi, fo, has_bias;
    size_t m;
    float *col, *save_mean, *save_rstd, *rmean, *rvar, *probs, s, smoothing;
    int *labels;
};

static void case_add(Case *c, const char *name, float *w, size_t n) {
    c->wname[c->nw] = name;
    c->w[c->nw] = w;
    c->g[c->nw] = fnew(n);
    c->wn[c->nw] = n;
    c->nw++;
}

static void case_out(Case *c, size_t n) {
    c->n_out = n;
    c->out = fnew(n);
    c->dout = randn(n);
}

static void case_free(Case *c) {
    for (int j = 0; j < c->nw; j++) {
        free(c->w[j]);
        free(c->g[j]);
    }
    free(c->out); free(c->dout); free(c->col); free(c->save_mean); free(c->save_rstd);
    free(c->rmean); free(c->rvar); free(c->probs); free(c->labels);
    memset(c, 0, sizeof *c);
}

static double objective(Case *c) {
    c->fwd(c);
    double s = 0.0;
    for (size_t i = 0; i < c->n_out; i++) s += (double)c->dout[i] * c->out[i];
    return s;
}

static double max_abs(const float *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* Central differences on up to 150 entries of each input; error = max|fd - analytic| / max|fd|. */
static void check_case(Case *c, float eps, double tol) {
    float *g1[MAXW];
    for (int j = 0; j < c->nw; j++) memset(c->g[j], 0, c->wn[j] * sizeof(float));
    c->fwd(c);
    c->bwd(c);
    for (int j = 0; j < c->nw; j++) {
        g1[j] = fnew(c->wn[j]);
        memcpy(g1[j], c->g[j], c->wn[j] * sizeof(float));
    }
    /* a second backward must add the same gradient again */
    c->bwd(c);
    for (int j = 0; j < c->nw; j++) {
        double err = 0.0, scale = 2.0 * max_abs(g1[j], c->wn[j]);
        for (size_t i = 0; i < c->wn[j]; i++) err = fmax(err, fabs(c->g[j][i] - 2.0 * g1[j][i]));
        T_CHECK(scale > 0 && err <= 1e-6 * scale, "%s: d%s does not accumulate (err %g of %g)", c->name,
                c->wname[j], err, scale);
    }
    for (int j = 0; j < c->nw; j++) {
        const size_t n = c->wn[j], checks = n < 150 ? n : 150;
        double err = 0.0, scale = 0.0;
        for (size_t t = 0; t < checks; t++) {
            const size_t i = checks == n ? t : rng_below(&R, (uint32_t)n);
            float *x = &c->w[j][i];
            const float v = *x, hi = v + eps, lo = v - eps;
            *x = hi;
            const double fp = objective(c);
            *x = lo;
            const double fm = objective(c);
            *x = v;
            const double fd = (fp - fm) / ((double)hi - (double)lo);
            err = fmax(err, fabs(fd - g1[j][i]));
            scale = fmax(scale, fabs(fd));
        }
        const double rel = err / fmax(scale, 1e-30);
        T_CHECK(scale > 0 && rel <= tol, "%s: d%s FD mismatch: rel err %.3g (tol %.1g, max|g| %.3g)", c->name,
                c->wname[j], rel, tol, scale);
        printf("  %-34s d%-6s rel err %.2e\n", c->name, c->wname[j], rel);
        free(g1[j]);
    }
}

/* Relative max error of out vs a reference, checked. */
static void check_fwd(const char *name, const float *got, const double *ref, size_t n, double tol) {
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    T_CHECK(err <= tol * fmax(scale, 1e-30), "%s: forward differs from direct formula: %g of %g", name, err, scale);
}

/* ---------------------------------------------------------------- conv2d */

static void conv_fwd(Case *c) {
    conv2d_forward(c->out, c->w[0], c->w[1], c->has_bias ? c->w[2] : NULL, c->col, &c->cd, c->n, c->chunk, NULL, 0);
}
static void conv_bwd(Case *c) {
    conv2d_backward(c->g[0], c->g[1], c->has_bias ? c->g[2] : NULL, c->dout, c->w[0], c->w[1], c->col, &c->cd,
                    c->n, c->chunk, NULL, 0);
}

static void test_conv(int ci, int co, int k, int stride, int pad, int h, int n, int chunk, int bias) {
    char name[96];
    Case c = {.name = name, .fwd = conv_fwd, .bwd = conv_bwd, .n = n, .chunk = chunk, .has_bias = bias};
    conv_dims_init(&c.cd, ci, co, k, stride, pad, h, h);
    const char *kern = conv2d_kernel(&c.cd, n);
    snprintf(name, sizeof name, "conv %s %d>%d k%d s%d p%d %dx%d n%d%s",
             strstr(kern, "wino") ? "wino" : strncmp(kern, "onednn", 6) ? "gemm" : "dnnl", ci, co, k, stride, pad, h,
             h, n, bias ? " b" : "");
    const ConvDims *d = &c.cd;
    case_add(&c, "x", randn((size_t)ci * n * h * h), (size_t)ci * n * h * h);
    case_add(&c, "w", randn((size_t)co * ci * k * k), (size_t)co * ci * k * k);
    if (bias) case_add(&c, "b", randn(co), co);
    case_out(&c, (size_t)co * n * d->ho * d->wo);
    c.col = fnew((size_t)ci * k * k * chunk * d->ho * d->wo);

    /* direct convolution over CNHW */
    double *ref = xMalloc(c.n_out * sizeof *ref);
    for (int o = 0; o < co; o++)
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < d->ho; oy++)
                for (int ox = 0; ox < d->wo; ox++) {
                    double s = bias ? c.w[2][o] : 0.0;
                    for (int i = 0; i < ci; i++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= h) continue;
                                s += (double)c.w[1][((o * ci + i) * k + ky) * k + kx] *
                                     c.w[0][(((size_t)i * n + b) * h + iy) * h + ix];
                            }
                    ref[(((size_t)o * n + b) * d->ho + oy) * d->wo + ox] = s;
                }
    conv_fwd(&c);
    check_fwd(name, c.out, ref, c.n_out, 1e-5);
    free(ref);
    check_case(&c, 1e-2f, 1e-2);

    /* din = NULL ("not needed") must leave the weight gradient unchanged */
    float *gw = fnew(c.wn[1]), *gw_null = fnew(c.wn[1]);
    conv_fwd(&c);
    conv2d_backward(c.g[0], gw, NULL, c.dout, c.w[0], c.w[1], c.col, d, n, chunk, NULL, 0);
    conv2d_backward(NULL, gw_null, NULL, c.dout, c.w[0], c.w[1], c.col, d, n, chunk, NULL, 0);
    T_CHECK(t_max_rel_err(gw_null, gw, c.wn[1]) <= 1e-6, "%s: dweight depends on din being requested", name);
    /* the _set variant writes din, whatever was there (the model skips zeroing it), and nothing else changes */
    const size_t nin = c.wn[0];
    float *din_set = fnew(nin), *gw_set = fnew(c.wn[1]);
    for (size_t i = 0; i < nin; i++) din_set[i] = 1e30f; /* a stale value that survives anywhere it is not written */
    conv2d_backward_set(din_set, gw_set, NULL, c.dout, c.w[0], c.w[1], c.col, d, n, chunk, NULL, 0);
    for (size_t i = 0; i < nin; i++) c.g[0][i] = 0.0f;
    memset(gw, 0, c.wn[1] * sizeof(float));
    conv2d_backward(c.g[0], gw, NULL, c.dout, c.w[0], c.w[1], c.col, d, n, chunk, NULL, 0);
    size_t differ = 0; /* by value: 0 + -0 is +0 where writing gives -0 */
    for (size_t i = 0; i < nin; i++) differ += din_set[i] != c.g[0][i];
    for (size_t i = 0; i < c.wn[1]; i++) differ += gw_set[i] != gw[i];
    T_CHECK(differ == 0, "%s: backward_set differs from backward onto a zeroed din (max rel err %g)", name,
            t_max_rel_err(din_set, c.g[0], nin));
    free(din_set);
    free(gw_set);
    free(gw);
    free(gw_null);
    case_free(&c);
}

/* ---------------------------------------------------------------- batch norm */

static void bn_fwd(Case *c) {
    batchnorm_forward_train(c->out, c->save_mean, c->save_rstd, c->rmean, c->rvar, c->w[0], c->w[1], c->w[2],
                            c->c, c->m, 0.1f, 1e-5f);
}
static void bn_bwd(Case *c) {
    batchnorm_backward(c->g[0], c->g[1], c->g[2], c->dout, c->w[0], c->w[1], c->save_mean, c->save_rstd, c->c,
                       c->m);
}

static void test_bn(int ch, size_t m) {
    Case c = {.name = "batchnorm2d train", .fwd = bn_fwd, .bwd = bn_bwd, .c = ch, .m = m};
    float *x = randn(ch * m);
    for (size_t i = 0; i < ch * m; i++) x[i] = 2.0f * x[i] + 0.5f; /* non-trivial mean and variance */
    case_add(&c, "x", x, ch * m);
    float *gamma = randn(ch), *beta = randn(ch);
    case_add(&c, "gamma", gamma, ch);
    case_add(&c, "beta", beta, ch);
    case_out(&c, ch * m);
    c.save_mean = fnew(ch); c.save_rstd = fnew(ch); c.rmean = fnew(ch); c.rvar = fnew(ch);

    /* forward and running statistics against the direct formulas */
    double *ref = xMalloc(ch * m * sizeof *ref);
    float *rm0 = randn(ch), *rv0 = fnew(ch);
    for (int j = 0; j < ch; j++) rv0[j] = 0.5f + (float)j;
    memcpy(c.rmean, rm0, ch * sizeof(float));
    memcpy(c.rvar, rv0, ch * sizeof(float));
    bn_fwd(&c);
    for (int j = 0; j < ch; j++) {
        double mean = 0.0, ss = 0.0;
        for (size_t i = 0; i < m; i++) mean += x[j * m + i];
        mean /= (double)m;
        for (size_t i = 0; i < m; i++) ss += (x[j * m + i] - mean) * (x[j * m + i] - mean);
        const double rstd = 1.0 / sqrt(ss / (double)m + 1e-5);
        for (size_t i = 0; i < m; i++) ref[j * m + i] = gamma[j] * (x[j * m + i] - mean) * rstd + beta[j];
        const double erm = 0.9 * rm0[j] + 0.1 * mean, erv = 0.9 * rv0[j] + 0.1 * ss / (double)(m - 1);
        T_CHECK(t_close(c.rmean[j], erm, 1e-5, 1e-6), "bn running_mean[%d] %g, expected %g", j, c.rmean[j], erm);
        T_CHECK(t_close(c.rvar[j], erv, 1e-5, 1e-6), "bn running_var[%d] %g, expected %g (unbiased)", j,
                c.rvar[j], erv);
    }
    check_fwd("batchnorm2d train", c.out, ref, ch * m, 1e-5);

    /* eval mode normalizes with the running statistics and leaves them alone */
    float *y = fnew(ch * m);
    batchnorm_forward_eval(y, x, gamma, beta, rm0, rv0, ch, m, 1e-5f);
    for (int j = 0; j < ch; j++)
        for (size_t i = 0; i < m; i++)
            ref[j * m + i] = gamma[j] * (x[j * m + i] - rm0[j]) / sqrt(rv0[j] + 1e-5) + beta[j];
    check_fwd("batchnorm2d eval", y, ref, ch * m, 1e-5);
    free(y); free(ref); free(rm0); free(rv0);

    check_case(&c, 1e-3f, 1e-2);
    case_free(&c);
}

/* ---------------------------------------------------------------- elementwise, pools, flatten */

static void relu_fwd(Case *c) { relu_forward(c->out, c->w[0], c->n_out); }
static void relu_bwd(Case *c) { relu_backward(c->g[0], c->dout, c->out, c->n_out); }

static void test_relu(void) {
    const size_t n = 120;
    Case c = {.name = "relu", .fwd = relu_fwd, .bwd = relu_bwd};
    float *x = randn(n);
    for (size_t i = 0; i < n; i++) x[i] += x[i] > 0 ? 0.1f : -0.1f; /* keep clear of the kink */
    case_add(&c, "x", x, n);
    case_out(&c, n);
    double *ref = xMalloc(n * sizeof *ref);
    for (size_t i = 0; i < n; i++) ref[i] = x[i] > 0 ? x[i] : 0.0;
    relu_fwd(&c);
    check_fwd("relu", c.out, ref, n, 0);
    free(ref);
    check_case(&c, 1e-2f, 1e-2);
    case_free(&c);
}

static void maxpool_fwd(Case *c) { maxpool2_forward(c->out, c->w[0], (size_t)c->c * c->n, c->h, c->w_); }
static void maxpool_bwd(Case *c) {
    maxpool2_backward(c->g[0], c->dout, c->w[0], c->out, (size_t)c->c * c->n, c->h, c->w_);
}

static void test_maxpool(void) {
    const int ch = 3, n = 2, h = 6, w = 4;
    const size_t in = (size_t)ch * n * h * w, out = in / 4;
    Case c = {.name = "maxpool2", .fwd = maxpool_fwd, .bwd = maxpool_bwd, .c = ch, .n = n, .h = h, .w_ = w};
    case_add(&c, "x", distinct(in, 0.05f), in);
    case_out(&c, out);
    double *ref = xMalloc(out * sizeof *ref);
    const float *x = c.w[0];
    for (int p = 0; p < ch * n; p++)
        for (int oy = 0; oy < h / 2; oy++)
            for (int ox = 0; ox < w / 2; ox++) {
                double mx = -INFINITY;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) mx = fmax(mx, x[((size_t)p * h + 2 * oy + dy) * w + 2 * ox + dx]);
                ref[((size_t)p * (h / 2) + oy) * (w / 2) + ox] = mx;
            }
    maxpool_fwd(&c);
    check_fwd("maxpool2", c.out, ref, out, 0);
    free(ref);
    check_case(&c, 1e-2f, 1e-2);
    case_free(&c);
}

/* k x k windows at stride s (pool2d.c), overlapping or not, on odd sizes, against a direct reference */
static int pool_k, pool_s;
static void gmaxpool_fwd(Case *c) { maxpool_forward(c->out, c->w[0], (size_t)c->c * c->n, c->h, c->w_, pool_k, pool_s); }
static void gmaxpool_bwd(Case *c) {
    maxpool_backward(c->g[0], c->dout, c->w[0], c->out, (size_t)c->c * c->n, c->h, c->w_, pool_k, pool_s);
}
static void avgpool_fwd(Case *c) { avgpool_forward(c->out, c->w[0], (size_t)c->c * c->n, c->h, c->w_, pool_k, pool_s); }
static void avgpool_bwd(Case *c) {
    avgpool_backward(c->g[0], c->dout, (size_t)c->c * c->n, c->h, c->w_, pool_k, pool_s);
}

static void test_pool(int avg, int k, int s, int h, int w) {
    const int ch = 2, n = 2, ho = (h - k) / s + 1, wo = (w - k) / s + 1;
    const size_t in = (size_t)ch * n * h * w, out = (size_t)ch * n * ho * wo;
    char name[64];
    snprintf(name, sizeof name, "%s k%d s%d %dx%d", avg ? "avgpool" : "maxpool", k, s, h, w);
    pool_k = k;
    pool_s = s;
    Case c = {.name = name, .fwd = avg ? avgpool_fwd : gmaxpool_fwd, .bwd = avg ? avgpool_bwd : gmaxpool_bwd,
              .c = ch, .n = n, .h = h, .w_ = w};
    case_add(&c, "x", distinct(in, 0.05f), in);
    case_out(&c, out);
    double *ref = xMalloc(out * sizeof *ref);
    const float *x = c.w[0];
    for (int p = 0; p < ch * n; p++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double acc = avg ? 0.0 : -INFINITY;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) {
                        const double v = x[((size_t)p * h + oy * s + dy) * w + ox * s + dx];
                        acc = avg ? acc + v : fmax(acc, v);
                    }
                ref[((size_t)p * ho + oy) * wo + ox] = avg ? acc / (k * k) : acc;
            }
    c.fwd(&c);
    check_fwd(name, c.out, ref, out, avg ? 1e-6 : 0);
    free(ref);
    check_case(&c, 1e-2f, 1e-2);
    case_free(&c);
}

static void gap_fwd(Case *c) { global_avgpool_forward(c->out, c->w[0], c->c, c->n, c->hw); }
static void gap_bwd(Case *c) { global_avgpool_backward(c->g[0], c->dout, c->c, c->n, c->hw); }
static void gmp_fwd(Case *c) { global_maxpool_forward(c->out, c->w[0], c->c, c->n, c->hw); }
static void gmp_bwd(Case *c) { global_maxpool_backward(c->g[0], c->dout, c->w[0], c->out, c->c, c->n, c->hw); }
static void flat_fwd(Case *c) { flatten_forward(c->out, c->w[0], c->c, c->n, c->hw); }
static void flat_bwd(Case *c) { flatten_backward(c->g[0], c->dout, c->c, c->n, c->hw); }

/* The three CNHW [c][n][hw] -> NF reductions share one driver; kind: 0 avg, 1 max, 2 flatten. */
static void test_cnhw_to_nf(int kind) {
    static const char *names[] = {"global avg pool", "global max pool", "flatten"};
    const int ch = 4, n = 3, hw = 6;
    const size_t in = (size_t)ch * n * hw, out = kind == 2 ? in : (size_t)n * ch;
    Case c = {.name = names[kind], .c = ch, .n = n, .hw = hw};
    c.fwd = kind == 0 ? gap_fwd : kind == 1 ? gmp_fwd : flat_fwd;
    c.bwd = kind == 0 ? gap_bwd : kind == 1 ? gmp_bwd : flat_bwd;
    case_add(&c, "x", kind == 1 ? distinct(in, 0.05f) : randn(in), in);
    case_out(&c, out);
    double *ref = xMalloc(out * sizeof *ref);
    const float *x = c.w[0];
    for (int b = 0; b < n; b++)
        for (int j = 0; j < ch; j++) {
            const float *p = x + ((size_t)j * n + b) * hw;
            double s = 0.0, mx = -INFINITY;
            for (int i = 0; i < hw; i++) {
                s += p[i];
                mx = fmax(mx, p[i]);
                if (kind == 2) ref[((size_t)b * ch + j) * hw + i] = p[i]; /* torch.flatten of NCHW */
            }
            if (kind == 0) ref[(size_t)b * ch + j] = s / hw;
            if (kind == 1) ref[(size_t)b * ch + j] = mx;
        }
    c.fwd(&c);
    check_fwd(names[kind], c.out, ref, out, 1e-6);
    free(ref);
    check_case(&c, 1e-2f, 1e-2);
    case_free(&c);
}

/* ---------------------------------------------------------------- linear, add, scale */

static void lin_fwd(Case *c) {
    linear_forward(c->out, c->w[0], c->w[1], c->has_bias ? c->w[2] : NULL, c->n, c->fi, c->fo);
}
static void lin_bwd(Case *c) {
    linear_backward(c->g[0], c->g[1], c->has_bias ? c->g[2] : NULL, c->dout, c->w[0], c->w[1], c->n, c->fi, c->fo);
}

static void test_linear(int bias) {
    const int n = 5, fi = 7, fo = 4;
    Case c = {.name = bias ? "linear bias" : "linear no bias", .fwd = lin_fwd, .bwd = lin_bwd, .n = n, .fi = fi,
              .fo = fo, .has_bias = bias};
    case_add(&c, "x", randn((size_t)n * fi), (size_t)n * fi);
    case_add(&c, "w", randn((size_t)fo * fi), (size_t)fo * fi);
    if (bias) case_add(&c, "b", randn(fo), fo);
    case_out(&c, (size_t)n * fo);
    double *ref = xMalloc(c.n_out * sizeof *ref);
    for (int b = 0; b < n; b++)
        for (int o = 0; o < fo; o++) {
            double s = bias ? c.w[2][o] : 0.0;
            for (int i = 0; i < fi; i++) s += (double)c.w[0][b * fi + i] * c.w[1][o * fi + i];
            ref[b * fo + o] = s;
        }
    lin_fwd(&c);
    check_fwd(c.name, c.out, ref, c.n_out, 1e-5);
    free(ref);
    check_case(&c, 1e-2f, 1e-2);
    case_free(&c);
}

static void add_fwd(Case *c) { add_forward(c->out, c->w[0], c->w[1], c->n_out); }
static void add_bwd(Case *c) { add_backward(c->g[0], c->g[1], c->dout, c->n_out, 0, 0); }
static void scale_fwd(Case *c) { scale_forward(c->out, c->w[0], c->s, c->n_out); }
static void scale_bwd(Case *c) { scale_backward(c->g[0], c->dout, c->s, c->n_out); }

static void test_add_scale(void) {
    const size_t n = 50;
    Case a = {.name = "add", .fwd = add_fwd, .bwd = add_bwd};
    case_add(&a, "a", randn(n), n);
    case_add(&a, "b", randn(n), n);
    case_out(&a, n);
    double ref[50];
    for (size_t i = 0; i < n; i++) ref[i] = (double)a.w[0][i] + a.w[1][i];
    add_fwd(&a);
    check_fwd("add", a.out, ref, n, 1e-7);
    check_case(&a, 1e-2f, 1e-2);
    /* a NULL side is skipped (the network input has no gradient) */
    memset(a.g[1], 0, n * sizeof(float));
    add_backward(NULL, a.g[1], a.dout, n, 0, 0);
    T_CHECK(t_max_rel_err(a.g[1], a.dout, n) == 0, "add: db with da = NULL");
    case_free(&a);
    /* set: each side is written or added to as asked, across several blocks of the threaded loop */
    const size_t big = 40009;
    float *da = randn(big), *db = randn(big), *db0 = xMalloc(big * sizeof(float)), *dout = randn(big);
    memcpy(db0, db, big * sizeof(float));
    add_backward(da, db, dout, big, 1, 0);
    size_t bad = 0;
    for (size_t i = 0; i < big; i++) bad += da[i] != dout[i] || db[i] != db0[i] + dout[i];
    memcpy(db0, da, big * sizeof(float)); /* da now equals dout */
    add_backward(da, db, dout, big, 0, 1);
    for (size_t i = 0; i < big; i++) bad += da[i] != db0[i] + dout[i] || db[i] != dout[i];
    T_CHECK(bad == 0, "add: backward with set writes the wrong side or elements (%zu wrong)", bad);
    free(da); free(db); free(db0); free(dout);

    Case s = {.name = "scale 0.125", .fwd = scale_fwd, .bwd = scale_bwd, .s = 0.125f};
    case_add(&s, "x", randn(n), n);
    case_out(&s, n);
    for (size_t i = 0; i < n; i++) ref[i] = 0.125 * s.w[0][i];
    scale_fwd(&s);
    check_fwd("scale", s.out, ref, n, 1e-7);
    check_case(&s, 1e-2f, 1e-2);
    case_free(&s);
}

/* ---------------------------------------------------------------- softmax cross-entropy */

static void xent_fwd(Case *c) { c->out[0] = xent_forward(c->probs, c->w[0], c->labels, c->n, c->k, c->smoothing); }
static void xent_bwd(Case *c) { xent_backward(c->g[0], c->probs, c->labels, c->n, c->k, c->smoothing, c->dout[0]); }

static void test_xent(float smoothing) {
    const int n = 6, k = 5;
    char name[64];
    snprintf(name, sizeof name, "softmax xent smoothing %.2f", smoothing);
    Case c = {.name = name, .fwd = xent_fwd, .bwd = xent_bwd, .n = n, .k = k, .smoothing = smoothing};
    float *z = randn((size_t)n * k);
    for (int i = 0; i < n * k; i++) z[i] *= 3.0f;
    case_add(&c, "logits", z, (size_t)n * k);
    case_out(&c, 1);
    c.probs = fnew((size_t)n * k);
    c.labels = xMalloc(n * sizeof(int));
    for (int b = 0; b < n; b++) c.labels[b] = (int)rng_below(&R, k);
    /* PyTorch CrossEntropyLoss(label_smoothing): mean_b[(1-e)(lse - z_y) + e * mean_j(lse - z_j)] */
    double loss = 0.0;
    for (int b = 0; b < n; b++) {
        double s = 0.0, mean_z = 0.0;
        for (int j = 0; j < k; j++) {
            s += exp(z[b * k + j]);
            mean_z += z[b * k + j] / (double)k;
        }
        const double lse = log(s);
        loss += (1.0 - smoothing) * (lse - z[b * k + c.labels[b]]) + smoothing * (lse - mean_z);
    }
    loss /= n;
    xent_fwd(&c);
    T_CHECK(t_close(c.out[0], loss, 1e-6, 0), "%s: loss %.8g, expected %.8g", name, c.out[0], loss);
    for (int b = 0; b < n; b++) {
        double s = 0.0;
        for (int j = 0; j < k; j++) s += c.probs[b * k + j];
        T_CHECK(fabs(s - 1.0) < 1e-6, "%s: probabilities of row %d sum to %g", name, b, s);
    }
    check_case(&c, 1e-3f, 1e-2);
    case_free(&c);
}

/* ---------------------------------------------------------------- whole models */

/* Hash of every ReLU on/off state and every max-pool winner of the last forward: equal signatures mean two
 * forwards ran through the same smooth piece of the network. */
static uint64_t kink_signature(const Model *m) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        const Slot *si = &m->slots[l->in], *so = &m->slots[l->out];
        const size_t n_out = (size_t)so->c * so->h * so->w * m->batch;
        const char *kind = l->ops->kind;
        if (!strcmp(kind, "relu")) {
            for (size_t j = 0; j < n_out; j++) h = (h ^ (so->x[j] > 0.0f)) * 1099511628211ULL;
        } else if (!strcmp(kind, "maxpool")) {
            /* the first maximum of each window, in scan order, as the kernels pick it */
            const ConvDims *d = &l->conv;
            for (size_t p = 0; p < (size_t)si->c * m->batch; p++)
                for (int oy = 0; oy < d->ho; oy++)
                    for (int ox = 0; ox < d->wo; ox++) {
                        const float *x = si->x + p * d->h * d->w;
                        int best = oy * d->stride * d->w + ox * d->stride;
                        for (int dy = 0; dy < d->k; dy++)
                            for (int dx = 0; dx < d->k; dx++) {
                                const int q = (oy * d->stride + dy) * d->w + ox * d->stride + dx;
                                if (x[q] > x[best]) best = q;
                            }
                        h = (h ^ (uint64_t)best) * 1099511628211ULL;
                    }
        } else if (!strcmp(kind, "global_maxpool")) {
            const int hw = si->h * si->w;
            for (size_t p = 0; p < (size_t)si->c * m->batch; p++) {
                const float *x = si->x + p * hw;
                int best = 0;
                for (int q = 1; q < hw; q++)
                    if (x[q] > x[best]) best = q;
                h = (h ^ (uint64_t)best) * 1099511628211ULL;
            }
        }
    }
    return h;
}

/* Mean cross-entropy of the planned batch computed in double from the float logits. */
static double model_loss(Model *m) {
    model_forward(m, 1, 0);
    const float *z = model_logits(m);
    const int k = m->spec.classes;
    const double e = m->spec.label_smoothing;
    double total = 0.0;
    for (int b = 0; b < m->batch; b++) {
        const float *r = z + (size_t)b * k;
        double mx = r[0], s = 0.0, mean_z = 0.0;
        for (int j = 1; j < k; j++) mx = fmax(mx, r[j]);
        for (int j = 0; j < k; j++) {
            s += exp(r[j] - mx);
            mean_z += r[j] / (double)k;
        }
        const double lse = mx + log(s);
        total += (1.0 - e) * (lse - r[model_labels(m)[b]]) + e * (lse - mean_z);
    }
    return total / m->batch;
}

/* FD of one model on its current batch. Per trainable tensor: up to WANT entries checked (ok[t]) and the
 * largest error beyond float noise relative to the largest checked gradient (rel[t]); raw[t] without the
 * noise allowance. g is the analytic gradient. */
enum { FD_CAND = 24, FD_TOP = 8, FD_WANT = 3 };

static void model_fd_tensors(Model *m, const float *g, double delta, int *ok, double *rel, double *raw) {
    for (int t = 0; t < m->ps.n_views; t++) {
        const TensorView *v = &m->ps.views[t];
        ok[t] = 0;
        rel[t] = raw[t] = 0.0;
        if (!v->trainable) continue;
        const float *gv = g + v->offset;
        float *p = m->ps.data + v->offset;
        /* candidates: the entries with the largest gradients (where FD is best conditioned), then random */
        size_t idx[FD_CAND];
        int ni = 0;
        for (; ni < FD_TOP && (size_t)ni < v->numel; ni++) {
            size_t best = 0;
            double bv = -1;
            for (size_t i = 0; i < v->numel; i++) {
                int taken = 0;
                for (int r = 0; r < ni; r++) taken |= idx[r] == i;
                if (!taken && fabs(gv[i]) > bv) { bv = fabs(gv[i]); best = i; }
            }
            idx[ni] = best;
        }
        while (ni < FD_CAND && (size_t)ni < v->numel) idx[ni++] = rng_below(&R, (uint32_t)v->numel);
        /* ReLU and max make the loss piecewise smooth; a central difference is only valid when neither
         * nudge flips a ReLU or moves a max, so each entry uses the largest step that keeps the kink
         * signature, and entries with no such step are replaced by the next candidate. */
        static const float steps[5] = {1e-3f, 5e-4f, 2.5e-4f, 1.25e-4f, 6.25e-5f};
        double err = 0.0, rawerr = 0.0, scale = 0.0;
        for (int q = 0; q < ni && ok[t] < FD_WANT; q++) {
            float *px = &p[idx[q]];
            const float v0 = *px;
            model_loss(m);
            const uint64_t sig0 = kink_signature(m);
            for (int e = 0; e < 5; e++) {
                /* Richardson extrapolation of the central differences at h and h/2 cancels the h^2 term, which
                 * matters where batch-norm planes of a few values make the loss strongly curved; its rounding
                 * part is at most 6*delta/h. */
                double fd[2];
                int smooth = 1;
                for (int half = 0; half < 2 && smooth; half++) {
                    const float hh = steps[e] / (float)(1 + half), hi = v0 + hh, lo = v0 - hh;
                    *px = hi;
                    const double fp = model_loss(m);
                    smooth &= kink_signature(m) == sig0;
                    *px = lo;
                    const double fm = model_loss(m);
                    smooth &= kink_signature(m) == sig0;
                    *px = v0;
                    fd[half] = (fp - fm) / ((double)hi - lo);
                }
                if (!smooth) continue;
                const double d = fabs((4.0 * fd[1] - fd[0]) / 3.0 - gv[idx[q]]);
                rawerr = fmax(rawerr, d);
                err = fmax(err, d - 6.0 * delta / steps[e]);
                scale = fmax(scale, fabs(gv[idx[q]]));
                ok[t]++;
                break;
            }
        }
        rel[t] = err / fmax(scale, 1e-30);
        raw[t] = rawerr / fmax(scale, 1e-30);
    }
}

static void test_model_fd(const char *name, int c, int hw, int width, int batch, float smoothing) {
    ModelSpec spec = {.in_c = c, .in_h = hw, .in_w = hw, .classes = 10, .width = width,
                      .label_smoothing = smoothing};
    /* a preset by name, or a network spec in JSON (the language's form: every kind in one network) */
    Model *m = name[0] == '{' ? model_create_json(name, &spec) : model_create(name, &spec);
    if (name[0] == '{') name = m->name;
    model_init(m, 11);
    model_set_batch(m, batch);
    const size_t np = m->ps.n_params;
    const int nv = m->ps.n_views;
    float *g = fnew(np);
    int *ok = xMalloc((size_t)nv * sizeof *ok);
    double *rel = xMalloc((size_t)nv * sizeof *rel), *raw = xMalloc((size_t)nv * sizeof *raw);
    double delta = 0.0;
    /* A batch that puts some ReLU input within ~1e-5 of zero leaves no valid step for the parameters
     * upstream of it; such a batch is redrawn (at most twice). */
    for (int attempt = 0; attempt < 3; attempt++) {
        float *x = model_input(m);
        for (size_t i = 0; i < (size_t)batch * c * hw * hw; i++) x[i] = rng_normal(&R);
        for (int b = 0; b < batch; b++) model_labels(m)[b] = (int)rng_below(&R, 10);

        sgd_zero_grad(&m->ps);
        const float loss = model_forward(m, 1, 1);
        T_CHECK(t_close(loss, model_loss(m), 1e-6, 0), "%s: model_forward loss %g vs direct %g", name, loss,
                model_loss(m));
        model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        memcpy(g, m->ps.grad, np * sizeof(float));
        /* backward accumulates into ps.grad (gradient accumulation across micro-batches relies on it) */
        model_backward(m, 1.0f);
        double acc_err = 0.0;
        for (size_t i = 0; i < np; i++) acc_err = fmax(acc_err, fabs(m->ps.grad[i] - 2.0 * g[i]));
        T_CHECK(acc_err <= 1e-6 * 2.0 * max_abs(g, np), "%s: model_backward does not accumulate (%g)", name,
                acc_err);
        /* dloss scales the gradient */
        sgd_zero_grad(&m->ps);
        model_backward(m, 0.5f);
        double half_err = 0.0;
        for (size_t i = 0; i < np; i++) half_err = fmax(half_err, fabs(m->ps.grad[i] - 0.5 * g[i]));
        T_CHECK(half_err <= 1e-6 * max_abs(g, np), "%s: model_backward(0.5) is not half of model_backward(1)",
                name);

        /* The float forward makes the loss noisy at the 1e-8..1e-7 level. Measure that noise delta from the
         * residual of the linear model over tiny nudges; a central difference with step h then carries up to
         * delta/h of it, which the check allows on top of the relative tolerance. */
        delta = 0.0;
        float *px = m->ps.data; /* first entry of the first tensor */
        const float v0 = *px;
        const double l0 = model_loss(m);
        for (int k = -3; k <= 3; k++) {
            *px = v0 + (float)k * 3e-6f;
            delta = fmax(delta, fabs(model_loss(m) - l0 - g[0] * ((double)*px - v0)));
        }
        *px = v0;
        T_CHECK(delta < 1e-6, "%s: loss noise %g is too large for a finite-difference check", name, delta);

        model_fd_tensors(m, g, delta, ok, rel, raw);
        int starved = 0;
        for (int t = 0; t < nv; t++) starved += m->ps.views[t].trainable && ok[t] < 2;
        if (!starved) break;
        printf("  model %s: batch %d too close to a kink for %d tensors, redrawing\n", name, attempt, starved);
    }
    double worst = 0.0, worst_raw = 0.0;
    const char *worst_name = "-";
    int checked = 0;
    for (int t = 0; t < nv; t++) {
        const TensorView *v = &m->ps.views[t];
        if (!v->trainable) continue;
        checked += ok[t];
        T_CHECK(ok[t] >= 2, "%s: d%s: only %d entries clear of kinks", name, v->name, ok[t]);
        T_CHECK(rel[t] <= 1e-2, "%s: d%s FD mismatch: rel err %.3g beyond noise", name, v->name, rel[t]);
        if (rel[t] > worst) { worst = rel[t]; worst_name = v->name; }
        worst_raw = fmax(worst_raw, raw[t]);
    }
    printf("  model %-8s FD on %d entries: loss noise %.1e, worst rel err %.2e raw, %.2e beyond noise (%s)\n",
           name, checked, delta, worst_raw, worst, worst_name);
    free(g);
    free(ok);
    free(rel);
    free(raw);
    model_free(m);
}

/* model_bn_recompute_begin: running stats reset to (0, 1), then the plain average over the batches seen
 * (torch.optim.swa_utils.update_bn). Checked on the first BN layer against the statistics of its input. */
static void test_bn_recompute(void) {
    ModelSpec spec = {.in_c = 1, .in_h = 8, .in_w = 8, .classes = 10};
    Model *m = model_create("cnn", &spec);
    model_init(m, 5);
    const int n = 4;
    model_set_batch(m, n);
    const Layer *bnl = NULL;
    for (int i = 0; i < m->n_layers && !bnl; i++)
        if (!strcmp(m->layers[i].ops->kind, "bn")) bnl = &m->layers[i];
    const Slot *in = &m->slots[bnl->in];
    const int ch = in->c;
    const size_t plane = (size_t)n * in->h * in->w;
    float *rm = ps_tensor(&m->ps, bnl->rmean), *rv = ps_tensor(&m->ps, bnl->rvar);
    for (int j = 0; j < ch; j++) { rm[j] = 3.0f; rv[j] = 7.0f; }

    /* momentum 0.1 in ordinary training */
    float *x = model_input(m);
    for (size_t i = 0; i < (size_t)n * 64; i++) x[i] = rng_normal(&R);
    model_forward(m, 1, 0);
    for (int j = 0; j < ch; j++) {
        double mean = 0.0, ss = 0.0;
        for (size_t i = 0; i < plane; i++) mean += in->x[j * plane + i];
        mean /= plane;
        for (size_t i = 0; i < plane; i++) ss += (in->x[j * plane + i] - mean) * (in->x[j * plane + i] - mean);
        T_CHECK(t_close(rm[j], 0.9 * 3.0 + 0.1 * mean, 1e-5, 1e-6), "model bn momentum: mean[%d]", j);
        T_CHECK(t_close(rv[j], 0.9 * 7.0 + 0.1 * ss / (plane - 1), 1e-5, 1e-6), "model bn momentum: var[%d]", j);
    }

    model_bn_recompute_begin(m);
    for (int j = 0; j < ch; j++) T_CHECK(rm[j] == 0.0f && rv[j] == 1.0f, "recompute_begin must reset to (0, 1)");
    const int batches = 4;
    double *sum_mean = xCalloc(ch, sizeof(double)), *sum_var = xCalloc(ch, sizeof(double));
    for (int k = 0; k < batches; k++) {
        for (size_t i = 0; i < (size_t)n * 64; i++) x[i] = rng_normal(&R) * (1.0f + k) + k;
        model_forward(m, 1, 0);
        for (int j = 0; j < ch; j++) {
            double mean = 0.0, ss = 0.0;
            for (size_t i = 0; i < plane; i++) mean += in->x[j * plane + i];
            mean /= plane;
            for (size_t i = 0; i < plane; i++) ss += (in->x[j * plane + i] - mean) * (in->x[j * plane + i] - mean);
            sum_mean[j] += mean;
            sum_var[j] += ss / (plane - 1);
        }
        model_forward(m, 0, 0); /* eval passes must neither count nor change the statistics */
    }
    T_CHECK(m->bn_count == batches, "bn_count %ld after %d batches", m->bn_count, batches);
    for (int j = 0; j < ch; j++) {
        T_CHECK(t_close(rm[j], sum_mean[j] / batches, 1e-5, 1e-6), "cumulative running_mean[%d] %g vs %g", j,
                rm[j], sum_mean[j] / batches);
        T_CHECK(t_close(rv[j], sum_var[j] / batches, 1e-5, 1e-6), "cumulative running_var[%d] %g vs %g", j,
                rv[j], sum_var[j] / batches);
    }
    model_bn_recompute_end(m);
    T_CHECK(m->bn_momentum == 0.1f, "recompute_end restores momentum 0.1");
    free(sum_mean);
    free(sum_var);
    model_free(m);
}

/* One train step's loss and gradient of resnet9 (width 4) on a fixed batch, for the given thread count and
 * after `detour` planning for another batch size first. */
static float *resnet_grad(int threads, int detour, float *loss) {
    ModelSpec spec = {.in_c = 3, .in_h = 16, .in_w = 16, .classes = 10, .width = 4};
    Model *m = model_create("resnet9", &spec);
    model_init(m, 21);
    if (detour) {
        model_set_batch(m, detour);
        model_forward(m, 1, 0);
    }
    model_set_batch(m, 6);
    Rng r;
    rng_seed(&r, 77);
    for (size_t i = 0; i < (size_t)6 * 3 * 16 * 16; i++) model_input(m)[i] = rng_normal(&r);
    for (int b = 0; b < 6; b++) model_labels(m)[b] = (int)rng_below(&r, 10);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    sgd_zero_grad(&m->ps);
    *loss = model_forward(m, 1, 1);
    model_backward(m, 1.0f);
    omp_set_num_threads(saved);
    float *g = fnew(m->ps.n_params);
    memcpy(g, m->ps.grad, m->ps.n_params * sizeof(float));
    model_free(m);
    return g;
}

/* Gradients must not depend on the thread count (no races in im2col/col2im or the per-channel loops) nor on
 * the model having been planned for another batch size before (re-planning of the arena). */
static void test_threads_and_replan(void) {
    ModelSpec spec = {.in_c = 3, .in_h = 16, .in_w = 16, .classes = 10, .width = 4};
    Model *probe = model_create("resnet9", &spec);
    const size_t np = probe->ps.n_params;
    model_free(probe);
    float l1, l2, l3;
    float *g1 = resnet_grad(1, 0, &l1), *g2 = resnet_grad(2, 0, &l2), *g3 = resnet_grad(2, 11, &l3);
    const double e12 = t_max_rel_err(g2, g1, np), e13 = t_max_rel_err(g3, g2, np);
    T_CHECK(e12 <= 1e-5 && t_close(l1, l2, 1e-6, 0), "1 vs 2 threads: gradients differ by %g", e12);
    T_CHECK(e13 <= 1e-6 && l2 == l3, "re-planned model: gradients differ by %g", e13);
    printf("  resnet9 grads 1 vs 2 threads: %.1e; after re-planning: %.1e\n", e12, e13);
    free(g1);
    free(g2);
    free(g3);
}

/* On a CPU with AVX-512 (oneDNN's avx512_core) the Winograd path must really run, or its cases above would
 * silently test the direct kernels twice. */
static void check_wino_ran(void) {
    ConvDims d;
    conv_dims_init(&d, 16, 16, 3, 1, 1, 8, 8);
    const char *k = conv2d_kernel(&d, 5);
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx512) T_CHECK(strstr(k, "wino") != NULL, "conv 16>16 3x3 on an AVX-512 CPU ran %s, not Winograd", k);
    printf("  conv 16>16 3x3: %s%s\n", k, avx512 ? "" : " (no AVX-512: no Winograd on this CPU)");
}

int main(void) {
    rng_seed(&R, getenv("SWAP_TEST_SEED") ? (uint64_t)atoll(getenv("SWAP_TEST_SEED")) : 2024);
    /* Both convolution paths: im2col + GEMM, and oneDNN (when the build has it) whose blocked layouts (8 or 16
     * channels per block) get channel counts that are not multiples of a block, and batches that leave a
     * short last chunk. */
    const ConvImpl impls[3] = {CONV_GEMM, CONV_DIRECT, CONV_ONEDNN};
    for (int ii = 0; ii < 3; ii++) {
        conv2d_set_impl(impls[ii]);
        if (conv2d_impl() != impls[ii]) {
            printf("  conv: oneDNN not in this build, its cases skipped\n");
            continue;
        }
        test_conv(3, 4, 3, 1, 1, 6, 3, 3, 1);   /* 3x3 same, whole batch in one chunk */
        test_conv(3, 4, 3, 1, 1, 6, 3, 2, 0);   /* chunk smaller than (and not dividing) the batch */
        test_conv(2, 3, 3, 2, 1, 7, 3, 1, 1);   /* stride 2, odd size, one image per chunk */
        test_conv(3, 5, 1, 1, 0, 5, 4, 3, 1);   /* 1x1, no padding */
        test_conv(2, 3, 3, 1, 0, 5, 2, 1, 0);   /* valid 3x3 */
        test_conv(2, 2, 3, 1, 2, 4, 2, 2, 1);   /* padding 2: output larger than the input */
        test_conv(2, 3, 1, 2, 1, 6, 2, 2, 0);   /* 1x1 stride 2 with padding: border columns are all zero */
        test_conv(17, 20, 3, 1, 1, 7, 1, 1, 1); /* batch 1, channels past one block */
        test_conv(20, 33, 3, 1, 1, 8, 9, 4, 0); /* several chunks and a short last one */
        test_conv(19, 24, 3, 2, 1, 9, 5, 2, 1); /* stride 2, odd channels and size */
        test_conv(16, 24, 1, 1, 0, 6, 3, 3, 1); /* 1x1 on blocked channels */
        test_conv(24, 16, 1, 2, 0, 7, 2, 2, 0); /* 1x1 stride 2, no padding */
        test_conv(5, 18, 3, 1, 2, 5, 2, 2, 1);  /* padding 2 */
        /* 3x3 stride 1 from 16 channels: Winograd on CONV_ONEDNN where the CPU has it, direct otherwise */
        test_conv(16, 16, 3, 1, 1, 8, 5, 1, 0);  /* one block, several chunks */
        test_conv(24, 40, 3, 1, 1, 6, 11, 1, 1); /* channels not a multiple of 16, a short last chunk */
        test_conv(16, 20, 3, 1, 1, 5, 1, 1, 0);  /* batch 1, odd size */
        test_conv(32, 16, 3, 1, 0, 7, 3, 1, 0);  /* valid 3x3 */
        test_conv(16, 16, 3, 1, 2, 4, 2, 1, 1);  /* padding 2 */
        if (impls[ii] == CONV_ONEDNN) check_wino_ran();
    }
    conv2d_set_impl(CONV_AUTO);
    test_bn(3, 24);
    test_relu();
    test_maxpool();
    test_pool(0, 3, 2, 7, 9); /* overlapping windows, odd sizes */
    test_pool(0, 3, 1, 5, 5);
    test_pool(0, 2, 2, 5, 7); /* 2x2/2 on odd planes: the last row and column are dropped */
    test_pool(1, 2, 2, 6, 4);
    test_pool(1, 3, 1, 5, 6);
    test_pool(1, 3, 2, 7, 7);
    test_cnhw_to_nf(0);
    test_cnhw_to_nf(1);
    test_cnhw_to_nf(2);
    test_linear(1);
    test_linear(0);
    test_add_scale();
    test_xent(0.0f);
    test_xent(0.1f);
    test_bn_recompute();
    test_threads_and_replan();
    /* Hundreds of tiny forwards: threads only add fork/join overhead there (and stall badly on a busy
     * machine); the kernels' parallel paths were exercised above. */
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    test_model_fd("mlp", 1, 8, 0, 3, 0.0f);
    test_model_fd("cnn", 1, 8, 0, 4, 0.1f);
    test_model_fd("resnet9", 3, 8, 4, 3, 0.0f);
    /* every kind through the engine (each layer's ops, fusion and buffer sharing): stride-2 and biased convs, a
     * projection and an identity residual, both pools at odd sizes, both global pools, flatten, scale */
    test_model_fd("{\"name\":\"every_kind\",\"layers\":["
                  "{\"kind\":\"conv\",\"out\":4,\"k\":3,\"stride\":2,\"pad\":1,\"bias\":true},{\"kind\":\"bn\"},"
                  "{\"kind\":\"relu\"},"
                  "{\"kind\":\"residual\",\"body\":[{\"kind\":\"conv\",\"out\":5,\"k\":3,\"bias\":false},"
                  "{\"kind\":\"bn\"},{\"kind\":\"relu\"},{\"kind\":\"conv\",\"out\":5,\"k\":3}],"
                  "\"shortcut\":[{\"kind\":\"conv\",\"out\":5,\"k\":1,\"pad\":0}]},"
                  "{\"kind\":\"residual\",\"body\":[{\"kind\":\"bn\"},{\"kind\":\"relu\"},"
                  "{\"kind\":\"conv\",\"out\":5,\"k\":3}]},"
                  "{\"kind\":\"maxpool\",\"k\":2,\"stride\":1},{\"kind\":\"avgpool\",\"k\":2,\"stride\":1},"
                  "{\"kind\":\"residual\",\"body\":[{\"kind\":\"global_avgpool\"}],"
                  "\"shortcut\":[{\"kind\":\"global_maxpool\"}]},"
                  "{\"kind\":\"scale\",\"by\":0.5},{\"kind\":\"linear\",\"out\":6},{\"kind\":\"relu\"},"
                  "{\"kind\":\"linear\",\"out\":10}]}",
                  2, 9, 0, 3, 0.1f);
    test_model_fd("{\"name\":\"flat\",\"layers\":[{\"kind\":\"avgpool\",\"k\":3,\"stride\":2},"
                  "{\"kind\":\"flatten\"},{\"kind\":\"linear\",\"out\":10,\"bias\":false},"
                  "{\"kind\":\"scale\",\"by\":2}]}",
                  1, 7, 0, 3, 0.0f);
    omp_set_num_threads(threads);
    return t_exit("test_grad_layers");
}
