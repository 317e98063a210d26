/* Residual add and constant scale. */
#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

CPU_CLONES void add_backward(float *da, float *db, const float *dout, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

void scale_forward(float *out, const float *in, float s, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] * s;
}

void scale_backward(float *din, const float *dout, float s, size_t n) {
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * s;
}
