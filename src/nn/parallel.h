/* One thread pool for the whole engine. OpenMP runs every kernel; OpenBLAS is kept single-threaded and
 * each GEMM is split across the OpenMP threads here. Two pools (OpenMP's and OpenBLAS's pthreads) on the
 * same cores spin-wait against each other between layers, which halved throughput on small models. */
#ifndef SWAP_PARALLEL_H
#define SWAP_PARALLEL_H

/* Call first thing in main (before MPI_Init or any thread exists). libgomp reads how idle threads wait from the
 * environment once, before main. Its default spins them for 300,000 iterations (milliseconds) after each
 * parallel region, which on a shared machine steals the cores other threads (ours or another job's) need:
 * measured 10x slower steps under load. Never spinning (OMP_WAIT_POLICY=PASSIVE, what we did before) puts them
 * to sleep between one layer's loop and the next, and waking them cost up to 27 % of an idle training step. So a
 * short spin: GOMP_SPINCOUNT=ENGINE_SPINCOUNT iterations (tens of microseconds, the gap between two layers;
 * libgomp cuts it to 100 when threads outnumber the CPUs it may use), then sleep (results/BENCH.md, "How idle
 * threads wait"). If neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, this sets GOMP_SPINCOUNT and re-executes
 * the program (same argv and environment otherwise); either one set explicitly is left alone. Returns only when
 * no re-exec happened. */
#define ENGINE_SPINCOUNT "1000"
void engine_exec_wait_policy(char **argv);

/* Use t threads for the engine: OpenMP gets t, OpenBLAS 1 (sgemm_par does the splitting). */
void engine_set_threads(int t);

/* Make OpenBLAS single-threaded if anything (its own default of one thread per core, OPENBLAS_NUM_THREADS, a
 * caller) made it otherwise. model_create calls it, so every program that builds a model gets results that do not
 * depend on the thread count, whether or not it called engine_set_threads: a multi-threaded OpenBLAS splits each
 * GEMM by its thread count, and some kernels (Haswell's sgemm, for one) then round differently (measured: an
 * evaluation's loss changed in the 8th digit between OPENBLAS_NUM_THREADS=1 and 2). Call outside parallel regions. */
void engine_blas_single(void);

/* Threads for loops whose bodies call cblas_sgemm themselves: the OpenMP thread count (OpenBLAS is kept
 * single-threaded, see engine_blas_single). */
int engine_block_threads(void);

/* Row-major C[m][n] = alpha * op(A)[m][k] x op(B)[k][n] + beta * C, cut into column (or row) panels whose
 * widths depend on the shape only, shared by the OpenMP threads. Each element of C is computed by one
 * single-threaded GEMM over the full k with the same panel shape for any thread count, so results do not
 * depend on the thread count. */
void sgemm_par(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

#endif
