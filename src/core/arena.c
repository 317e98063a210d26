#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define ARENA_ALIGN 64

size_t arena_float_bytes(size_t n) {
    size_t b = n * sizeof(float);
    return (b + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

void arena_init(Arena *a, size_t bytes) {
    a->cap = bytes;
    a->used = 0;
    a->base = NULL;
    if (bytes && posix_memalign((void **)&a->base, ARENA_ALIGN, bytes) != 0)
        swap_fail("out of memory allocating a %zu-byte activation arena", bytes);
    if (a->base) memset(a->base, 0, bytes);
}

void arena_free(Arena *a) {
    free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

float *arena_floats(Arena *a, size_t n) {
    size_t b = arena_float_bytes(n);
    xCheck(a->used + b <= a->cap, "arena overflow: model planning under-sized the arena");
    float *p = (float *)(a->base + a->used);
    a->used += b;
    return p;
}

