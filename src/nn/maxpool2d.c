/* 2x2/2 max pool. Backward recomputes the argmax from input and output (first maximum in scan order, like
 * the forward), which saves an index buffer as large as the output. */
#include "layers.h"

void maxpool2_forward(float *out, const float *in, size_t planes, int h, int w) {
    const int ho = h / 2, wo = w / 2;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        float *y = out + p * (size_t)ho * wo;
        for (int oy = 0; oy < ho; oy++) {
            const float *r0 = x + (size_t)(2 * oy) * w, *r1 = r0 + w;
            for (int ox = 0; ox < wo; ox++) {
                float m = r0[2 * ox];
                if (r0[2 * ox + 1] > m) m = r0[2 * ox + 1];
                if (r1[2 * ox] > m) m = r1[2 * ox];
                if (r1[2 * ox + 1] > m) m = r1[2 * ox + 1];
                y[oy * wo + ox] = m;
            }
        }
    }
}

void maxpool2_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                       int w) {
    const int ho = h / 2, wo = w / 2;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        const float *y = out + p * (size_t)ho * wo, *dy = dout + p * (size_t)ho * wo;
        float *dx = din + p * (size_t)h * w;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                const float m = y[oy * wo + ox], g = dy[oy * wo + ox];
                const size_t i00 = (size_t)(2 * oy) * w + 2 * ox;
                const size_t idx[4] = {i00, i00 + 1, i00 + w, i00 + w + 1};
                for (int j = 0; j < 4; j++)
                    if (x[idx[j]] == m) {
                        dx[idx[j]] += g;
                        break;
                    }
            }
    }
}
