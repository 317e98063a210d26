/* swap-inspect FILE [--json]: phase, lineage, model, config digest, metrics and per-tensor statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* Trainable floats of one layer (its buffers are counted apart, as Keras's non-trainable params). */
static size_t layer_trainable(const Model *m, int layer) {
    size_t n = 0;
    for (int v = 0; v < m->ps.n_views; v++)
        if (m->ps.views[v].layer_index == layer && m->ps.views[v].trainable) n += m->ps.views[v].numel;
    return n;
}

static void shape_of(const Model *m, int slot, char *buf, size_t n) {
    const Slot *s = &m->slots[slot];
    if (s->nf) snprintf(buf, n, "%d", s->c);
    else snprintf(buf, n, "%dx%dx%d", s->c, s->h, s->w);
}

/* The network as a table like Keras's summary(): each layer's name (its tensors' prefix), kind, output shape,
 * parameters and forward FLOPs per image, then the totals. */
static void layer_table(const Model *m) {
    printf("\n%-32s %-15s %-12s %12s %14s\n", "layer", "kind", "output", "params", "FLOPs/image");
    double flops = 0;
    char sh[64];
    shape_of(m, 0, sh, sizeof sh);
    printf("%-32s %-15s %-12s %12d %14d\n", "(input)", "", sh, 0, 0);
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        shape_of(m, l->out, sh, sizeof sh);
        const double f = model_layer_flops(m, i);
        flops += f;
        printf("%-32s %-15s %-12s %12zu %14.0f\n", l->name, model_layer_kind(m, i), sh, layer_trainable(m, i), f);
    }
    printf("%-32s %-15s %-12s %12zu %14.0f\n", "total", "", "", m->ps.n_params, flops);
    printf("%zu trainable parameters, %zu buffers (BN running statistics), %d layers\n", m->ps.n_params,
           m->ps.n_total - m->ps.n_params, m->n_layers);
}

static cJSON *layers_json(const Model *m) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        const Slot *s = &m->slots[l->out];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->name);
        cJSON_AddStringToObject(o, "kind", model_layer_kind(m, i));
        cJSON *shape = cJSON_AddArrayToObject(o, "output");
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(s->c));
        if (!s->nf) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber(s->h));
            cJSON_AddItemToArray(shape, cJSON_CreateNumber(s->w));
        }
        cJSON_AddNumberToObject(o, "params", (double)layer_trainable(m, i));
        cJSON_AddNumberToObject(o, "flops", model_layer_flops(m, i));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

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
    if (mt->data_file[0]) printf("data file    %s  (content hash %s)\n", mt->data_file, mt->data_hash);
    if (mt->class_names) {
        printf("class names ");
        for (int k = 0; k < mt->n_class_names && k < 8; k++) printf(" %d=%s", k, mt->class_names[k]);
        printf("%s\n", mt->n_class_names > 8 ? " ..." : "");
    }
    if (mt->val_split)
        printf("validation   %lld training images held out (data.val_seed %lld, split %s)\n", (long long)mt->val_split,
               (long long)mt->val_seed, mt->val_hash);
    printf("config       %s  (%d resolved lines, %zu bytes of source)\n", mt->config_hash,
           count_lines(mt->config_resolved), strlen(mt->config_source ? mt->config_source : ""));
    printf("build        git %.12s%s  %s  %s  [%s]\n", mt->git_commit, mt->git_dirty ? " (dirty)" : "", mt->build_type,
           mt->compiler, mt->cflags);
    printf("libraries    HDF5 %s  MPI %s\n             %s\n", mt->hdf5_version,
           mt->mpi_version[0] ? mt->mpi_version : "(none)", mt->blas);
    printf("precision    %s\n", mt->precision);
    if (mt->conv[0]) printf("conv         %s\n", mt->conv);
    printf("host         %s", mt->host);
    if (mt->slurm_job_id[0]) printf("  slurm job %s", mt->slurm_job_id);
    if (mt->slurm_array_job_id[0]) printf("  array %s_%s", mt->slurm_array_job_id, mt->slurm_array_task_id);
    printf("\n");
    if (mt->cpu[0]) printf("cpu          %s\n", mt->cpu);
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
    layer_table(m);
    printf("\n%-26s %-18s %11s %11s %11s %11s %11s %6s\n", "tensor", "shape", "mean", "std", "min", "max", "l2",
           "nonfin");
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        Stats s = stats_of(ps_tensor(&m->ps, i), v->numel);
        char sh[64];
        ps_shape_str(v, sh, sizeof sh);
        printf("%-26s %-18s %11.4g %11.4g %11.4g %11.4g %11.4g %6zu\n", v->name, sh, s.mean, s.std, s.min, s.max,
               s.l2, s.nonfinite);
    }
    if (mt->has_momentum) {
        Stats s = stats_of(m->ps.mom, m->ps.n_params);
        printf("%-26s %-18zu %11.4g %11.4g %11.4g %11.4g %11.4g %6zu\n", "(momentum, all)", m->ps.n_params, s.mean,
               s.std, s.min, s.max, s.l2, s.nonfinite);
    }
}

