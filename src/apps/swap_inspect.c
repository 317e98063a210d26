/* swap-inspect: look at archived checkpoints without touching them (files are only ever opened read-only).
 *   swap-inspect FILE [--json]                    summary: phase, lineage, model, config digest, metrics, tensors
 *   swap-inspect diff A B [--json]                per-tensor distances and config differences
 *   swap-inspect eval FILE [--data DIR] [--subset N] [--batch B] [--bn-recompute N [--bn-batch B]
 *                     [--train-subset K]] [--json]
 *   swap-inspect verify FILE...                   checksums + structure, one line per file
 *   swap-inspect ls DIR [--json]                  every checkpoint under DIR, one row each
 *   swap-inspect tensor FILE NAME [--momentum] [--csv | --raw OUT]
 *   swap-inspect export FILE --format safetensors -o OUT   the weights for PyTorch & co (state_dict names) */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "core/err.h"
#include "nn/parallel.h"
#include "data/dataset.h"
#include "phases/trainer.h" /* bn_recompute, phase_seed: the BN batches swap-average uses */
#include "report/report.h"     /* plot, interpolate */

static const char *USAGE =
    "usage: swap-inspect FILE [--json]\n"
    "       swap-inspect diff A B [--json]\n"
    "       swap-inspect eval FILE [--data DIR] [--dataset NAME] [--subset N] [--batch B]\n"
    "                         [--bn-recompute N [--bn-batch B] [--train-subset K]] [--json]\n"
    "       swap-inspect verify FILE...\n"
    "       swap-inspect ls DIR [--json]\n"
    "       swap-inspect tensor FILE NAME [--momentum] [--csv | --raw OUT]\n"
    "       swap-inspect export FILE --format safetensors -o OUT\n"
    "       swap-inspect plot RESULTS_DIR\n"
    "       swap-inspect interpolate A B [C] [--steps N] [--data DIR] [--subset N] [--bn-batches K] [--out DIR]...\n";

static _Noreturn void usage(const char *msg) {
    if (msg) fprintf(stderr, "swap-inspect: %s\n", msg);
    fputs(USAGE, stderr);
    exit(SWAP_EXIT_USAGE);
}

/* ---------------------------------------------------------------- JSON output */

static void json_str(FILE *o, const char *s) {
    fputc('"', o);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(o, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", o);
        else if (*p == '\t') fputs("\\t", o);
        else if (*p < 0x20) fprintf(o, "\\u%04x", *p);
        else fputc(*p, o);
    }
    fputc('"', o);
}

static void json_num(FILE *o, double v) {
    if (isfinite(v)) fprintf(o, "%.9g", v);
    else fputs("null", o); /* NaN = not measured */
}

static void json_key(FILE *o, const char *k, int *first) {
    if (!*first) fputc(',', o);
    *first = 0;
    json_str(o, k);
    fputc(':', o);
}

/* ---------------------------------------------------------------- statistics */

typedef struct {
    double mean, std, min, max, l2;
    size_t nonfinite, n;
} Stats;

