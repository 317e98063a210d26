/* What the swap-inspect verbs share: usage errors, option parsing, statistics, lenient loading, JSON output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"
#include "nn/layers.h"

static const char *g_usage;

void inspect_set_usage(const char *text) { g_usage = text; }

_Noreturn void inspect_usage(const char *msg) {
    if (msg) fprintf(stderr, "swap-inspect: %s\n", msg);
    if (g_usage) fputs(g_usage, stderr);
    exit(SWAP_EXIT_USAGE);
}

long inspect_parse_long(const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || !*s || v < lo || v > hi) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: '%s' is not an integer in [%ld, %ld]", flag, s, lo, hi);
        inspect_usage(msg);
    }
    return v;
}

void inspect_set_precision(const char *name, const char *path) {
    Precision p;
    if (nn_precision_parse(name, &p) != 0) swap_fail("%s: precision '%s': expected fp32 or bf16", path, name);
    if (p == PREC_BF16 && nn_bf16_missing())
        swap_fail("%s: computed in bf16, and this CPU lacks %s; pass --precision fp32 to evaluate in fp32", path,
                  nn_bf16_missing());
    nn_set_precision(p);
}

int inspect_wants_json(int argc, char **argv) { return argc > 1 && !strcmp(argv[argc - 1], "--json"); }

Stats stats_of(const float *x, size_t n) {
    Stats s = {0, 0, INFINITY, -INFINITY, 0, 0, n};
    double sum = 0, sq = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) {
            s.nonfinite++;
            continue;
        }
        sum += v;
        sq += v * v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        k++;
    }
    if (k) {
        s.mean = sum / (double)k;
        double var = sq / (double)k - s.mean * s.mean;
        s.std = var > 0 ? sqrt(var) : 0;
        s.l2 = sqrt(sq);
    } else {
        s.min = s.max = NAN;
    }
    return s;
}

Model *load_lenient(const char *path, CkptMeta *meta, int *hash_ok) {
    char err[1024];
    if (ckpt_try_read_meta(path, meta, err, sizeof err) < 0) swap_fail("%s", err);
    int mom = meta->has_momentum;
    ckpt_meta_free(meta);
    Model *m = NULL;
    if (ckpt_try_load(path, &m, meta, mom, CKPT_LOAD_ALLOW_NONFINITE | CKPT_LOAD_ALLOW_BAD_HASH, hash_ok, err,
                      sizeof err) < 0)
        swap_fail("%s", err);
    return m;
}

double last_test_acc(const CkptMeta *m) {
    for (int i = m->n_history - 1; i >= 0; i--)
        if (isfinite(m->history[i].test_acc)) return m->history[i].test_acc;
    return NAN;
}

cJSON *json_num9(double v) { return json_number_as(v, "%.9g"); }

void json_print_line(cJSON *j) {
    char *line = json_line(j);
    fputs(line, stdout);
    free(line);
    cJSON_Delete(j);
}

Dataset *inspect_load_data(const char *ckpt_path, const CkptMeta *mt, const char *name, const char *data,
                           int ignore_hash, int train) {
    DataOpts o = {0};
    if (mt->norm_channels > 0 && !strcmp(name, mt->dataset)) { /* the normalization the model was trained with */
        o.have_norm = 1;
        for (int c = 0; c < 3; c++) {
            o.mean[c] = c < mt->norm_channels ? (float)mt->norm_mean[c] : 0.0f;
            o.std[c] = c < mt->norm_channels ? (float)mt->norm_std[c] : 1.0f;
        }
    }
    if (strcmp(name, "hdf5")) return dataset_load_opts(name, data, train, &o);
    const char *file = data && *data ? data : mt->data_file;
    if (!file[0]) swap_fail("%s: records no data file; pass --data FILE", ckpt_path);
    Dataset *d = dataset_load_opts(name, file, train, &o);
    if (mt->data_hash[0] && strcmp(d->hash, mt->data_hash) && !ignore_hash)
        swap_fail("%s: content hash %s differs from the hash %s that %s records (another file, or changed since "
                  "training); pass --ignore-data-hash to use it anyway",
                  file, d->hash, mt->data_hash, ckpt_path);
    return d;
}