static void add_stats(cJSON *o, const Stats *s) {
    cJSON_AddItemToObject(o, "mean", json_num9(s->mean));
    cJSON_AddItemToObject(o, "std", json_num9(s->std));
    cJSON_AddItemToObject(o, "min", json_num9(s->min));
    cJSON_AddItemToObject(o, "max", json_num9(s->max));
    cJSON_AddItemToObject(o, "l2", json_num9(s->l2));
    cJSON_AddItemToObject(o, "nonfinite", json_u64(s->nonfinite));
}

static cJSON *rng_names(const CkptMeta *mt) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < mt->n_rngs; i++) cJSON_AddItemToArray(a, cJSON_CreateString(mt->rngs[i].name));
    return a;
}

static cJSON *nums9(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, json_num9(v[i]));
    return a;
}

static cJSON *spec_json(const CkptMeta *mt) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "in_c", mt->spec.in_c);
    cJSON_AddNumberToObject(o, "in_h", mt->spec.in_h);
    cJSON_AddNumberToObject(o, "in_w", mt->spec.in_w);
    cJSON_AddNumberToObject(o, "classes", mt->spec.classes);
    cJSON_AddNumberToObject(o, "width", mt->spec.width);
    cJSON_AddItemToObject(o, "label_smoothing", json_num9(mt->spec.label_smoothing));
    return o;
}

static cJSON *provenance_json(const CkptMeta *mt) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "git_commit", mt->git_commit);
    cJSON_AddBoolToObject(o, "git_dirty", mt->git_dirty);
    cJSON_AddStringToObject(o, "compiler", mt->compiler);
    cJSON_AddStringToObject(o, "cflags", mt->cflags);
    cJSON_AddStringToObject(o, "build_type", mt->build_type);
    cJSON_AddStringToObject(o, "blas", mt->blas);
    cJSON_AddStringToObject(o, "hdf5_version", mt->hdf5_version);
    cJSON_AddStringToObject(o, "mpi_version", mt->mpi_version);
    cJSON_AddStringToObject(o, "conv", mt->conv);
    cJSON_AddStringToObject(o, "precision", mt->precision);
    cJSON_AddStringToObject(o, "host", mt->host);
    cJSON_AddStringToObject(o, "cpu", mt->cpu);
    cJSON_AddStringToObject(o, "slurm_job_id", mt->slurm_job_id);
    cJSON_AddStringToObject(o, "slurm_array_job_id", mt->slurm_array_job_id);
    cJSON_AddStringToObject(o, "slurm_array_task_id", mt->slurm_array_task_id);
    return o;
}