static Stats stats_of(const float *x, size_t n) {
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

static void shape_str(const TensorView *v, char *buf, size_t n) { ps_shape_str(v, buf, n); }

static double last_test_acc(const CkptMeta *m) {
    for (int i = m->n_history - 1; i >= 0; i--)
        if (isfinite(m->history[i].test_acc)) return m->history[i].test_acc;
    return NAN;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* Load for inspection: NaN/Inf and hash mismatches are reported, not fatal; structure problems are fatal. */
static Model *load_lenient(const char *path, CkptMeta *meta, int *hash_ok) {
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

/* ---------------------------------------------------------------- summary */

static void summary_text(const char *path, const Model *m, const CkptMeta *mt, const char *integrity) {
    printf("file         %s\n", path);
    printf("format       %s %s, created %s\n", CKPT_FORMAT_NAME, mt->format_version, mt->created_utc);
    printf("integrity    %s\n", integrity);
    printf("phase        %s  epoch %lld  step %lld  samples %lld  seed %llu\n", mt->phase, (long long)mt->epoch,
           (long long)mt->step, (long long)mt->samples_seen, (unsigned long long)mt->seed);
    printf("worker       %d of %d  world_size %d\n", mt->worker, mt->n_workers, mt->world_size);
    printf("content      %s\n", mt->content_hash);
    if (mt->n_parents == 0) printf("parents      (none)\n");
    for (int i = 0; i < mt->n_parents; i++)
        printf("%-12s %s  %s\n", i ? "" : "parents", mt->parents[i].hash, mt->parents[i].path);
    printf("model        %s  input %dx%dx%d  classes %d  width %d  label_smoothing %g\n", mt->model, mt->spec.in_c,
           mt->spec.in_h, mt->spec.in_w, mt->spec.classes, mt->spec.width, mt->spec.label_smoothing);
    printf("             %lld params + %lld buffers in %lld tensors, momentum %s\n", (long long)mt->param_count,
           (long long)mt->buffer_count, (long long)mt->n_tensors, mt->has_momentum ? "yes" : "no");
    printf("dataset      %s", mt->dataset[0] ? mt->dataset : "(unknown)");
    if (mt->norm_channels) {
        printf("  mean");
        for (int c = 0; c < mt->norm_channels; c++) printf(" %.4f", mt->norm_mean[c]);
        printf("  std");
        for (int c = 0; c < mt->norm_channels; c++) printf(" %.4f", mt->norm_std[c]);
    }
    printf("\n");
    if (mt->val_split)
        printf("validation   %lld training images held out (data.val_seed %lld, split %s)\n", (long long)mt->val_split,
               (long long)mt->val_seed, mt->val_hash);
    printf("config       %s  (%d resolved lines, %zu bytes of source)\n", mt->config_hash,
           count_lines(mt->config_resolved), strlen(mt->config_source ? mt->config_source : ""));
    printf("build        git %.12s%s  %s  %s  [%s]\n", mt->git_commit, mt->git_dirty ? " (dirty)" : "", mt->build_type,
           mt->compiler, mt->cflags);
    printf("libraries    HDF5 %s  MPI %s\n             %s\n", mt->hdf5_version,
           mt->mpi_version[0] ? mt->mpi_version : "(none)", mt->blas);
    printf("host         %s", mt->host);
    if (mt->slurm_job_id[0]) printf("  slurm job %s", mt->slurm_job_id);
    if (mt->slurm_array_job_id[0]) printf("  array %s_%s", mt->slurm_array_job_id, mt->slurm_array_task_id);
    printf("\n");
    printf("state        cursor epoch %lld step %lld", (long long)mt->cursor_epoch, (long long)mt->cursor_step);
    for (int i = 0; i < mt->n_rngs; i++) printf("%s%s", i ? ", " : "; rng ", mt->rngs[i].name);
    printf("\n");
    static const char *const kinds[] = {"uint64", "int64", "int32", "float64", "float32"};
    for (int i = 0; i < mt->n_extra; i++)
        printf("%-12s %s %s[%zu]\n", i ? "" : "extra", mt->extra[i].name, kinds[mt->extra[i].kind], mt->extra[i].n);
    if (mt->n_history) {
        printf("\nmetrics      %5s %9s %10s %10s %9s %10s %9s%s\n", "epoch", "time_s", "lr", "train_loss", "train_acc",
               "test_loss", "test_acc", mt->val_split ? "   val_acc" : "");
        for (int i = 0; i < mt->n_history; i++) {
            const EpochRecord *r = &mt->history[i];
            printf("             %5d %9.2f %10.5g %10.4f %9.4f %10.4f %9.4f", r->epoch, r->time_s, r->lr,
                   r->train_loss, r->train_acc, r->test_loss, r->test_acc);
            if (mt->val_split) printf(" %9.4f", r->val_acc);
            printf("\n");
        }
    }
    printf("\n%-26s %-18s %11s %11s %11s %11s %11s %6s\n", "tensor", "shape", "mean", "std", "min", "max", "l2",
           "nonfin");
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        Stats s = stats_of(ps_tensor(&m->ps, i), v->numel);
        char sh[64];
        shape_str(v, sh, sizeof sh);
        printf("%-26s %-18s %11.4g %11.4g %11.4g %11.4g %11.4g %6zu\n", v->name, sh, s.mean, s.std, s.min, s.max,
               s.l2, s.nonfinite);
    }
    if (mt->has_momentum) {
        Stats s = stats_of(m->ps.mom, m->ps.n_params);
        printf("%-26s %-18zu %11.4g %11.4g %11.4g %11.4g %11.4g %6zu\n", "(momentum, all)", m->ps.n_params, s.mean,
               s.std, s.min, s.max, s.l2, s.nonfinite);
    }
}

static void json_stats(FILE *o, const Stats *s) {
    int f = 1;
    json_key(o, "mean", &f), json_num(o, s->mean);
    json_key(o, "std", &f), json_num(o, s->std);
    json_key(o, "min", &f), json_num(o, s->min);
    json_key(o, "max", &f), json_num(o, s->max);
    json_key(o, "l2", &f), json_num(o, s->l2);
    json_key(o, "nonfinite", &f), fprintf(o, "%zu", s->nonfinite);
}

static void summary_json(const char *path, const Model *m, const CkptMeta *mt, int ok, const char *integrity) {
    FILE *o = stdout;
    int f = 1;
    fputc('{', o);
    json_key(o, "file", &f), json_str(o, path);
    json_key(o, "format", &f), json_str(o, CKPT_FORMAT_NAME);
    json_key(o, "format_version", &f), json_str(o, mt->format_version);
    json_key(o, "created_utc", &f), json_str(o, mt->created_utc);
    json_key(o, "integrity_ok", &f), fputs(ok ? "true" : "false", o);
    json_key(o, "integrity", &f), json_str(o, integrity);
    json_key(o, "phase", &f), json_str(o, mt->phase);
    json_key(o, "epoch", &f), fprintf(o, "%lld", (long long)mt->epoch);
    json_key(o, "step", &f), fprintf(o, "%lld", (long long)mt->step);
    json_key(o, "samples_seen", &f), fprintf(o, "%lld", (long long)mt->samples_seen);
    json_key(o, "seed", &f), fprintf(o, "%llu", (unsigned long long)mt->seed);
    json_key(o, "worker", &f), fprintf(o, "%d", mt->worker);
    json_key(o, "n_workers", &f), fprintf(o, "%d", mt->n_workers);
    json_key(o, "world_size", &f), fprintf(o, "%d", mt->world_size);
    json_key(o, "content_hash", &f), json_str(o, mt->content_hash);
    json_key(o, "momentum_hash", &f), json_str(o, mt->momentum_hash);
    json_key(o, "parents", &f), fputc('[', o);
    for (int i = 0; i < mt->n_parents; i++) {
        int g = 1;
        fputs(i ? ",{" : "{", o);
        json_key(o, "hash", &g), json_str(o, mt->parents[i].hash);
        json_key(o, "path", &g), json_str(o, mt->parents[i].path);
        fputc('}', o);
    }
    fputc(']', o);
    json_key(o, "model", &f), json_str(o, mt->model);
    json_key(o, "spec", &f);
    {
        int g = 1;
        fputc('{', o);
        json_key(o, "in_c", &g), fprintf(o, "%d", mt->spec.in_c);
        json_key(o, "in_h", &g), fprintf(o, "%d", mt->spec.in_h);
        json_key(o, "in_w", &g), fprintf(o, "%d", mt->spec.in_w);
        json_key(o, "classes", &g), fprintf(o, "%d", mt->spec.classes);
        json_key(o, "width", &g), fprintf(o, "%d", mt->spec.width);
        json_key(o, "label_smoothing", &g), json_num(o, mt->spec.label_smoothing);
        fputc('}', o);
    }
    json_key(o, "param_count", &f), fprintf(o, "%lld", (long long)mt->param_count);
    json_key(o, "buffer_count", &f), fprintf(o, "%lld", (long long)mt->buffer_count);
    json_key(o, "has_momentum", &f), fputs(mt->has_momentum ? "true" : "false", o);
    json_key(o, "dataset", &f), json_str(o, mt->dataset);
    json_key(o, "val_split", &f), fprintf(o, "%lld", (long long)mt->val_split);
    json_key(o, "val_seed", &f), fprintf(o, "%lld", (long long)mt->val_seed);
    json_key(o, "val_hash", &f), json_str(o, mt->val_hash);
    json_key(o, "norm_mean", &f), fputc('[', o);
    for (int c = 0; c < mt->norm_channels; c++) fputs(c ? "," : "", o), json_num(o, mt->norm_mean[c]);
    fputc(']', o);
    json_key(o, "norm_std", &f), fputc('[', o);
    for (int c = 0; c < mt->norm_channels; c++) fputs(c ? "," : "", o), json_num(o, mt->norm_std[c]);
    fputc(']', o);
    json_key(o, "config_hash", &f), json_str(o, mt->config_hash);
    json_key(o, "config_resolved", &f), json_str(o, mt->config_resolved);
    json_key(o, "provenance", &f);
    {
        int g = 1;
        fputc('{', o);
        json_key(o, "git_commit", &g), json_str(o, mt->git_commit);
        json_key(o, "git_dirty", &g), fputs(mt->git_dirty ? "true" : "false", o);
        json_key(o, "compiler", &g), json_str(o, mt->compiler);
        json_key(o, "cflags", &g), json_str(o, mt->cflags);
        json_key(o, "build_type", &g), json_str(o, mt->build_type);
        json_key(o, "blas", &g), json_str(o, mt->blas);
        json_key(o, "hdf5_version", &g), json_str(o, mt->hdf5_version);
        json_key(o, "mpi_version", &g), json_str(o, mt->mpi_version);
        json_key(o, "host", &g), json_str(o, mt->host);
        json_key(o, "slurm_job_id", &g), json_str(o, mt->slurm_job_id);
        json_key(o, "slurm_array_job_id", &g), json_str(o, mt->slurm_array_job_id);
        json_key(o, "slurm_array_task_id", &g), json_str(o, mt->slurm_array_task_id);
        fputc('}', o);
    }
    json_key(o, "cursor", &f), fprintf(o, "{\"epoch\":%lld,\"step\":%lld}", (long long)mt->cursor_epoch,
                                       (long long)mt->cursor_step);
    json_key(o, "rng", &f), fputc('[', o);
    for (int i = 0; i < mt->n_rngs; i++) fputs(i ? "," : "", o), json_str(o, mt->rngs[i].name);
    fputc(']', o);
    json_key(o, "history", &f), fputc('[', o);
    for (int i = 0; i < mt->n_history; i++) {
        const EpochRecord *r = &mt->history[i];
        int g = 1;
        fputs(i ? ",{" : "{", o);
        json_key(o, "epoch", &g), fprintf(o, "%d", r->epoch);
        json_key(o, "time_s", &g), json_num(o, r->time_s);
        json_key(o, "lr", &g), json_num(o, r->lr);
        json_key(o, "train_loss", &g), json_num(o, r->train_loss);
        json_key(o, "train_acc", &g), json_num(o, r->train_acc);
        json_key(o, "test_loss", &g), json_num(o, r->test_loss);
        json_key(o, "test_acc", &g), json_num(o, r->test_acc);
        json_key(o, "val_loss", &g), json_num(o, r->val_loss);
        json_key(o, "val_acc", &g), json_num(o, r->val_acc);
        fputc('}', o);
    }
    fputc(']', o);
    json_key(o, "tensors", &f), fputc('[', o);
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        Stats s = stats_of(ps_tensor(&m->ps, i), v->numel);
        int g = 1;
        fputs(i ? ",{" : "{", o);
        json_key(o, "name", &g), json_str(o, v->name);
        json_key(o, "shape", &g), fputc('[', o);
        for (int k = 0; k < v->ndim; k++) fprintf(o, "%s%d", k ? "," : "", v->shape[k]);
        fputc(']', o);
        json_key(o, "layer_type", &g), json_str(o, v->layer_type);
        json_key(o, "trainable", &g), fputs(v->trainable ? "true" : "false", o);
        fputc(',', o);
        json_stats(o, &s);
        fputc('}', o);
    }
    fputs("]}\n", o);
}

static int cmd_summary(const char *path, int json) {
    CkptMeta mt;
    int hash_ok = 0;
    Model *m = load_lenient(path, &mt, &hash_ok);
    char err[1024] = "OK: checksums, content hash and structure verified";
    int ok = ckpt_verify(path, err, sizeof err) == 0;
    if (!ok) {
        /* drop the leading "path: " to keep the line short */
        size_t n = strlen(path);
        if (!strncmp(err, path, n) && err[n] == ':') memmove(err, err + n + 2, strlen(err + n + 2) + 1);
        memmove(err + 8, err, strnlen(err, sizeof err - 9) + 1);
        err[sizeof err - 1] = 0;
        memcpy(err, "FAILED: ", 8);
    }
    if (json) summary_json(path, m, &mt, ok, err);
    else summary_text(path, m, &mt, err);
    model_free(m);
    ckpt_meta_free(&mt);
    return 0;
}

/* ---------------------------------------------------------------- diff */

typedef struct {
    char **v;
    int n;
} Lines;

static Lines split_lines(const char *s) {
    Lines l = {NULL, 0};
    const char *p = s ? s : "";
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        l.v = xRealloc(l.v, (size_t)(l.n + 1) * sizeof *l.v);
        l.v[l.n] = xMalloc(len + 1);
        memcpy(l.v[l.n], p, len);
        l.v[l.n][len] = 0;
        l.n++;
        p += len + (e ? 1 : 0);
    }
    return l;
}

