#include "core/zero.h"

#include <string.h>

void zero_floats(float *p, size_t n) {
    const size_t block = (size_t)1 << 16;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += block) memset(p + b, 0, (n - b < block ? n - b : block) * sizeof(float));
}
