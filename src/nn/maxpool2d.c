/* 2x2/2 max pool. Backward recomputes the argmax from input and output (first maximum in scan order, like
 * the forward), which saves an index buffer as large as the output. */
#include <string.h>

#include "nn/layers.h"
#include "core/clones.h"

CPU_CLONES void maxpool2_forward(float *out, const float *in, size_t planes, int h, int w) {
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

/* 4-wide vector types (GCC >= 12 and clang share __builtin_shufflevector): plain SSE on the baseline target. The helpers are inlined, so the vector-return ABI
 * never crosses a call. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));
CLONE_INLINE v4f ld4(const float *p) { v4f v; memcpy(&v, p, sizeof v); return v; }
CLONE_INLINE void st4(float *p, v4f v) { memcpy(p, &v, sizeof v); }
CLONE_INLINE v4f keep(v4f v, v4i mask) { v4i b; memcpy(&b, &v, sizeof b); b &= mask; memcpy(&v, &b, sizeof v); return v; }

/* One output row: the gradient goes to the first maximum of each 2x2 window in scan order, as the forward found
 * it; branch-free masks, four windows at a time. */
CLONE_INLINE void pool_bwd_row(float *restrict d0, float *restrict d1, const float *r0, const float *r1,
                                const float *ym, const float *g, int wo, int set) {
    int ox = 0;
    for (; ox + 4 <= wo; ox += 4) {
        const v4f a0 = ld4(r0 + 2 * ox), b0 = ld4(r0 + 2 * ox + 4), a1 = ld4(r1 + 2 * ox), b1 = ld4(r1 + 2 * ox + 4);
        const v4f m = ld4(ym + ox), gv = ld4(g + ox);
        const v4i q0 = __builtin_shufflevector(a0, b0, 0, 2, 4, 6) == m, q1 = __builtin_shufflevector(a0, b0, 1, 3, 5, 7) == m;
        const v4i q2 = __builtin_shufflevector(a1, b1, 0, 2, 4, 6) == m, q3 = __builtin_shufflevector(a1, b1, 1, 3, 5, 7) == m;
        const v4f v0 = keep(gv, q0), v1 = keep(gv, q1 & ~q0), v2 = keep(gv, q2 & ~(q0 | q1));
        const v4f v3 = keep(gv, q3 & ~(q0 | q1 | q2));
        v4f w0 = __builtin_shufflevector(v0, v1, 0, 4, 1, 5), w1 = __builtin_shufflevector(v0, v1, 2, 6, 3, 7);
        v4f w2 = __builtin_shufflevector(v2, v3, 0, 4, 1, 5), w3 = __builtin_shufflevector(v2, v3, 2, 6, 3, 7);
        if (!set) {
            w0 += ld4(d0 + 2 * ox); w1 += ld4(d0 + 2 * ox + 4);
            w2 += ld4(d1 + 2 * ox); w3 += ld4(d1 + 2 * ox + 4);
        }
        st4(d0 + 2 * ox, w0); st4(d0 + 2 * ox + 4, w1); st4(d1 + 2 * ox, w2); st4(d1 + 2 * ox + 4, w3);
    }
    for (; ox < wo; ox++) {
        const float m = ym[ox], gv = g[ox];
        const int q0 = r0[2 * ox] == m, q1 = r0[2 * ox + 1] == m, q2 = r1[2 * ox] == m, q3 = r1[2 * ox + 1] == m;
        const int e1 = q1 & !q0, e2 = q2 & !(q0 | q1), e3 = q3 & !(q0 | q1 | q2);
        const float v0 = q0 ? gv : 0.0f, v1 = e1 ? gv : 0.0f, v2 = e2 ? gv : 0.0f, v3 = e3 ? gv : 0.0f;
        if (set) {
            d0[2 * ox] = v0; d0[2 * ox + 1] = v1; d1[2 * ox] = v2; d1[2 * ox + 1] = v3;
        } else {
            d0[2 * ox] += v0; d0[2 * ox + 1] += v1; d1[2 * ox] += v2; d1[2 * ox + 1] += v3;
        }
    }
}

CPU_CLONES static void maxpool2_bwd(float *din, const float *dout, const float *in, const float *out, size_t planes, int h,
                         int w, int set) {
    const int ho = h / 2, wo = w / 2;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * (size_t)h * w;
        const float *y = out + p * (size_t)ho * wo, *dy = dout + p * (size_t)ho * wo;
        float *dx = din + p * (size_t)h * w;
        for (int oy = 0; oy < ho; oy++) {
            float *d0 = dx + (size_t)(2 * oy) * w;
            const float *r0 = x + (size_t)(2 * oy) * w;
            if (set)
                pool_bwd_row(d0, d0 + w, r0, r0 + w, y + (size_t)oy * wo, dy + (size_t)oy * wo, wo, 1);
            else
                pool_bwd_row(d0, d0 + w, r0, r0 + w, y + (size_t)oy * wo, dy + (size_t)oy * wo, wo, 0);
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
