/* swap-inspect plot DIR: redraw results/<name>/plots from the logs and summary. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"
#include "report/report.h"

int inspect_plot_main(int argc, char **argv) {
    const char *usage = "usage: swap-inspect plot RESULTS_DIR   (RESULTS_DIR = results/<name>; writes RESULTS_DIR/plots)\n";
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("%s", usage);
        return SWAP_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "%s", usage);
        return SWAP_EXIT_USAGE;
    }
    int rc = report_experiment_plots(argv[1], NULL);
    if (rc == REPORT_OK) printf("%s: wrote %s/plots (swap-figure.png, training.png and their CSVs)\n", swap_progname(), argv[1]);
    /* CSV-only (no gnuplot) is exit 1 here: someone asked for pictures and got none; phase 3 only warns */
    return rc == REPORT_OK ? SWAP_EXIT_OK : SWAP_EXIT_ERROR;
}
