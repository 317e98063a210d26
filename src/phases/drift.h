/* Config drift: an existing or resumable output is used (skipped as done, resumed, built on) only when the
 * configuration that defines its result is the one it was made from. Which keys define a result:
 *   phase 1    every key outside phase2/phase3/baselines, except the operational ones below
 *   baseline   the same common keys and that baseline's own settings
 *   phase 2    the common keys, phase1.* (its parent) and phase2.* (phase2.workers only for wash/papa, where the
 *              members interact)
 *   phase 3    the common keys, phase1.*, phase2.* and phase3.*
 * Operational keys change how or where a run goes, not what it computes: name, results, shared_dir, profile,
 * sweep, data_dir, threads and *.threads, *.checkpoint_every, *.keep_checkpoints, *.eval_every,
 * phase1.bucket_mb, phase2.parallel, phase3.min_workers, phase3.eval_batch. precision (and its override
 * allow_precision_change) is left to its own check, phase_check_precision, which the override can pass.
 * A file that records no configuration, or a key it does not record (older files), is not compared. */
#ifndef SWAP_DRIFT_H
#define SWAP_DRIFT_H
#include <stddef.h>

#include "config/config.h"

typedef enum { DRIFT_PHASE1, DRIFT_BASELINE, DRIFT_PHASE2, DRIFT_PHASE3 } DriftScope;

/* 0 when `then` (resolved text "key = value" per line) agrees with `now` on every key that defines the
 * scope's result; else -1 and "k (there A, now B), ..." in out (the first keys that differ). baseline: the
 * baseline's name for DRIFT_BASELINE. */
int drift_compare(const char *now, const char *then, DriftScope scope, const char *baseline, char *out, size_t n);
/* drift_compare against the configuration the checkpoint at path records. 0: same (or nothing recorded);
 * -1: differs (one line in msg, naming path, the keys and how to start over); -2: the file cannot be read (msg
 * says why: ckpt_try_read_meta's line). */
int drift_check(const Config *cfg, const char *path, DriftScope scope, const char *baseline, char *msg, size_t n);
/* drift_check, and swap_fail with its line when the configuration differs. An unreadable file is left to the
 * caller (it reports damage itself). */
void drift_require(const Config *cfg, const char *path, DriftScope scope, const char *baseline);

#endif
