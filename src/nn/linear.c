#include "nn/layers.h"
#include "nn/parallel.h"

void linear_forward(float *out, const float *in, const float *weight, const float *bias, int n, int i, int o) {
    sgemm_par(0, 1, n, o, i, 1.0f, in, i, weight, i, 0.0f, out, o);
    if (bias)
        for (int b = 0; b < n; b++)
            for (int j = 0; j < o; j++) out[(size_t)b * o + j] += bias[j];
}

void linear_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                     const float *weight, int n, int i, int o) {
    /* dW[o][i] += dout^T[o][n] x in[n][i] */
    sgemm_par(1, 0, o, i, n, 1.0f, dout, o, in, i, 1.0f, dweight, i);
    if (dbias)
        for (int j = 0; j < o; j++) {
            double acc = 0.0;
            for (int b = 0; b < n; b++) acc += dout[(size_t)b * o + j];
            dbias[j] += (float)acc;
        }
    if (din) sgemm_par(0, 0, n, i, o, 1.0f, dout, o, weight, i, 1.0f, din, i);
}
