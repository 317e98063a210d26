#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

/* dx += (y > 0) ? dy : 0 over restrict blocks so the loop vectorizes to a select: about half the signs are
 * random, which a branch mispredicts. */
CLONE_INLINE void relu_backward_block(float *restrict din, const float *restrict dout, const float *restrict out,
                                size_t n) {
    for (size_t i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

CPU_CLONES void relu_backward(float *din, const float *dout, const float *out, size_t n) {
    const size_t block = 4096;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += block) relu_backward_block(din + b, dout + b, out + b, n - b < block ? n - b : block);
}
