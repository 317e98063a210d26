/* BatchNorm2d with PyTorch semantics over CNHW activations: each channel is one contiguous plane of m values.
 * Sums are accumulated in double so results do not depend on plane size; channels run in parallel, so the
 * result is independent of the thread count. */
#include <math.h>

#include <string.h>

#include "core/clones.h"
#include "nn/layers.h"

/* Reductions keep 8 independent double accumulators (lane j sums elements i = j mod 8), combined at the end.
 * Each lane is a plain ordered sum, so this needs no reassociation (no -ffast-math) and gives the same bits in
 * every CPU clone (core/clones.h); it is written with GCC vector types because the auto-vectorizer leaves
 * float->double reductions scalar. */
#define LANES 8
/* the helpers below are static and inlined, so their vector-return ABI never crosses a call boundary */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

CLONE_INLINE v8f load8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}
CLONE_INLINE void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
/* v where mask lane is set, else +0.0f: bit-exact select */
CLONE_INLINE v8f select_pos(v8f v, v8f key) {
    v8i k = key > 0.0f, bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= k;
    memcpy(&v, &bits, sizeof v);
    return v;
}

CLONE_INLINE double combine(const double *acc) {
    double s = 0.0;
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}
/* The 8 double lanes as one vector: an AVX-512 register in the x86-64-v4 clone, two in the AVX2 one (the
 * baseline splits it into four SSE pairs and spills some, which only CPUs without AVX2 run). */
typedef double v8d __attribute__((vector_size(64)));
CLONE_INLINE v8d cvt8(v8f v) { return __builtin_convertvector(v, v8d); }
CLONE_INLINE double sum_d(const float *x, size_t m) {
    v8d a = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES) a += cvt8(load8(x + i));
    double t[LANES];
    memcpy(t, &a, sizeof t);
    for (; i < m; i++) t[0] += x[i];
    return combine(t);
}

/* sum (x - mean)^2 */
CLONE_INLINE double sumsq_centered_d(const float *x, double mean, size_t m) {
    v8d a = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES) { const v8d t = cvt8(load8(x + i)) - mean; a += t * t; }
    double r[LANES];
    memcpy(r, &a, sizeof r);
    for (; i < m; i++) { const double t = x[i] - mean; r[0] += t * t; }
    return combine(r);
}

CPU_CLONES static void bn_forward_train(float *out, float *save_mean, float *save_rstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma, const float *beta,
                             int c, size_t m, float momentum, float eps, int relu) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *x = in + (size_t)ch * m;
        float *y = out + (size_t)ch * m;
        const double mean = sum_d(x, m) / (double)m;
        const double ss = sumsq_centered_d(x, mean, m);
        const double var = ss / (double)m;
        const float rstd = (float)(1.0 / sqrt(var + eps));
        const float fmean = (float)mean;
        const float a = gamma[ch] * rstd, b = beta[ch] - fmean * a;
        if (relu)
            for (size_t i = 0; i < m; i++) {
                const float t = x[i] * a + b;
                y[i] = t > 0.0f ? t : 0.0f;
            }
        else
            for (size_t i = 0; i < m; i++) y[i] = x[i] * a + b;
        save_mean[ch] = fmean;
        save_rstd[ch] = rstd;
        const double unbiased = m > 1 ? ss / (double)(m - 1) : var;
        const float f = momentum;
        running_mean[ch] = (1.0f - f) * running_mean[ch] + f * fmean;
        running_var[ch] = (1.0f - f) * running_var[ch] + f * (float)unbiased;
    }
}

void batchnorm_forward_train(float *out, float *save_mean, float *save_rstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma, const float *beta,
                             int c, size_t m, float momentum, float eps) {
    bn_forward_train(out, save_mean, save_rstd, running_mean, running_var, in, gamma, beta, c, m, momentum, eps, 0);
}

void batchnorm_relu_forward_train(float *out, float *save_mean, float *save_rstd, float *running_mean,
                                  float *running_var, const float *in, const float *gamma, const float *beta,
                                  int c, size_t m, float momentum, float eps) {
    bn_forward_train(out, save_mean, save_rstd, running_mean, running_var, in, gamma, beta, c, m, momentum, eps, 1);
}

CPU_CLONES static void bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, int c, size_t m, float eps,
                            int relu) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float rstd = 1.0f / sqrtf(running_var[ch] + eps);
        const float a = gamma[ch] * rstd, b = beta[ch] - running_mean[ch] * a;
        const float *x = in + (size_t)ch * m;
        float *y = out + (size_t)ch * m;
        if (relu)
            for (size_t i = 0; i < m; i++) {
                const float t = x[i] * a + b;
                y[i] = t > 0.0f ? t : 0.0f;
            }
        else
            for (size_t i = 0; i < m; i++) y[i] = x[i] * a + b;
    }
}

