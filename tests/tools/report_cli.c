/* The report subcommands without swap-inspect (for tests while swap-inspect may not dispatch them yet):
 * usage: report_cli plot DIR | report_cli interpolate A B [C] [options] */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"

int main(int argc, char **argv) {
    swap_set_progname("swap-inspect");
    if (argc >= 2 && !strcmp(argv[1], "plot")) return inspect_plot_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "interpolate")) return inspect_interpolate_main(argc - 1, argv + 1);
    fprintf(stderr, "usage: report_cli plot DIR | report_cli interpolate A B [C] [options]\n");
    return 2;
}
