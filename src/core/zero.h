/* Zeroing large float buffers (gradients) with the engine's OpenMP threads. */
#ifndef SWAP_ZERO_H
#define SWAP_ZERO_H
#include <stddef.h>

/* p[0..n) = 0, in 256 KiB blocks shared by the threads: one thread's memset does not reach the memory
 * bandwidth of a node. */
void zero_floats(float *p, size_t n);

#endif
