/* swap-inspect's verbs, one file each, and what they share: loading a checkpoint for inspection, tensor
 * statistics, argument parsing and JSON numbers. Files are only ever opened read-only. Every verb takes
 * argv[0] = its own name and returns the process exit status. */
#ifndef SWAP_INSPECT_H
#define SWAP_INSPECT_H
#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"
#include "core/json.h"
#include "data/dataset.h"
#include "nn/model.h"

int inspect_summary_main(int argc, char **argv); /* FILE [--json] */
int inspect_diff_main(int argc, char **argv);
int inspect_eval_main(int argc, char **argv);
int inspect_verify_main(int argc, char **argv);
int inspect_ls_main(int argc, char **argv);
int inspect_tensor_main(int argc, char **argv);
int inspect_export_main(int argc, char **argv);
int inspect_plot_main(int argc, char **argv);
int inspect_interpolate_main(int argc, char **argv);

/* The program's usage text (swap-inspect sets it), which inspect_usage prints after msg (if any) before exiting
 * with the usage status. */
void inspect_set_usage(const char *text);
_Noreturn void inspect_usage(const char *msg);
/* An integer option in [lo, hi], else a usage error naming flag. */
long inspect_parse_long(const char *flag, const char *s, long lo, long hi);
/* Run the model's convolutions in precision name ("fp32" or "bf16"; a file records the one it was trained in):
 * bf16 on a CPU without AVX512_BF16 fails with a one-line message naming what is missing and path. */
void inspect_set_precision(const char *name, const char *path);
/* Whether the last argument is --json (the summary, diff and ls verbs take it there). */
int inspect_wants_json(int argc, char **argv);

typedef struct {
    double mean, std, min, max, l2;
    size_t nonfinite, n;
} Stats;
/* Over the finite values (NaN/Inf counted apart); min = max = NaN when none is finite. */
Stats stats_of(const float *x, size_t n);

/* Load for inspection: NaN/Inf and hash mismatches are reported, not fatal; structure problems are fatal. */
Model *load_lenient(const char *path, CkptMeta *meta, int *hash_ok);
double last_test_acc(const CkptMeta *m);

/* The data a checkpoint was trained on: the built-in dataset `name` (data = its directory, or NULL), or for
 * dataset "hdf5" the file `data` (--data FILE) else the one the checkpoint records, normalized as the checkpoint
 * records. A data file whose content hash differs from the recorded one is refused unless ignore_hash
 * (--ignore-data-hash); the message names that flag. */
Dataset *inspect_load_data(const char *ckpt_path, const CkptMeta *mt, const char *name, const char *data,
                           int ignore_hash, int train);

/* JSON numbers as the CSVs print them (9 significant digits), so a script can compare the two exactly;
 * NaN (not measured) becomes null. */
cJSON *json_num9(double v);
/* Print j on one line followed by a newline to stdout, then free it. */
void json_print_line(cJSON *j);

#endif
