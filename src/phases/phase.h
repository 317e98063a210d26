/* Shared plumbing of the phase programs (swap-train, swap-refine, swap-average): command line, config,
 * MPI, threads, datasets, model construction, result paths, evaluation and the training loop. */
#ifndef SWAP_PHASE_H
#define SWAP_PHASE_H
#include <stdint.h>

#include "../comm/comm.h"
#include "../config/config.h"
#include "../data/dataset.h"
#include "../nn/model.h"

#define PHASE_MAX_SETS 64

typedef struct {
    const char *exp_path;
    const char *sets[PHASE_MAX_SETS];
    int n_sets;
    int worker;       /* -1: not given */
    int min_workers;  /* -1: not given */
    const char *mode; /* NULL: from config */
    const char *baseline; /* swap-train --baseline NAME; NULL: phase 1 */
} PhaseArgs;

typedef struct {
    Comm comm;
    Config *cfg;
    PhaseArgs args;
    char dir[1024];   /* results/<name> */
    char shared[1024]; /* where phase1/ and the baselines live: shared_dir, else dir */
    Dataset *train, *test;
    Dataset *val;     /* data.val_split images carved out of the training set, or NULL */
    int val_split;    /* size of that split (0: none) */
    uint64_t val_seed;
    char val_hash[33]; /* XXH3-128 of its sorted indices ("" without a split): recorded in checkpoints */
    int threads;
} Phase;

/* Parse argv (usage errors exit 2), start MPI, load the config, print it on rank 0, set threads. With
 * --baseline NAME (only where `usage` offers it) threads come from baselines.NAME.threads. */
void phase_start(Phase *p, int argc, char **argv, const char *usage, const char *threads_key);
void phase_finish(Phase *p);
/* Load train/test data named by the config. With data.val_split > 0 the validation images are carved out
 * of the full training set first (p->val), then train_subset / test_subset truncate what is left. */
void phase_load_data(Phase *p, int need_train, int need_test);
ModelSpec phase_model_spec(const Phase *p);
Model *phase_build_model(const Phase *p);
/* results/<name>/<sub> (created on rank 0 when mkdir), written into buf; "phase1/..." and "baseline-..."
 * resolve under the shared directory (shared_dir) when the config names one. */
const char *phase_path(const Phase *p, char *buf, size_t n, const char *sub, int mkdir_parent);
int file_exists(const char *path);

/* Evaluation in eval mode over a dataset, sharded across `shards` ranks (shard `rank`); sums are local:
 * the caller reduces. probs (optional) receives softmax outputs [d->n][classes] for this shard's samples. */
void eval_dataset(Model *m, const Dataset *d, int batch, int rank, int shards, double *loss_sum,
                  double *correct, double *count, float *probs);
/* Recompute BN running statistics: `batches` train-mode forwards of `batch` samples in a seeded order, each
 * sample augmented by aug (NULL: plain images) from the same seed; cumulative average
 * (torch.optim.swa_utils.update_bn semantics; fed the training augmentation, as update_bn usually is with the
 * training loader, the statistics match what the weights were trained on). */
void bn_recompute(Model *m, const Dataset *d, int batch, int batches, uint64_t seed, const Augment *aug);
/* The samples bn_recompute uses: batches x batch indices, batch-major (exposed for tests and tools). */
void bn_batch_indices(uint32_t *idx, const Dataset *d, int batch, int batches, uint64_t seed);

/* Signals: SIGTERM/SIGUSR1 set a flag; training loops finish the step, checkpoint and exit 3. */
void signals_install(void);
int signals_pending(void);

#endif