static void free_lines(Lines *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* Line diff (LCS) of two texts: "- " lines only in a, "+ " lines only in b. Returns the number of changes. */
static int line_diff(const char *a, const char *b, int json, int *first_json) {
    Lines x = split_lines(a), y = split_lines(b);
    int changes = 0;
    size_t cells = (size_t)(x.n + 1) * (size_t)(y.n + 1);
    if (cells > 50u * 1000 * 1000) swap_fail("config diff: texts too long to compare (%d and %d lines)", x.n, y.n);
    int *L = xCalloc(cells, sizeof *L);
#define AT(i, j) L[(size_t)(i) * (size_t)(y.n + 1) + (size_t)(j)]
    for (int i = x.n - 1; i >= 0; i--)
        for (int j = y.n - 1; j >= 0; j--)
            AT(i, j) = strcmp(x.v[i], y.v[j]) == 0 ? AT(i + 1, j + 1) + 1
                                                   : (AT(i + 1, j) > AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1));
    int i = 0, j = 0;
    while (i < x.n || j < y.n) {
        const char *line;
        char sign;
        if (i < x.n && j < y.n && !strcmp(x.v[i], y.v[j])) {
            i++, j++;
            continue;
        }
        if (j >= y.n || (i < x.n && AT(i + 1, j) >= AT(i, j + 1))) sign = '-', line = x.v[i++];
        else sign = '+', line = y.v[j++];
        changes++;
        if (json) {
            if (!*first_json) fputc(',', stdout);
            *first_json = 0;
            char buf[8192];
            snprintf(buf, sizeof buf, "%c %s", sign, line);
            json_str(stdout, buf);
        } else {
            printf("  %c %s\n", sign, line);
        }
    }
#undef AT
    free(L);
    free_lines(&x);
    free_lines(&y);
    return changes;
}

