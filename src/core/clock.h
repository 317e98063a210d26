/* Monotonic wall-clock seconds, for throughput and elapsed-time reports. */
#ifndef SWAP_CLOCK_H
#define SWAP_CLOCK_H
#include <time.h>

static inline double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
