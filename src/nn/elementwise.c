/* Residual add and constant scale. */
#include <string.h>

#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* One gradient: written (a copy) or added to. */
CLONE_INLINE void add_grad(float *restrict d, const float *restrict dout, size_t n, int set) {
    if (!d) return;
    if (set)
        memcpy(d, dout, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++) d[i] += dout[i];
}

CPU_CLONES void add_backward(float *da, float *db, const float *dout, size_t n, int set_a, int set_b) {
    const size_t block = (size_t)1 << 14; /* both gradients of a block while its dout is in cache */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += block) {
        const size_t len = n - b < block ? n - b : block;
        add_grad(da ? da + b : NULL, dout + b, len, set_a);
        add_grad(db ? db + b : NULL, dout + b, len, set_b);
    }
}

void scale_forward(float *out, const float *in, float s, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] * s;
}

void scale_backward(float *din, const float *dout, float s, size_t n) {
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * s;
}
