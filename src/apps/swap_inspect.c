/* swap-inspect: look at archived checkpoints without touching them (files are only ever opened read-only).
 * Each verb lives in src/inspect/<verb>.c; this program only holds the usage and picks the verb.
 *   swap-inspect FILE [--json]                    summary: phase, lineage, model, config digest, metrics, tensors
 *   swap-inspect diff A B [--json]                per-tensor distances and config differences
 *   swap-inspect eval FILE [--data DIR|FILE] [--ignore-data-hash] [--subset N] [--batch B] [--bn-recompute N [--bn-batch B]
 *                     [--train-subset K]] [--precision fp32|bf16] [--tta none|flip] [--per-class] [--json]
 *   swap-inspect verify FILE...                   checksums + structure, one line per file
 *   swap-inspect ls DIR [--json]                  every checkpoint under DIR, one row each
 *   swap-inspect tensor FILE NAME [--momentum] [--csv | --raw OUT]
 *   swap-inspect export FILE --format safetensors -o OUT   the weights for PyTorch & co (state_dict names)
 *   swap-inspect plot RESULTS_DIR                 redraw an experiment's plots
 *   swap-inspect interpolate A B [C] ...          loss landscape along a line or on a plane */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "inspect/inspect.h"
#include "nn/parallel.h"
#include "phases/version.h"

static const char *USAGE =
    "usage: swap-inspect FILE [--json]\n"
    "       swap-inspect diff A B [--json]\n"
    "       swap-inspect eval FILE [--data DIR|FILE] [--ignore-data-hash] [--dataset NAME] [--subset N] [--batch B]\n"
    "                         [--bn-recompute N [--bn-batch B] [--train-subset K]] [--precision P] [--per-class]\n"
    "                         [--tta none|flip] [--json]\n"
    "       swap-inspect verify FILE...\n"
    "       swap-inspect ls DIR [--json]\n"
    "       swap-inspect tensor FILE NAME [--momentum] [--csv | --raw OUT]\n"
    "       swap-inspect export FILE --format safetensors -o OUT\n"
    "       swap-inspect plot RESULTS_DIR\n"
    "       swap-inspect interpolate A B [C] [--steps N] [--data DIR|FILE] [--subset N] [--bn-batches K] [--out DIR]...\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} VERBS[] = {
    {"diff", inspect_diff_main},     {"eval", inspect_eval_main},     {"verify", inspect_verify_main},
    {"ls", inspect_ls_main},         {"tensor", inspect_tensor_main}, {"export", inspect_export_main},
    {"plot", inspect_plot_main},     {"interpolate", inspect_interpolate_main},
    {"show", inspect_summary_main}, /* explicit form for a file named like a verb */
};

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    engine_exec_wait_policy(argv);
    swap_set_progname("swap-inspect");
    engine_set_threads((int)sysconf(_SC_NPROCESSORS_ONLN));
    inspect_set_usage(USAGE);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? SWAP_EXIT_USAGE : 0;
    }
    for (size_t i = 0; i < sizeof VERBS / sizeof *VERBS; i++)
        if (!strcmp(argv[1], VERBS[i].name)) return VERBS[i].run(argc - 1, argv + 1);
    return inspect_summary_main(argc, argv);
}
