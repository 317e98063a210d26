/* The only interface to MPI (CoMD style): everything above it sees ranks, sums and broadcasts. A rank's fatal
 * error becomes MPI_Abort so a job never hangs in a collective. */
#ifndef SWAP_COMM_H
#define SWAP_COMM_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;
    int local_size;  /* ranks on this node, for default thread counts */
    char version[96];
} Comm;

void comm_init(Comm *c, int *argc, char ***argv);
void comm_finalize(void);
void comm_sum_floats(float *buf, size_t n);    /* in place, all ranks */
void comm_sum_doubles(double *buf, size_t n);  /* in place, all ranks */
int comm_max_int(int v);
void comm_bcast_bytes(void *buf, size_t n, int root);
void comm_barrier(void);
/* Exchange: each rank sends counts[r] floats starting at send+displs[r] to rank r; receives likewise. */
void comm_alltoallv_floats(const float *send, const int *send_counts, const int *send_displs, float *recv,
                           const int *recv_counts, const int *recv_displs);

#endif
