/* Bump allocator for activations and scratch: sized once per (model, batch), reset never during training,
 * so the training step allocates nothing. Every block is 64-byte aligned for SIMD and GEMM. */
#ifndef SWAP_ARENA_H
#define SWAP_ARENA_H
#include <stddef.h>

typedef struct {
    char *base;
    size_t cap, used;
} Arena;

void arena_init(Arena *a, size_t bytes);
void arena_free(Arena *a);
float *arena_floats(Arena *a, size_t n); /* zero-filled */
/* Bytes a request of n floats takes after alignment: lets callers size the arena exactly. */
size_t arena_float_bytes(size_t n);

#endif