typedef struct {
    double d2, a2, b2, ab;
} Acc;

static void acc_add(Acc *acc, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        acc->d2 += (x - y) * (x - y);
        acc->a2 += x * x;
        acc->b2 += y * y;
        acc->ab += x * y;
    }
}

static void acc_print(const char *name, const char *shape, const Acc *a, int json, int *first) {
    double l2 = sqrt(a->d2), na = sqrt(a->a2), nb = sqrt(a->b2);
    double rel = na > 0 ? l2 / na : (l2 > 0 ? INFINITY : 0);
    double cos = na > 0 && nb > 0 ? a->ab / (na * nb) : NAN;
    if (json) {
        int g = 1;
        fputs(*first ? "{" : ",{", stdout);
        *first = 0;
        json_key(stdout, "name", &g), json_str(stdout, name);
        json_key(stdout, "shape", &g), json_str(stdout, shape);
        json_key(stdout, "l2", &g), json_num(stdout, l2);
        json_key(stdout, "relative", &g), json_num(stdout, rel);
        json_key(stdout, "cosine", &g), json_num(stdout, cos);
        fputc('}', stdout);
    } else {
        printf("%-26s %-18s %12.6g %12.6g %12.8f\n", name, shape, l2, rel, cos);
    }
}

static int cmd_diff(const char *pa, const char *pb, int json) {
    CkptMeta ma, mb;
    int oka, okb;
    Model *a = load_lenient(pa, &ma, &oka), *b = load_lenient(pb, &mb, &okb);
    int first = 1;
    if (json) {
        int f = 1;
        printf("{");
        json_key(stdout, "a", &f), json_str(stdout, pa);
        json_key(stdout, "b", &f), json_str(stdout, pb);
        json_key(stdout, "a_hash", &f), json_str(stdout, ma.content_hash);
        json_key(stdout, "b_hash", &f), json_str(stdout, mb.content_hash);
        json_key(stdout, "same_content", &f), fputs(strcmp(ma.content_hash, mb.content_hash) ? "false" : "true", stdout);
        json_key(stdout, "tensors", &f), fputc('[', stdout);
    } else {
        printf("A  %s  (%s, epoch %lld, %s)\nB  %s  (%s, epoch %lld, %s)\n", pa, ma.phase, (long long)ma.epoch,
               ma.content_hash, pb, mb.phase, (long long)mb.epoch, mb.content_hash);
        printf("content      %s\n", strcmp(ma.content_hash, mb.content_hash) ? "differs" : "identical");
        printf("\n%-26s %-18s %12s %12s %12s\n", "tensor", "shape", "l2(A-B)", "relative", "cosine");
    }
    Acc all = {0, 0, 0, 0}, trainable = {0, 0, 0, 0};
    int only = 0;
    for (int i = 0; i < a->ps.n_views; i++) {
        const TensorView *v = &a->ps.views[i];
        int j = ps_find(&b->ps, v->name);
        char sh[64];
        shape_str(v, sh, sizeof sh);
        if (j < 0 || b->ps.views[j].numel != v->numel || b->ps.views[j].ndim != v->ndim ||
            memcmp(b->ps.views[j].shape, v->shape, sizeof v->shape)) {
            only++;
            if (!json) printf("%-26s %-18s %s\n", v->name, sh, j < 0 ? "only in A" : "shape differs");
            continue;
        }
        Acc t = {0, 0, 0, 0};
        acc_add(&t, ps_tensor(&a->ps, i), ps_tensor(&b->ps, j), v->numel);
        acc_print(v->name, sh, &t, json, &first);
        all.d2 += t.d2, all.a2 += t.a2, all.b2 += t.b2, all.ab += t.ab;
        if (v->trainable) trainable.d2 += t.d2, trainable.a2 += t.a2, trainable.b2 += t.b2, trainable.ab += t.ab;
    }
    for (int j = 0; j < b->ps.n_views; j++)
        if (ps_find(&a->ps, b->ps.views[j].name) < 0) {
            only++;
            if (!json) printf("%-26s %-18s only in B\n", b->ps.views[j].name, "");
        }
    acc_print("(all parameters)", "", &trainable, json, &first);
    acc_print("(all tensors)", "", &all, json, &first);
    if (json) {
        int f = 0;
        printf("]");
        json_key(stdout, "unmatched_tensors", &f), printf("%d", only);
        json_key(stdout, "config_same", &f), fputs(strcmp(ma.config_hash, mb.config_hash) ? "false" : "true", stdout);
        json_key(stdout, "config_diff", &f), fputc('[', stdout);
        int fj = 1;
        line_diff(ma.config_resolved, mb.config_resolved, 1, &fj);
        printf("]}\n");
    } else {
        printf("\nconfig       %s\n", strcmp(ma.config_hash, mb.config_hash) ? "differs (resolved, A -> B):" : "identical");
        int dummy = 1;
        if (strcmp(ma.config_resolved, mb.config_resolved)) line_diff(ma.config_resolved, mb.config_resolved, 0, &dummy);
        if (strcmp(ma.phase, mb.phase)) printf("phase        %s -> %s\n", ma.phase, mb.phase);
        if (ma.epoch != mb.epoch) printf("epoch        %lld -> %lld\n", (long long)ma.epoch, (long long)mb.epoch);
        if (strcmp(ma.model, mb.model)) printf("model        %s -> %s\n", ma.model, mb.model);
    }
    model_free(a);
    model_free(b);
    ckpt_meta_free(&ma);
    ckpt_meta_free(&mb);
    return 0;
}

