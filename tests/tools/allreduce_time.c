/* Time the phase-1 gradient sum on its own, for the scaling model in docs/cluster.md:
 *   srun -n R allreduce_time FLOATS [REPS] [BUCKET_FLOATS]
 * sums a FLOATS-long float buffer REPS times (after 3 warm-up sums), as the trainer does (comm_buckets: all
 * buckets started, then waited for), and prints one JSON line from rank 0: ranks, nodes, bytes, bucket floats,
 * the median and minimum seconds per sum, and the algorithm bandwidth bytes / median. Synchronised with a
 * barrier before each sum so every rank times the same operation. */
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "core/clock.h"
#include "core/err.h"

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    Comm c;
    comm_init(&c, &argc, &argv);
    if (argc < 2) swap_fail("usage: allreduce_time FLOATS [REPS] [BUCKET_FLOATS]");
    const size_t n = (size_t)strtoull(argv[1], NULL, 10);
    const int reps = argc > 2 ? atoi(argv[2]) : 20;
    const size_t bucket = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 0;
    if (n == 0 || reps <= 0) swap_fail("FLOATS and REPS must be positive");
    float *buf = xCalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i + (size_t)c.rank) % 7) * 1e-3f;
    CommBuckets *b = comm_buckets_create(buf, n, bucket);
    double *t = xCalloc((size_t)reps, sizeof(double));
    for (int r = -3; r < reps; r++) {
        comm_barrier();
        const double t0 = wall_seconds();
        comm_buckets_ready(b, 0);
        comm_buckets_finish(b);
        const double dt = wall_seconds() - t0;
        if (r >= 0) t[r] = dt;
    }
    /* the slowest rank decides a step: take each repetition's maximum over ranks */
    double *mx = xCalloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) mx[r] = t[r];
    for (int r = 0; r < reps; r++) mx[r] = (double)comm_max_int((int)(mx[r] * 1e7)) * 1e-7;
    qsort(mx, (size_t)reps, sizeof *mx, cmpd);
    if (c.rank == 0)
        printf("{\"ranks\": %d, \"nodes\": %d, \"hosts\": \"%s\", \"bytes\": %zu, \"bucket_floats\": %zu, \"reps\": %d, "
               "\"median_s\": %.6g, \"min_s\": %.6g, \"algbw_Bps\": %.4g}\n",
               c.size, c.nodes, c.hosts, n * sizeof(float), comm_buckets_count(b) > 1 ? bucket : n, reps,
               mx[reps / 2], mx[0], (double)(n * sizeof(float)) / mx[reps / 2]);
    comm_buckets_free(b);
    free(buf);
    free(t);
    free(mx);
    comm_finalize();
    return 0;
}