static cJSON *history_json(const CkptMeta *mt) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < mt->n_history; i++) {
        const EpochRecord *r = &mt->history[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", r->epoch);
        cJSON_AddItemToObject(o, "time_s", json_num9(r->time_s));
        cJSON_AddItemToObject(o, "lr", json_num9(r->lr));
        cJSON_AddItemToObject(o, "train_loss", json_num9(r->train_loss));
        cJSON_AddItemToObject(o, "train_acc", json_num9(r->train_acc));
        cJSON_AddItemToObject(o, "test_loss", json_num9(r->test_loss));
        cJSON_AddItemToObject(o, "test_acc", json_num9(r->test_acc));
        cJSON_AddItemToObject(o, "val_loss", json_num9(r->val_loss));
        cJSON_AddItemToObject(o, "val_acc", json_num9(r->val_acc));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *tensors_json(const Model *m) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        Stats s = stats_of(ps_tensor(&m->ps, i), v->numel);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v->name);
        cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(v->shape, v->ndim));
        cJSON_AddStringToObject(o, "layer_type", v->layer_type);
        cJSON_AddBoolToObject(o, "trainable", v->trainable);
        add_stats(o, &s);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *parents_json(const CkptMeta *mt) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < mt->n_parents; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "hash", mt->parents[i].hash);
        cJSON_AddStringToObject(o, "path", mt->parents[i].path ? mt->parents[i].path : "");
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* Identity and lineage: what the file is and where it comes from. */
static void add_identity(cJSON *o, const char *path, const CkptMeta *mt, int ok, const char *integrity) {
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddStringToObject(o, "format", CKPT_FORMAT_NAME);
    cJSON_AddStringToObject(o, "format_version", mt->format_version);
    cJSON_AddStringToObject(o, "created_utc", mt->created_utc);
    cJSON_AddBoolToObject(o, "integrity_ok", ok);
    cJSON_AddStringToObject(o, "integrity", integrity);
    cJSON_AddStringToObject(o, "phase", mt->phase);
    cJSON_AddItemToObject(o, "epoch", json_i64(mt->epoch));
    cJSON_AddItemToObject(o, "step", json_i64(mt->step));
    cJSON_AddItemToObject(o, "samples_seen", json_i64(mt->samples_seen));
    cJSON_AddItemToObject(o, "seed", json_u64(mt->seed));
    cJSON_AddNumberToObject(o, "worker", mt->worker);
    cJSON_AddNumberToObject(o, "n_workers", mt->n_workers);
    cJSON_AddNumberToObject(o, "world_size", mt->world_size);
    cJSON_AddStringToObject(o, "content_hash", mt->content_hash);
    cJSON_AddStringToObject(o, "momentum_hash", mt->momentum_hash);
    cJSON_AddItemToObject(o, "parents", parents_json(mt));
}

/* The model and the data it was trained on. */
static void add_model(cJSON *o, const CkptMeta *mt) {
    cJSON_AddStringToObject(o, "model", mt->model);
    cJSON *arch = mt->arch ? cJSON_Parse(mt->arch) : NULL;
    cJSON_AddItemToObject(o, "model_config", arch ? arch : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "spec", spec_json(mt));
    cJSON_AddItemToObject(o, "param_count", json_i64(mt->param_count));
    cJSON_AddItemToObject(o, "buffer_count", json_i64(mt->buffer_count));
    cJSON_AddBoolToObject(o, "has_momentum", mt->has_momentum);
    cJSON_AddStringToObject(o, "dataset", mt->dataset);
    if (mt->data_file[0]) {
        cJSON_AddStringToObject(o, "data_file", mt->data_file);
        cJSON_AddStringToObject(o, "data_hash", mt->data_hash);
    }
    if (mt->class_names)
        cJSON_AddItemToObject(o, "class_names",
                              cJSON_CreateStringArray((const char *const *)mt->class_names, mt->n_class_names));
    cJSON_AddItemToObject(o, "val_split", json_i64(mt->val_split));
    cJSON_AddItemToObject(o, "val_seed", json_i64(mt->val_seed));
    cJSON_AddStringToObject(o, "val_hash", mt->val_hash);
    cJSON_AddItemToObject(o, "norm_mean", nums9(mt->norm_mean, mt->norm_channels));
    cJSON_AddItemToObject(o, "norm_std", nums9(mt->norm_std, mt->norm_channels));
}

static void summary_json(const char *path, const Model *m, const CkptMeta *mt, int ok, const char *integrity) {
    cJSON *o = cJSON_CreateObject();
    add_identity(o, path, mt, ok, integrity);
    add_model(o, mt);
    cJSON_AddStringToObject(o, "config_hash", mt->config_hash);
    cJSON_AddStringToObject(o, "config_resolved", mt->config_resolved ? mt->config_resolved : "");
    cJSON_AddItemToObject(o, "provenance", provenance_json(mt));
    cJSON *cursor = cJSON_AddObjectToObject(o, "cursor");
    cJSON_AddItemToObject(cursor, "epoch", json_i64(mt->cursor_epoch));
    cJSON_AddItemToObject(cursor, "step", json_i64(mt->cursor_step));
    cJSON_AddItemToObject(o, "rng", rng_names(mt));
    cJSON_AddItemToObject(o, "history", history_json(mt));
    cJSON_AddItemToObject(o, "layers", layers_json(m));
    cJSON_AddItemToObject(o, "tensors", tensors_json(m));
    json_print_line(o);
}

int inspect_summary_main(int argc, char **argv) {
    int json = inspect_wants_json(argc, argv);
    if (argc - json != 2 || argv[1][0] == '-') inspect_usage(NULL);
    const char *path = argv[1];
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