/* ---------------------------------------------------------------- eval */

static long parse_long(const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || !*s || v < lo || v > hi) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: '%s' is not an integer in [%ld, %ld]", flag, s, lo, hi);
        usage(msg);
    }
    return v;
}

static void eval_run(const char *path, const char *dir, const char *dataset, long bn_batches, int bn_batch,
                     long train_subset, long subset, int batch, int json) {
    CkptMeta mt;
    Model *m = ckpt_load_model(path, &mt, 0);
    const char *name = dataset ? dataset : mt.dataset;
    if (!name[0]) swap_fail("%s: no dataset recorded in the checkpoint; pass --dataset NAME", path);
    Dataset *test = dataset_load(name, dir, 0);
    if (test->c != m->spec.in_c || test->h != m->spec.in_h || test->w != m->spec.in_w)
        swap_fail("%s: dataset %s has %dx%dx%d images, the model takes %dx%dx%d", path, name, test->c, test->h, test->w,
                  m->spec.in_c, m->spec.in_h, m->spec.in_w);
    for (int c = 0; c < mt.norm_channels && c < test->c; c++)
        if (fabs(mt.norm_mean[c] - test->mean[c]) > 1e-6 || fabs(mt.norm_std[c] - test->std[c]) > 1e-6)
            swap_warn("%s: normalization of channel %d differs from the dataset's (%g/%g vs %g/%g)", path, c,
                      mt.norm_mean[c], mt.norm_std[c], test->mean[c], test->std[c]);
    if (subset > 0 && subset < test->n) dataset_truncate(test, (int)subset);
    /* the validation split recorded in the file, carved as the phases carve it (and kept out of BN batches) */
    Dataset *train = NULL, *val = NULL;
    if (bn_batches > 0 || mt.val_split > 0) {
        train = dataset_load(name, dir, 1);
        if (mt.val_split > 0) {
            if (mt.val_split >= train->n)
                swap_fail("%s: records data.val_split = %lld but %s has %d training images", path,
                          (long long)mt.val_split, name, train->n);
            val = dataset_split_val(train, (int)mt.val_split, (uint64_t)mt.val_seed);
        }
        if (train_subset > 0 && train_subset < train->n) dataset_truncate(train, (int)train_subset);
    }
    if (bn_batches > 0) {
        /* update_bn semantics (reset, cumulative average over N train-mode batches) with the batches and the
         * augmentation swap-average draws, so the same seed, batch and subset reproduce phase 3 */
        Augment aug;
        bn_recompute(m, train, bn_batch, (int)bn_batches, phase_seed(mt.seed, 4, 0), bn_augment_from_meta(&mt, &aug));
    }
    if (train) dataset_free(train);
    /* test loss is plain cross-entropy whatever smoothing the model trained with */
    m->spec.label_smoothing = 0.0f;
    uint32_t *idx = xMalloc((size_t)batch * sizeof *idx);
    double loss = 0;
    long correct = 0;
    for (int s = 0; s < test->n; s += batch) {
        int nb = test->n - s < batch ? test->n - s : batch;
        for (int j = 0; j < nb; j++) idx[j] = (uint32_t)(s + j);
        model_set_batch(m, nb);
        dataset_fill_batch(model_input(m), model_labels(m), test, idx, nb, NULL, mt.seed, 0, 0, (size_t)s);
        loss += (double)model_forward(m, 0, 1) * nb;
        correct += model_count_correct(m);
    }
    double acc = test->n ? (double)correct / test->n : NAN;
    loss = test->n ? loss / test->n : NAN;
    double vloss = NAN, vacc = NAN, vcount = 0;
    if (val) {
        double vc = 0;
        eval_dataset(m, val, batch, 0, 1, &vloss, &vc, &vcount, NULL);
        vloss /= vcount;
        vacc = vc / vcount;
    }
    if (json) {
        int f = 1;
        fputc('{', stdout);
        json_key(stdout, "file", &f), json_str(stdout, path);
        json_key(stdout, "dataset", &f), json_str(stdout, name);
        json_key(stdout, "n", &f), printf("%d", test->n);
        json_key(stdout, "bn_recompute", &f), printf("%ld", bn_batches);
        json_key(stdout, "test_loss", &f), json_num(stdout, loss);
        json_key(stdout, "test_acc", &f), json_num(stdout, acc);
        json_key(stdout, "correct", &f), printf("%ld", correct);
        if (val) {
            json_key(stdout, "val_n", &f), printf("%d", val->n);
            json_key(stdout, "val_loss", &f), json_num(stdout, vloss);
            json_key(stdout, "val_acc", &f), json_num(stdout, vacc);
        }
        printf("}\n");
    } else {
        printf("%s: %s test n=%d  loss %.6f  acc %.6f (%ld correct)%s\n", path, name, test->n, loss, acc, correct,
               bn_batches > 0 ? "  [BN recomputed]" : "");
        if (val)
            printf("%s: %s val  n=%d  loss %.6f  acc %.6f (data.val_split of the training set)\n", path, name, val->n,
                   vloss, vacc);
    }
    if (val) dataset_free(val);
    free(idx);
    dataset_free(test);
    model_free(m);
    ckpt_meta_free(&mt);
}