void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, int c, size_t m, float eps) {
    bn_forward_eval(out, in, gamma, beta, running_mean, running_var, c, m, eps, 0);
}

void batchnorm_relu_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, int c, size_t m, float eps) {
    bn_forward_eval(out, in, gamma, beta, running_mean, running_var, c, m, eps, 1);
}

/* Gradient reaching the BN output: dy, or with a fused ReLU dy where the BN output t = x*ra + rb was > 0, else 0:
 * exactly what a separate ReLU backward into a zeroed buffer would give. t is recomputed with the forward's own
 * float operations (ra = gamma*rstd, rb = beta - mean*ra; no contraction), so the mask is the forward's, bit for
 * bit, without reading the ReLU output: one stream less in both passes below. */
CLONE_INLINE float masked(const float *dy, const float *x, int relu, float ra, float rb, size_t i) {
    return relu ? (x[i] * ra + rb > 0.0f ? dy[i] : 0.0f) : dy[i];
}
CLONE_INLINE v8f masked8(const float *dy, const float *x, int relu, float ra, float rb, size_t i) {
    const v8f g = load8(dy + i);
    return relu ? select_pos(g, load8(x + i) * ra + rb) : g;
}

CLONE_INLINE void bn_backward_channel(float *restrict dx, float *dgamma, float *dbeta, const float *restrict dy,
                                      int relu, float beta, const float *restrict x, float gamma, float mean,
                                      float rstd, size_t m, int set) {
    const float ra = gamma * rstd, rb = beta - mean * ra; /* as bn_forward_train's a and b */
    v8d s = {0}, p = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES) {
        const v8f g = masked8(dy, x, relu, ra, rb, i);
        const v8f xh = (load8(x + i) - mean) * rstd;
        const v8d gd = cvt8(g);
        s += gd;
        p += gd * cvt8(xh);
    }
    double a1[LANES], a2[LANES];
    memcpy(a1, &s, sizeof a1);
    memcpy(a2, &p, sizeof a2);
    for (; i < m; i++) {
        const float g = masked(dy, x, relu, ra, rb, i);
        a1[0] += g;
        a2[0] += (double)g * ((x[i] - mean) * rstd);
    }
    const double sdy = combine(a1), sdyx = combine(a2);
    *dgamma += (float)sdyx;
    *dbeta += (float)sdy;
    if (!dx) return;
    /* dx = gamma*rstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)) */
    const float k = gamma * rstd;
    const float mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
    for (i = 0; i + LANES <= m; i += LANES) {
        const v8f g = masked8(dy, x, relu, ra, rb, i);
        const v8f xh = (load8(x + i) - mean) * rstd;
        const v8f v = k * (g - mdy - xh * mdyx);
        store8(dx + i, set ? v : load8(dx + i) + v);
    }
    for (; i < m; i++) {
        const float xhat = (x[i] - mean) * rstd;
        const float v = k * (masked(dy, x, relu, ra, rb, i) - mdy - xhat * mdyx);
        dx[i] = set ? v : dx[i] + v;
    }
}

/* beta is read only with a fused ReLU (relu = 1), to recompute its mask */
CPU_CLONES static void bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, int relu,
                                   const float *beta, const float *in, const float *gamma, const float *save_mean,
                                   const float *save_rstd, int c, size_t m, int set) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const size_t o = (size_t)ch * m;
        float *dx = din ? din + o : NULL;
        /* separate calls with a constant relu let each loop specialize */
        if (relu)
            bn_backward_channel(dx, dgamma + ch, dbeta + ch, dout + o, 1, beta[ch], in + o, gamma[ch],
                                save_mean[ch], save_rstd[ch], m, set);
        else
            bn_backward_channel(dx, dgamma + ch, dbeta + ch, dout + o, 0, 0.0f, in + o, gamma[ch], save_mean[ch],
                                save_rstd[ch], m, set);
    }
}

void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *gamma, const float *save_mean, const float *save_rstd, int c, size_t m) {
    bn_backward(din, dgamma, dbeta, dout, 0, NULL, in, gamma, save_mean, save_rstd, c, m, 0);
}

void batchnorm_backward_set(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                            const float *gamma, const float *save_mean, const float *save_rstd, int c, size_t m) {
    bn_backward(din, dgamma, dbeta, dout, 0, NULL, in, gamma, save_mean, save_rstd, c, m, 1);
}

void batchnorm_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                             const float *gamma, const float *beta, const float *save_mean, const float *save_rstd,
                             int c, size_t m) {
    bn_backward(din, dgamma, dbeta, dout, 1, beta, in, gamma, save_mean, save_rstd, c, m, 0);
}

void batchnorm_relu_backward_set(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                 const float *gamma, const float *beta, const float *save_mean,
                                 const float *save_rstd, int c, size_t m) {
    bn_backward(din, dgamma, dbeta, dout, 1, beta, in, gamma, save_mean, save_rstd, c, m, 1);
}
