/* summary.json beyond what phase 3 measures: the baselines' rows (read back from their checkpoints) and the
 * critical path with how each time was measured. Every writer (swap-average, each baseline's swap-train, on
 * one machine or as concurrent Slurm jobs) goes through here under one lock (flock on
 * results/<name>/.summary.lock), so the last one to finish leaves a summary holding every finished result. */
#ifndef SWAP_SUMMARY_H
#define SWAP_SUMMARY_H
#include <stddef.h>

#include "phases/phase.h"

/* Write swap-average's summary text with the baseline rows and the critical-path block merged in. */
void summary_write(const Phase *p, const char *text, size_t len);
/* Re-write summary.json with the current baseline rows (a baseline just finished); when phase 3 has not
 * written a summary yet, the file holds only the name and the baselines until it does. */
void summary_update(const Phase *p);
/* Whether the summary.json at path is phase 3's (parses, and holds the average's result): a corrupt or
 * baselines-only file does not count as phase 3 done. */
int summary_valid(const char *path);
/* Print summary.json of results dir `dir` as a table: phase 1, workers, average, ensemble, baselines, with
 * test accuracy, loss, wall time and images, then the critical path. Returns -1 if there is no summary. */
int summary_print(const char *dir);

#endif
