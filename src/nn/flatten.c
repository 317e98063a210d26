/* Flatten CNHW [c][n][hw] -> NF [n][c*hw], feature index = ch*hw + i as in torch.flatten of NCHW. */
#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void flatten_forward(float *out, const float *in, int c, int n, int hw) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            const float *x = in + ((size_t)ch * n + b) * hw;
            float *y = out + ((size_t)b * c + ch) * hw;
            for (int i = 0; i < hw; i++) y[i] = x[i];
        }
}

CPU_CLONES void flatten_backward(float *din, const float *dout, int c, int n, int hw) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            float *dx = din + ((size_t)ch * n + b) * hw;
            const float *dy = dout + ((size_t)b * c + ch) * hw;
            for (int i = 0; i < hw; i++) dx[i] += dy[i];
        }
}