static int cmd_eval(int argc, char **argv) {
    const char *path = NULL, *dir = NULL, *dataset = NULL;
    long bn = 0, subset = 0, batch = 500, bn_batch = 128, train_subset = 0;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--dataset") && i + 1 < argc) dataset = argv[++i];
        else if (!strcmp(argv[i], "--bn-recompute") && i + 1 < argc) bn = parse_long("--bn-recompute", argv[++i], 0, 1000000);
        else if (!strcmp(argv[i], "--subset") && i + 1 < argc) subset = parse_long("--subset", argv[++i], 0, 100000000);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = parse_long("--batch", argv[++i], 1, 65536);
        else if (!strcmp(argv[i], "--bn-batch") && i + 1 < argc) bn_batch = parse_long("--bn-batch", argv[++i], 1, 65536);
        else if (!strcmp(argv[i], "--train-subset") && i + 1 < argc)
            train_subset = parse_long("--train-subset", argv[++i], 0, 100000000);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-' || path) usage("eval: unexpected argument");
        else path = argv[i];
    }
    if (!path) usage("eval: FILE missing");
    eval_run(path, dir, dataset, bn, (int)bn_batch, train_subset, subset, (int)batch, json);
    return 0;
}

/* ---------------------------------------------------------------- export */

/* Strict load (hashes verified, finite weights): an export must never carry a damaged model further. */
static int cmd_export(int argc, char **argv) {
    const char *path = NULL, *out = NULL, *format = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) format = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-' || path) usage("export: unexpected argument");
        else path = argv[i];
    }
    if (!path || !out || !format) usage("export: FILE, --format and -o OUT are required");
    if (strcmp(format, "safetensors")) swap_fail_code(SWAP_EXIT_USAGE, "export: unknown format '%s' (known: safetensors)", format);
    CkptMeta meta;
    Model *m = ckpt_load_model(path, &meta, 0);
    ckpt_export_safetensors(out, m, &meta);
    printf("%s: wrote %s (%s, %d tensors, safetensors)\n", path, out, m->name, m->ps.n_views);
    model_free(m);
    ckpt_meta_free(&meta);
    return 0;
}

