/* Filling a TrainJob from the experiment: what phase 1, phase 2 workers and baselines set the same way. */
#ifndef SWAP_PHASES_TRAINJOB_H
#define SWAP_PHASES_TRAINJOB_H
#include "phases/trainer.h"

/* Zeroes *j, then sets what the trainer settings of config section `section` ("phase1", "phase2",
 * "baselines.<name>") say: the batch, the epoch budget (key <section>.<epochs_leaf>), the schedule at peak
 * learning rate `lr` (the caller scales it), SGD, augmentation, and the evaluation and checkpoint cadence.
 * The caller sets the rest: phase_name, worker, n_workers, seed, stop_train_acc, data_parallel, lineage, hooks. */
void train_job_init(TrainJob *j, Phase *p, Model *m, const char *section, const char *epochs_leaf, double lr);

/* out_path, resume_path and log_path from results-relative paths (phase_path: phase 1 and baselines go to the
 * shared directory); the output's directory is created. */
void train_job_paths(TrainJob *j, const char *out, const char *resume, const char *log);

#endif
