/* Global average / max pooling: CNHW [c][n][hw] -> NF [n][c]. */
#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void global_avgpool_forward(float *out, const float *in, int c, int n, int hw) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++)
        for (int b = 0; b < n; b++) {
            const float *x = in + ((size_t)ch * n + b) * hw;
            float s = 0.0f;
            for (int i = 0; i < hw; i++) s += x[i];
            out[(size_t)b * c + ch] = s / (float)hw;
        }
}

CPU_CLONES void global_avgpool_backward(float *din, const float *dout, int c, int n, int hw) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++)
        for (int b = 0; b < n; b++) {
            const float g = dout[(size_t)b * c + ch] / (float)hw;
            float *dx = din + ((size_t)ch * n + b) * hw;
            for (int i = 0; i < hw; i++) dx[i] += g;
        }
}

CPU_CLONES void global_maxpool_forward(float *out, const float *in, int c, int n, int hw) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++)
        for (int b = 0; b < n; b++) {
            const float *x = in + ((size_t)ch * n + b) * hw;
            float m = x[0];
            for (int i = 1; i < hw; i++)
                if (x[i] > m) m = x[i];
            out[(size_t)b * c + ch] = m;
        }
}

CPU_CLONES void global_maxpool_backward(float *din, const float *dout, const float *in, const float *out, int c, int n,
                             int hw) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++)
        for (int b = 0; b < n; b++) {
            const float *x = in + ((size_t)ch * n + b) * hw;
            const float m = out[(size_t)b * c + ch];
            for (int i = 0; i < hw; i++)
                if (x[i] == m) {
                    din[((size_t)ch * n + b) * hw + i] += dout[(size_t)b * c + ch];
                    break;
                }
        }
}
