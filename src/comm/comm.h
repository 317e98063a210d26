/* The only interface to MPI (CoMD style): everything above it sees ranks, sums and broadcasts. A rank's fatal
 * error becomes MPI_Abort so a job never hangs in a collective. */
#ifndef SWAP_COMM_H
#define SWAP_COMM_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;
    int local_size;  /* ranks on this node, for default thread counts */
    int nodes;       /* distinct hosts */
    char version[96];
    char hosts[512]; /* host of each rank in rank order, space-separated ("n1 n2"); "..." if cut */
} Comm;

void comm_init(Comm *c, int *argc, char ***argv);
void comm_library_version(char *out, size_t cap); /* the MPI library's, also before comm_init */
void comm_finalize(void);
void comm_sum_floats(float *buf, size_t n);    /* in place, all ranks */
void comm_sum_doubles(double *buf, size_t n);  /* in place, all ranks */
int comm_max_int(int v);
void comm_barrier(void);
/* Exchange: each rank sends counts[r] floats starting at send+displs[r] to rank r; receives likewise. */
void comm_alltoallv_floats(const float *send, const int *send_counts, const int *send_displs, float *recv,
                           const int *recv_counts, const int *recv_displs);

/* Gradient sum in buckets, overlapped with the backward pass (Horovod / PyTorch DDP style). The buffer is cut
 * into buckets of bucket_floats from its END, because backward finishes the last layers first; a bucket's
 * MPI_Iallreduce starts as soon as the whole bucket is final. bucket_floats = 0: one bucket, started when the
 * backward pass is over (no overlap). Every rank must make the same calls in the same order.
 *
 * Bit-identity: each element of the buffer is reduced by exactly one MPI_Iallreduce, with the algorithm pinned
 * to recursive doubling (comm_init, unless the environment chooses another), whose order of additions for an
 * element depends only on the number of ranks, never on the count it is given. So the sum of every element is
 * the same sequence of float additions whatever the bucket size, and the same as with one bucket; with 2 ranks
 * it is the single addition g0 + g1 under any algorithm (float addition is commutative). */
typedef struct CommBuckets CommBuckets;
CommBuckets *comm_buckets_create(float *buf, size_t n, size_t bucket_floats);
void comm_buckets_free(CommBuckets *b);
void comm_buckets_ready(CommBuckets *b, size_t from); /* buf[from, n) is final: start what it covers */
void comm_buckets_finish(CommBuckets *b);             /* start the rest; wait until all sums are in buf */
int comm_buckets_count(const CommBuckets *b);

#endif
