/* BatchNorm2d with PyTorch semantics over CNHW activations: each channel is one contiguous plane of m values.
 * Sums are accumulated in double so results do not depend on plane size; channels run in parallel, so the
 * result is independent of the thread count. */
#include <math.h>

#include "layers.h"

void batchnorm_forward_train(float *out, float *save_mean, float *save_rstd, float *running_mean,
                             float *running_var, const float *in, const float *gamma, const float *beta,
                             int c, size_t m, float momentum, float eps) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *x = in + (size_t)ch * m;
        float *y = out + (size_t)ch * m;
        double sum = 0.0;
        for (size_t i = 0; i < m; i++) sum += x[i];
        const double mean = sum / (double)m;
        double ss = 0.0;
        for (size_t i = 0; i < m; i++) {
            const double t = x[i] - mean;
            ss += t * t;
        }
        const double var = ss / (double)m;
        const float rstd = (float)(1.0 / sqrt(var + eps));
        const float fmean = (float)mean;
        const float a = gamma[ch] * rstd, b = beta[ch] - fmean * a;
        for (size_t i = 0; i < m; i++) y[i] = x[i] * a + b;
        save_mean[ch] = fmean;
        save_rstd[ch] = rstd;
        const double unbiased = m > 1 ? ss / (double)(m - 1) : var;
        const float f = momentum;
        running_mean[ch] = (1.0f - f) * running_mean[ch] + f * fmean;
        running_var[ch] = (1.0f - f) * running_var[ch] + f * (float)unbiased;
    }
}

void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, int c, size_t m, float eps) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float rstd = 1.0f / sqrtf(running_var[ch] + eps);
        const float a = gamma[ch] * rstd, b = beta[ch] - running_mean[ch] * a;
        const float *x = in + (size_t)ch * m;
        float *y = out + (size_t)ch * m;
        for (size_t i = 0; i < m; i++) y[i] = x[i] * a + b;
    }
}

void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *gamma, const float *save_mean, const float *save_rstd, int c, size_t m) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *x = in + (size_t)ch * m, *dy = dout + (size_t)ch * m;
        const float mean = save_mean[ch], rstd = save_rstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < m; i++) {
            sdy += dy[i];
            sdyx += (double)dy[i] * ((x[i] - mean) * rstd);
        }
        dgamma[ch] += (float)sdyx;
        dbeta[ch] += (float)sdy;
        if (!din) continue;
        /* dx = gamma*rstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)) */
        const float k = gamma[ch] * rstd;
        const float mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
        float *dx = din + (size_t)ch * m;
        for (size_t i = 0; i < m; i++) {
            const float xhat = (x[i] - mean) * rstd;
            dx[i] += k * (dy[i] - mdy - xhat * mdyx);
        }
    }
}
