/* The training loop shared by phase 1 (data-parallel, one model), phase 2 workers (independent) and the
 * communicating phase-2 modes (WASH/PAPA members, via post_step). Resumable: a SIGTERM/SIGUSR1 or a kill
 * between periodic checkpoints loses at most the work since the last checkpoint, and a resumed run ends
 * bit-identical to an uninterrupted one. */
#ifndef SWAP_TRAINER_H
#define SWAP_TRAINER_H
#include "ckpt/ckpt.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "phases/evaluate.h"
#include "phases/phase.h"
#include "phases/signals.h"

typedef struct TrainJob TrainJob;
/* Called after every optimizer step (all ranks); WASH/PAPA communicate here. */
typedef void (*PostStepFn)(TrainJob *job, long global_step, double lr);
/* Save/restore hook state into checkpoint meta (e.g. WASH byte counters). */
typedef void (*StateFn)(TrainJob *job, CkptMeta *meta, int save);

struct TrainJob {
    Phase *p;
    const char *phase_name; /* "train", "refine", "wash", "papa" */
    const char *section;    /* config section: "phase1" / "phase2" */
    Model *m;
    int worker, n_workers;
    uint64_t seed;          /* data order/augmentation seed of this model */
    int global_batch;       /* samples per step across the ranks that share this model */
    int epochs;
    double stop_train_acc;  /* > 1: never */
    Schedule sched;
    SgdConfig sgd;
    Augment aug;
    int eval_every, checkpoint_every, keep_checkpoints;
    int data_parallel;      /* 1: ranks share one model (shard batches, sum gradients); 0: one model per rank */
    size_t bucket_floats;   /* data-parallel gradient sum: bucket size, overlapped with backward (0: one bucket) */
    char out_path[1024], resume_path[1024], log_path[1024];
    const CkptMeta *parent; /* lineage (phase-1 model for workers), or NULL */
    const char *parent_path;
    PostStepFn post_step;
    StateFn state;
    void *hook;
    /* results */
    double elapsed_s;
    double final_train_acc, final_test_acc;
};

/* Returns SWAP_EXIT_OK when finished (out_path written) or SWAP_EXIT_PREEMPTED after a resumable checkpoint. */
int train_run(TrainJob *job);
/* Lock out_path against a second writer (".<name>.lock" beside it; lockfile.h): returns the descriptor. */
int lock_output(const char *out_path);
/* Fill a schedule from "<section>.lr/schedule/warmup/..." keys; epochs is the decay horizon. */
Schedule schedule_from_config(const Config *cfg, const char *section, double lr, int epochs);
SgdConfig sgd_from_config(const Config *cfg);
Augment augment_from_config(const Config *cfg);
/* The augmentation phase 3 recomputes BN statistics with: the training one when phase3.bn_augment is true, else
 * none (NULL). From the experiment's config, or from the configuration a checkpoint records (a file older than
 * the key: none, as it was made). buf holds the result; NULL is returned when there is nothing to apply. */
const Augment *bn_augment_from_config(const Config *cfg, Augment *buf);
const Augment *bn_augment_from_meta(const CkptMeta *meta, Augment *buf);
/* Seed of a model's data stream: phase 1 = (seed, 1, 0); worker i = (seed, 2, i); shared WASH = (seed, 3, 0). */
uint64_t phase_seed(uint64_t seed, uint64_t phase, uint64_t worker);
/* Fill provenance and identity fields shared by every checkpoint the phases write. */
void phase_meta(const Phase *p, CkptMeta *meta, const char *phase_name, int worker, int n_workers);
/* A checkpoint this phase builds on must have been trained with this run's validation split (else it has seen
 * validation images): a one-line error naming the file otherwise. */
void phase_check_val_split(const Phase *p, const CkptMeta *meta, const char *path);
/* Fails when the checkpoint at path was computed in another precision than this run's, unless the config sets
 * allow_precision_change (bf16 and fp32 round differently, so a silent switch would break bit-identical resume
 * and mix two arithmetics in one model's history). */
void phase_check_precision(const Phase *p, const CkptMeta *meta, const char *path);

#endif
