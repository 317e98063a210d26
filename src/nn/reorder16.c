/* CNHW <-> nChw16c chunk moves for conv2d_dnnl.c (see reorder16.h): AVX-512 16x16 transposes, with the bf16
 * rounding instruction oneDNN's reorder uses. Only the functions below carry the AVX-512 target; callers ask
 * reorder16_available() first. */
#include "nn/reorder16.h"

#include <stdint.h>

#include "core/err.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f"), always_inline)) static inline

int reorder16_available(int bf16) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && (!bf16 || __builtin_cpu_supports("avx512bf16"));
}

/* r[i] (row i of a 16x16 tile) becomes column i: 32-bit, then 64-bit interleaves, then two 128-bit lane shuffles. */
T512 void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
        for (int k = 0; k < 2; k++) {
            const __m512d a = _mm512_castps_pd(t[i + k]), b = _mm512_castps_pd(t[i + k + 2]);
            r[i + 2 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[i + 2 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 16; i += 8)
        for (int k = 0; k < 4; k++) {
            t[i + k] = _mm512_shuffle_f32x4(r[i + k], r[i + k + 4], 0x88);
            t[i + k + 4] = _mm512_shuffle_f32x4(r[i + k], r[i + k + 4], 0xdd);
        }
    for (int k = 0; k < 8; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
    }
}

/* One 16-channel block of one image goes 16 pixels at a time: the tile at pixel p, rows = the block's channels
 * (zeros past `valid`), the last pixels of a plane whose size is not a multiple of 16 through a mask, transposed
 * so that r[q] holds pixel p+q's 16 channels. */
T512 void load_tile(__m512 r[16], const float *src, int valid, int p, int np, size_t plane) {
    const __mmask16 m = (__mmask16)((1u << np) - 1);
    for (int j = 0; j < 16; j++)
        r[j] = j < valid ? _mm512_maskz_loadu_ps(m, src + (size_t)j * plane + p) : _mm512_setzero_ps();
    transpose16(r);
}

__attribute__((target("avx512f"))) static void to_blocked_f32(float *dst, const float *src, int valid, int hw,
                                                               size_t plane) {
    __m512 r[16];
    for (int p = 0; p < hw; p += 16) {
        const int np = hw - p < 16 ? hw - p : 16;
        load_tile(r, src, valid, p, np, plane);
        for (int q = 0; q < np; q++) _mm512_storeu_ps(dst + (size_t)(p + q) * 16, r[q]);
    }
}

__attribute__((target("avx512f,avx512bf16"))) static void to_blocked_bf16(uint16_t *dst, const float *src,
                                                                          int valid, int hw, size_t plane) {
    __m512 r[16];
    for (int p = 0; p < hw; p += 16) {
        const int np = hw - p < 16 ? hw - p : 16;
        load_tile(r, src, valid, p, np, plane);
        for (int q = 0; q < np; q++)
            _mm256_storeu_si256((__m256i *)(dst + (size_t)(p + q) * 16), (__m256i)_mm512_cvtneps_pbh(r[q]));
    }
}

__attribute__((target("avx512f"))) static void from_blocked_block(float *dst, const float *src, int valid, int hw,
                                                                   size_t plane, int accumulate) {
    for (int p = 0; p < hw; p += 16) {
        const int np = hw - p < 16 ? hw - p : 16;
        const __mmask16 m = (__mmask16)((1u << np) - 1);
        __m512 r[16];
        for (int q = 0; q < 16; q++) r[q] = q < np ? _mm512_loadu_ps(src + (size_t)(p + q) * 16) : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0; j < valid; j++) {
            float *d = dst + (size_t)j * plane + p;
            const __m512 v = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), r[j]) : r[j];
            _mm512_mask_storeu_ps(d, m, v);
        }
    }
}

void reorder16_to_blocked(void *dst, int bf16, const float *src, int nb, int c, int hw, size_t plane) {
    const int cb = (c + 15) / 16;
    for (int n = 0; n < nb; n++)
        for (int b = 0; b < cb; b++) {
            const int valid = c - 16 * b < 16 ? c - 16 * b : 16;
            const float *s = src + (size_t)16 * b * plane + (size_t)n * hw;
            const size_t o = ((size_t)n * cb + b) * hw * 16;
            if (bf16) to_blocked_bf16((uint16_t *)dst + o, s, valid, hw, plane);
            else to_blocked_f32((float *)dst + o, s, valid, hw, plane);
        }
}

void reorder16_from_blocked(float *dst, const float *src, int nb, int c, int hw, size_t plane, int accumulate) {
    const int cb = (c + 15) / 16;
    for (int n = 0; n < nb; n++)
        for (int b = 0; b < cb; b++) {
            const int valid = c - 16 * b < 16 ? c - 16 * b : 16;
            from_blocked_block(dst + (size_t)16 * b * plane + (size_t)n * hw, src + ((size_t)n * cb + b) * hw * 16,
                               valid, hw, plane, accumulate);
        }
}

#else /* no AVX-512 code in this build: conv2d_dnnl.c keeps oneDNN's reorders */
int reorder16_available(int bf16) {
    (void)bf16;
    return 0;
}
void reorder16_to_blocked(void *dst, int bf16, const float *src, int nb, int c, int hw, size_t plane) {
    (void)dst; (void)bf16; (void)src; (void)nb; (void)c; (void)hw; (void)plane;
    swap_fail("reorder16_to_blocked: not built for this CPU");
}
void reorder16_from_blocked(float *dst, const float *src, int nb, int c, int hw, size_t plane, int accumulate) {
    (void)dst; (void)src; (void)nb; (void)c; (void)hw; (void)plane; (void)accumulate;
    swap_fail("reorder16_from_blocked: not built for this CPU");
}
#endif
