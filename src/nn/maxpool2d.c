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

static void maxpool2_bwd(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                         int w, int set) {
    const int ho = h / 2, wo = w / 2;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        const float *y = out + p * (size_t)ho * wo, *dy = dout + p * (size_t)ho * wo;
        float *dx = din + p * (size_t)h * w;
        for (int oy = 0; oy < ho; oy++) {
            float *d0 = dx + (size_t)(2 * oy) * w, *d1 = d0 + w;
            const float *r0 = x + (size_t)(2 * oy) * w, *r1 = r0 + w;
            const float *ym = y + (size_t)oy * wo, *g = dy + (size_t)oy * wo;
            /* branch-free "first maximum in scan order" (bitwise, not short-circuit, so it if-converts) */
            for (int ox = 0; ox < wo; ox++) {
                const float m = ym[ox], gv = g[ox];
                const int q0 = r0[2 * ox] == m, q1 = r0[2 * ox + 1] == m, q2 = r1[2 * ox] == m, q3 = r1[2 * ox + 1] == m;
                const int e0 = q0, e1 = q1 & !q0, e2 = q2 & !(q0 | q1), e3 = q3 & !(q0 | q1 | q2);
                const float v0 = e0 ? gv : 0.0f, v1 = e1 ? gv : 0.0f, v2 = e2 ? gv : 0.0f, v3 = e3 ? gv : 0.0f;
                if (set) {
                    d0[2 * ox] = v0; d0[2 * ox + 1] = v1; d1[2 * ox] = v2; d1[2 * ox + 1] = v3;
                } else {
                    d0[2 * ox] += v0; d0[2 * ox + 1] += v1; d1[2 * ox] += v2; d1[2 * ox + 1] += v3;
                }
            }
        }
    }
}

void maxpool2_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                       int w) {
    maxpool2_bwd(din, dout, in, out, planes, h, w, 0);
}

void maxpool2_backward_set(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                           int w) {
    maxpool2_bwd(din, dout, in, out, planes, h, w, 1);
}
