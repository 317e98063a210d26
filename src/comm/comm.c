#include "comm.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

static int g_size = 1;

static void abort_hook(int code) {
    if (g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

static void check(int rc, const char *what) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, msg, &len);
        swap_fail("MPI %s failed: %s", what, msg);
    }
}

void comm_init(Comm *c, int *argc, char ***argv) {
    memset(c, 0, sizeof *c);
    check(MPI_Init(argc, argv), "init");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    g_size = c->size;
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &c->local_size);
    MPI_Comm_free(&node);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    /* first line only: "MPICH Version: 4.0.2" style */
    char *nl = strchr(lib, '\n');
    if (nl) *nl = 0;
    size_t vl = strlen(lib) < sizeof c->version - 1 ? strlen(lib) : sizeof c->version - 1;
    memcpy(c->version, lib, vl);
    c->version[vl] = 0;
    swap_set_exit_hook(abort_hook);
}

void comm_finalize(void) { MPI_Finalize(); }

void comm_sum_floats(float *buf, size_t n) {
    if (g_size == 1 || n == 0) return;
    check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "allreduce");
}

void comm_sum_doubles(double *buf, size_t n) {
    if (g_size == 1 || n == 0) return;
    check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce");
}

int comm_max_int(int v) {
    if (g_size == 1) return v;
    int out = v;
    check(MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "allreduce");
    return out;
}

void comm_bcast_bytes(void *buf, size_t n, int root) {
    if (g_size == 1) return;
    check(MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
}

void comm_barrier(void) {
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void comm_alltoallv_floats(const float *send, const int *send_counts, const int *send_displs, float *recv,
                           const int *recv_counts, const int *recv_displs) {
    check(MPI_Alltoallv(send, send_counts, send_displs, MPI_FLOAT, recv, recv_counts, recv_displs, MPI_FLOAT,
                        MPI_COMM_WORLD),
          "alltoallv");
}