/* ---------------------------------------------------------------- verify, ls */

static int cmd_verify(int n, char **files) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char err[1024];
        CkptMeta mt;
        if (ckpt_verify(files[i], err, sizeof err) == 0 && ckpt_try_read_meta(files[i], &mt, err, sizeof err) == 0) {
            printf("%s: OK %s %s epoch %lld content %s\n", files[i], mt.model, mt.phase, (long long)mt.epoch,
                   mt.content_hash);
            ckpt_meta_free(&mt);
        } else {
            printf("%s\n", err);
            bad++;
        }
    }
    fflush(stdout);
    return bad ? SWAP_EXIT_ERROR : 0;
}

static char **g_found;
static size_t g_nfound;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    if (type == FTW_F && base[0] != '.' && n > 3 && !strcmp(base + n - 3, ".h5")) {
        g_found = xRealloc(g_found, (g_nfound + 1) * sizeof *g_found);
        g_found[g_nfound++] = xStrdup(path);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmd_ls(const char *dir, int json) {
    if (nftw(dir, collect, 32, FTW_PHYS) != 0) swap_fail("%s: cannot list (%s)", dir, strerror(errno));
    qsort(g_found, g_nfound, sizeof *g_found, cmp_str);
    if (json) printf("[");
    else printf("%-48s %-8s %6s %5s %8s %-12s %s\n", "path", "phase", "worker", "epoch", "test_acc", "hash", "parents");
    for (size_t i = 0; i < g_nfound; i++) {
        CkptMeta mt;
        char err[1024];
        int ok = ckpt_try_read_meta(g_found[i], &mt, err, sizeof err) == 0;
        if (json) {
            int f = 1;
            fputs(i ? ",{" : "{", stdout);
            json_key(stdout, "path", &f), json_str(stdout, g_found[i]);
            json_key(stdout, "valid", &f), fputs(ok ? "true" : "false", stdout);
            if (!ok) {
                json_key(stdout, "error", &f), json_str(stdout, err);
            } else {
                json_key(stdout, "phase", &f), json_str(stdout, mt.phase);
                json_key(stdout, "worker", &f), printf("%d", mt.worker);
                json_key(stdout, "epoch", &f), printf("%lld", (long long)mt.epoch);
                json_key(stdout, "test_acc", &f), json_num(stdout, last_test_acc(&mt));
                json_key(stdout, "content_hash", &f), json_str(stdout, mt.content_hash);
                json_key(stdout, "parents", &f), fputc('[', stdout);
                for (int p = 0; p < mt.n_parents; p++) fputs(p ? "," : "", stdout), json_str(stdout, mt.parents[p].hash);
                fputc(']', stdout);
            }
            fputc('}', stdout);
        } else if (!ok) {
            const char *msg = strncmp(err, g_found[i], strlen(g_found[i])) ? err : err + strlen(g_found[i]) + 2;
            printf("%-48s INVALID: %s\n", g_found[i], msg);
        } else {
            char acc[16] = "-", parents[CKPT_MAX_PARENTS * 9 + 1] = "-";
            double a = last_test_acc(&mt);
            if (isfinite(a)) snprintf(acc, sizeof acc, "%.4f", a);
            size_t u = 0;
            for (int p = 0; p < mt.n_parents; p++)
                u += (size_t)snprintf(parents + u, sizeof parents - u, "%s%.8s", p ? "," : "", mt.parents[p].hash);
            printf("%-48s %-8s %6d %5lld %8s %-12.12s %s\n", g_found[i], mt.phase, mt.worker, (long long)mt.epoch, acc,
                   mt.content_hash, parents);
        }
        if (ok) ckpt_meta_free(&mt);
        free(g_found[i]);
    }
    if (json) printf("]\n");
    free(g_found);
    return 0;
}

/* ---------------------------------------------------------------- tensor */

static int cmd_tensor(int argc, char **argv) {
    const char *path = NULL, *name = NULL, *raw = NULL;
    int csv = 0, mom = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--csv")) csv = 1;
        else if (!strcmp(argv[i], "--momentum")) mom = 1;
        else if (!strcmp(argv[i], "--raw") && i + 1 < argc) raw = argv[++i];
        else if (argv[i][0] == '-') usage("tensor: unknown option");
        else if (!path) path = argv[i];
        else if (!name) name = argv[i];
        else usage("tensor: too many arguments");
    }
    if (!path || !name) usage("tensor: FILE and NAME are required");
    if (csv && raw) usage("tensor: --csv and --raw exclude each other");
    CkptMeta mt;
    int ok;
    Model *m = load_lenient(path, &mt, &ok);
    int vi = ps_find(&m->ps, name);
    if (vi < 0) swap_fail("%s: no tensor '%s' (e.g. %s; `swap-inspect %s` lists them)", path, name, m->ps.views[0].name, path);
    const TensorView *v = &m->ps.views[vi];
    if (mom && (!mt.has_momentum || !v->trainable)) swap_fail("%s: no momentum stored for '%s'", path, name);
    const float *x = mom ? m->ps.mom + v->offset : ps_tensor(&m->ps, vi);
    char sh[64];
    shape_str(v, sh, sizeof sh);
    if (raw) {
        /* a new file of our own, written the safe way; the checkpoint itself is never touched */
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", raw, (int)getpid());
        FILE *f = xFopen(tmp, "wb");
        if (fwrite(x, sizeof(float), v->numel, f) != v->numel || fflush(f) || fsync(fileno(f)) || fclose(f) ||
            rename(tmp, raw)) {
            unlink(tmp);
            swap_fail("%s: cannot write (%s)", raw, strerror(errno));
        }
        fprintf(stderr, "%s%s %s: %zu float32 little-endian values written to %s\n", mom ? "momentum of " : "", name, sh,
                v->numel, raw);
    } else {
        size_t cols = v->ndim > 1 ? v->numel / (size_t)v->shape[0] : 1, rows = v->numel / cols;
        if (!csv) {
            Stats s = stats_of(x, v->numel);
            printf("# %s%s %s %s %s trainable=%d mean=%.6g std=%.6g min=%.6g max=%.6g l2=%.6g nonfinite=%zu\n",
                   mom ? "momentum of " : "", name, sh, v->layer_type, v->layout, v->trainable, s.mean, s.std, s.min,
                   s.max, s.l2, s.nonfinite);
        }
        /* one row per leading index (an output unit), the rest flattened */
        for (size_t r = 0; r < rows; r++) {
            for (size_t c = 0; c < cols; c++) printf("%s%.9g", c ? (csv ? "," : " ") : "", x[r * cols + c]);
            printf("\n");
        }
    }
    model_free(m);
    ckpt_meta_free(&mt);
    return 0;
}

int main(int argc, char **argv) {
    engine_exec_passive_wait(argv);
    swap_set_progname("swap-inspect");
    engine_set_threads((int)sysconf(_SC_NPROCESSORS_ONLN));
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? SWAP_EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "plot")) return inspect_plot_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "interpolate")) return inspect_interpolate_main(argc - 1, argv + 1);
    int json = argc > 2 && !strcmp(argv[argc - 1], "--json");
    if (!strcmp(cmd, "diff")) {
        if (argc - json != 4) usage("diff: need exactly two files");
        return cmd_diff(argv[2], argv[3], json);
    }
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "verify")) {
        if (argc < 3) usage("verify: no files");
        return cmd_verify(argc - 2, argv + 2);
    }
    if (!strcmp(cmd, "ls")) {
        if (argc - json != 3) usage("ls: need one directory");
        return cmd_ls(argv[2], json);
    }
    if (!strcmp(cmd, "tensor")) return cmd_tensor(argc - 2, argv + 2);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(cmd, "show")) argv++, argc--; /* explicit form for a file named like a subcommand */
    if (argc - json != 2 || argv[1][0] == '-') usage(NULL);
    return cmd_summary(argv[1], json);
}
