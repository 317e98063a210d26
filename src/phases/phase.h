/* Shared plumbing of the phase programs (swap-train, swap-refine, swap-average): command line, config,
 * MPI, threads, datasets, model construction and result paths
 * (evaluation: evaluate.h; signals: signals.h; the training loop: trainer.h). */
#ifndef SWAP_PHASE_H
#define SWAP_PHASE_H
#include <stdint.h>

#include "comm/comm.h"
#include "config/config.h"
#include "data/dataset.h"
#include "nn/model.h"

typedef struct {
    const char *exp_path;
    const char **sets; /* the --set values, as many as given (allocated) */
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
/* Whether test and validation evaluations mirror each image too (`tta = "flip"`; evaluate.h: eval_batch). */
int phase_tta_flip(const Phase *p);
/* The experiment's network as JSON for this phase's data (caller frees); presets re-expanded for HDF5 files. */
char *phase_model_json(const Phase *p, const ModelSpec *s);
Model *phase_build_model(const Phase *p);
/* results/<name>/<sub> (created on rank 0 when mkdir), written into buf; "phase1/..." and "baseline-..."
 * resolve under the shared directory (shared_dir) when the config names one. */
const char *phase_path(const Phase *p, char *buf, size_t n, const char *sub, int mkdir_parent);

#endif
