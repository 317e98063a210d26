/* k x k pooling windows at any stride, no padding (PyTorch MaxPool2d/AvgPool2d with floor output size), over
 * planes of h x w. The 2x2/2 max pool on even planes has its own faster kernel (maxpool2d.c). */
#include <string.h>

#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void maxpool_forward(float *out, const float *in, size_t planes, int h, int w, int k, int s) {
    const int ho = (h - k) / s + 1, wo = (w - k) / s + 1;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        float *y = out + p * (size_t)ho * wo;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                const float *r = x + (size_t)oy * s * w + (size_t)ox * s;
                float m = r[0];
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++)
                        if (r[(size_t)dy * w + dx] > m) m = r[(size_t)dy * w + dx];
                y[(size_t)oy * wo + ox] = m;
            }
    }
}

/* The gradient goes to the first maximum of each window in scan order, as the forward found it. */
CPU_CLONES void maxpool_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int h, int w,
                      int k, int s) {
    const int ho = (h - k) / s + 1, wo = (w - k) / s + 1;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        const float *y = out + p * (size_t)ho * wo, *dy_ = dout + p * (size_t)ho * wo;
        float *dx_ = din + p * (size_t)h * w;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                const size_t base = (size_t)oy * s * w + (size_t)ox * s;
                const float m = y[(size_t)oy * wo + ox];
                int done = 0;
                for (int dy = 0; dy < k && !done; dy++)
                    for (int dx = 0; dx < k && !done; dx++)
                        if (x[base + (size_t)dy * w + dx] == m) {
                            dx_[base + (size_t)dy * w + dx] += dy_[(size_t)oy * wo + ox];
                            done = 1;
                        }
            }
    }
}

CPU_CLONES void avgpool_forward(float *out, const float *in, size_t planes, int h, int w, int k, int s) {
    const int ho = (h - k) / s + 1, wo = (w - k) / s + 1;
    const float inv = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        float *y = out + p * (size_t)ho * wo;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                const float *r = x + (size_t)oy * s * w + (size_t)ox * s;
                float acc = 0.0f;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) acc += r[(size_t)dy * w + dx];
                y[(size_t)oy * wo + ox] = acc * inv;
            }
    }
}

CPU_CLONES void avgpool_backward(float *din, const float *dout, size_t planes, int h, int w, int k, int s) {
    const int ho = (h - k) / s + 1, wo = (w - k) / s + 1;
    const float inv = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *dy_ = dout + p * (size_t)ho * wo;
        float *dx_ = din + p * (size_t)h * w;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                const float g = dy_[(size_t)oy * wo + ox] * inv;
                float *r = dx_ + (size_t)oy * s * w + (size_t)ox * s;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) r[(size_t)dy * w + dx] += g;
            }
    }
}
