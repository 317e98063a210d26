/* Chunks of CNHW activations to and from oneDNN's nChw16c layout ("aBcd16b": [n][c/16][h][w][16], channels padded
 * to a multiple of 16 with zeros), the moves conv2d_dnnl.c makes around every convolution kernel call.
 *
 * oneDNN's generic reorder does them at 4-6 GB/s here (a quarter of a ResNet-9 bf16 training step); these are
 * 16x16 register transposes on AVX-512, 1.4-3x faster. They compute exactly what oneDNN's reorders compute: a copy
 * (or dst + src), and for bf16 the same round-to-nearest-even instruction (vcvtneps2bf16); tests/unit/
 * test_reorder16.c compares whole convolutions with them against oneDNN's reorders, bit for bit.
 *
 * A CNHW chunk is nb images of an n-image tensor: src/dst points at the first image's plane of channel 0 and
 * channels are `plane` = n*hw floats apart. The blocked side is dense, nb images. */
#ifndef SWAP_REORDER16_H
#define SWAP_REORDER16_H
#include <stddef.h>

/* 1 when this CPU runs them: AVX-512F (and AVX512_BF16 when bf16). */
int reorder16_available(int bf16);
/* dst (blocked; bf16 when bf16, else fp32) = src (CNHW fp32), padding channels c..c16-1 with zeros. */
void reorder16_to_blocked(void *dst, int bf16, const float *src, int nb, int c, int hw, size_t plane);
/* dst (CNHW fp32) = src (blocked fp32), or dst += src when accumulate. */
void reorder16_from_blocked(float *dst, const float *src, int nb, int c, int hw, size_t plane, int accumulate);

#endif
