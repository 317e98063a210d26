/* Phase 3 (src/phases/average.c does the work): average the workers' weights, recompute BN statistics, evaluate
 * the phase-1 model, every worker, the average and the ensemble (phase3.soup = "greedy": a greedy soup on the
 * validation split), write phase3/model.h5 and summary.json, then draw the plots (results/<name>/plots). */
#include <stdio.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/layout.h"
#include "phases/average.h"
#include "phases/version.h"
#include "report/report.h"

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    Phase p;
    phase_start(&p, argc, argv, "EXPERIMENT.lua [--min-workers K] [--set key=value]...", "threads");
    const double t0 = wall_seconds();
    Avg *a = average_setup(&p);
    if (average_add_workers(a) != SWAP_EXIT_OK) { /* nothing written yet: the same command simply starts over */
        printf("%s: signal received before any output was written; run the same command again\n", swap_progname());
        return SWAP_EXIT_PREEMPTED;
    }
    average_combine(a);
    average_write(a, wall_seconds() - t0);
    average_free(a);
    /* pictures next to the numbers; a plotting problem, or no gnuplot, is only a warning */
    char p1_log[1024];
    phase_path(&p, p1_log, sizeof p1_log, LAYOUT_PHASE1_LOG, 0);
    if (report_experiment_plots(p.dir, p1_log) == REPORT_OK) printf("%s: wrote %s/plots\n", swap_progname(), p.dir);
    phase_finish(&p);
    return 0;
}
