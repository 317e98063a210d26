/* Phase 3: average the workers' weights (uniform, accumulated in double), recompute BN statistics on training
 * data, and evaluate the phase-1 model, every worker, the average before and after BN recompute, and the workers'
 * output ensemble (test and, with data.val_split, validation accuracy); phase3.soup = "greedy" then builds a
 * greedy soup on the validation split. Writes phase3/model.h5 (the chosen soup, its members in attributes
 * soup/soup_members) and summary.json. swap-average runs these steps in order, then draws the plots. */
#ifndef SWAP_PHASES_AVERAGE_H
#define SWAP_PHASES_AVERAGE_H
#include "phases/phase.h"

typedef struct Avg Avg;

/* Reads the configuration and the phase-1 model, finds the finished workers (fails below the quorum). */
Avg *average_setup(Phase *p);
/* Worker by worker into the sums; returns SWAP_EXIT_PREEMPTED (nothing written) when a signal came first. */
int average_add_workers(Avg *a);
/* The uniform average (scored before and after the BN update), the ensemble, then the output soup. */
void average_combine(Avg *a);
/* phase3/model.h5 and summary.json (with the baselines' rows), then the table on stdout; t3 = phase-3 time. */
void average_write(Avg *a, double t3);
void average_free(Avg *a);

#endif
