#include "comm/comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* The world's size comes from MPI itself rather than a copy of Comm.size: these calls take no Comm, and
 * tools that never start MPI must see one rank. */
static int world_size(void) {
    int started = 0, finished = 0, n = 1;
    MPI_Initialized(&started);
    MPI_Finalized(&finished);
    if (started && !finished) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

static void abort_hook(int code) {
    if (world_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

static void check(int rc, const char *what) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, msg, &len);
        swap_fail("MPI %s failed: %s", what, msg);
    }
}

/* Every rank's host name, so a job's log shows where its ranks ran (a multi-node run proves itself). */
static void gather_hosts(Comm *c) {
    char me[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(me, &len);
    char *all = xCalloc((size_t)c->size, sizeof me);
    check(MPI_Allgather(me, (int)sizeof me, MPI_CHAR, all, (int)sizeof me, MPI_CHAR, MPI_COMM_WORLD), "allgather");
    size_t used = 0;
    int cut = 0;
    c->nodes = 0;
    for (int r = 0; r < c->size; r++) {
        const char *h = all + (size_t)r * sizeof me;
        int seen = 0;
        for (int q = 0; q < r && !seen; q++) seen = !strcmp(h, all + (size_t)q * sizeof me);
        c->nodes += !seen;
        size_t hl = strlen(h);
        if (!cut && used + hl + 5 < sizeof c->hosts) {
            memcpy(c->hosts + used, h, hl);
            used += hl;
            c->hosts[used++] = r + 1 < c->size ? ' ' : 0;
        } else if (!cut) {
            memcpy(c->hosts + used, "...", 4); /* room kept above: used + 4 <= sizeof */
            cut = 1;
        }
    }
    c->hosts[sizeof c->hosts - 1] = 0;
    free(all);
}

void comm_init(Comm *c, int *argc, char ***argv) {
    memset(c, 0, sizeof *c);
    /* the bucketed gradient sum is bit-identical for any bucket size only if the per-element order of additions
     * does not depend on the message size (see comm.h); MPICH's automatic choice switches algorithm with size.
     * A user who prefers bandwidth (ring) over that guarantee at scale can set the variable. */
    setenv("MPIR_CVAR_IALLREDUCE_INTRA_ALGORITHM", "sched_recursive_doubling", 0);
    check(MPI_Init(argc, argv), "init");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &c->local_size);
    MPI_Comm_free(&node);
    comm_library_version(c->version, sizeof c->version);
    gather_hosts(c);
    swap_set_exit_hook(abort_hook);
}

/* First line only: "MPICH Version: 4.0.2" style. MPI allows the call before MPI_Init (for --version). */
void comm_library_version(char *out, size_t cap) {
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    char *nl = strchr(lib, '\n');
    if (nl) *nl = 0;
    snprintf(out, cap, "%s", lib);
}

void comm_finalize(void) { MPI_Finalize(); }

void comm_sum_floats(float *buf, size_t n) {
    if (world_size() == 1 || n == 0) return;
    check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "allreduce");
}

void comm_sum_doubles(double *buf, size_t n) {
    if (world_size() == 1 || n == 0) return;
    check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce");
}

int comm_max_int(int v) {
    if (world_size() == 1) return v;
    int out = v;
    check(MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "allreduce");
    return out;
}

void comm_barrier(void) {
    if (world_size() > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void comm_alltoallv_floats(const float *send, const int *send_counts, const int *send_displs, float *recv,
                           const int *recv_counts, const int *recv_displs) {
    check(MPI_Alltoallv(send, send_counts, send_displs, MPI_FLOAT, recv, recv_counts, recv_displs, MPI_FLOAT,
                        MPI_COMM_WORLD),
          "alltoallv");
}

struct CommBuckets {
    float *buf;
    size_t n, size;   /* floats in buf; floats per bucket */
    int count, next;  /* buckets; next bucket to start (bucket k covers [n - (k+1)*size, n - k*size)) */
    MPI_Request *req;
    MPI_Status *st;   /* not read; GCC's access checks reject MPI_STATUSES_IGNORE for Testall/Waitall */
};

CommBuckets *comm_buckets_create(float *buf, size_t n, size_t bucket_floats) {
    CommBuckets *b = xCalloc(1, sizeof *b);
    b->buf = buf;
    b->n = n;
    b->size = bucket_floats && bucket_floats < n ? bucket_floats : (n ? n : 1);
    if (b->size > INT32_MAX) swap_fail("gradient bucket of %zu floats exceeds MPI's int count", b->size);
    b->count = n ? (int)((n + b->size - 1) / b->size) : 0;
    b->req = xCalloc((size_t)b->count + 1, sizeof *b->req);
    b->st = xCalloc((size_t)b->count + 1, sizeof *b->st);
    for (int k = 0; k < b->count; k++) b->req[k] = MPI_REQUEST_NULL;
    return b;
}

void comm_buckets_free(CommBuckets *b) {
    if (!b) return;
    free(b->req);
    free(b->st);
    free(b);
}

int comm_buckets_count(const CommBuckets *b) { return b->count; }

static size_t bucket_lo(const CommBuckets *b, int k) {
    size_t hi_off = (size_t)k * b->size;
    return b->n - hi_off > b->size ? b->n - hi_off - b->size : 0;
}

static void start_upto(CommBuckets *b, size_t from) {
    for (; b->next < b->count && bucket_lo(b, b->next) >= from; b->next++) {
        const int k = b->next;
        const size_t lo = bucket_lo(b, k), hi = b->n - (size_t)k * b->size;
        check(MPI_Iallreduce(MPI_IN_PLACE, b->buf + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                             &b->req[k]),
              "iallreduce");
    }
}

void comm_buckets_ready(CommBuckets *b, size_t from) {
    if (world_size() == 1 || b->size == b->n) return; /* one bucket: nothing to overlap */
    start_upto(b, from);
    /* MPICH progresses non-blocking collectives only inside MPI calls: poke it at every layer boundary */
    if (b->next) {
        int done = 0;
        check(MPI_Testall(b->next, b->req, &done, b->st), "testall");
    }
}

void comm_buckets_finish(CommBuckets *b) {
    if (world_size() == 1) return;
    start_upto(b, 0);
    check(MPI_Waitall(b->count, b->req, b->st), "waitall");
    b->next = 0;
}
