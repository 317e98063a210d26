/* swap-inspect eval FILE: test (and recorded validation) loss and accuracy of a checkpoint, optionally after
 * recomputing its BN statistics the way phase 3 does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"
#include "phases/trainer.h" /* bn_recompute, phase_seed, bn_augment_from_meta: the BN batches swap-average uses */

typedef struct {
    const char *path, *dir, *dataset;
    const char *precision; /* NULL: the precision the file records */
    long bn_batches, train_subset, subset;
    const char *tta; /* "none", "flip"; NULL: the experiment's `tta` the file records */
    int bn_batch, batch, json, ignore_hash, per_class;
} EvalOpts;

typedef struct {
    int n;
    double loss, acc;
    long correct;
    int val_n; /* 0: no validation split recorded */
    double val_loss, val_acc;
    long *class_n, *class_correct; /* [classes] with --per-class, else NULL */
    int flip;                      /* test-time flip was used */
} EvalResult;

/* The test set named by the file (or --dataset), checked against the model's input and normalization. */
static Dataset *load_test(const EvalOpts *o, const Model *m, const CkptMeta *mt, const char *name) {
    Dataset *test = inspect_load_data(o->path, mt, name, o->dir, o->ignore_hash, 0);
    if (test->c != m->spec.in_c || test->h != m->spec.in_h || test->w != m->spec.in_w)
        swap_fail("%s: dataset %s has %dx%dx%d images, the model takes %dx%dx%d", o->path, name, test->c, test->h,
                  test->w, m->spec.in_c, m->spec.in_h, m->spec.in_w);
    for (int c = 0; c < mt->norm_channels && c < test->c; c++)
        if (fabs(mt->norm_mean[c] - test->mean[c]) > 1e-6 || fabs(mt->norm_std[c] - test->std[c]) > 1e-6)
            swap_warn("%s: normalization of channel %d differs from the dataset's (%g/%g vs %g/%g)", o->path, c,
                      mt->norm_mean[c], mt->norm_std[c], test->mean[c], test->std[c]);
    if (o->subset > 0 && o->subset < test->n) dataset_truncate(test, (int)o->subset);
    return test;
}

/* The validation split recorded in the file, carved as the phases carve it (and kept out of BN batches); BN
 * statistics recomputed from the rest when asked. Returns the validation set or NULL. */
static Dataset *prepare_train_side(const EvalOpts *o, Model *m, const CkptMeta *mt, const char *name) {
    if (o->bn_batches <= 0 && mt->val_split <= 0) return NULL;
    Dataset *train = inspect_load_data(o->path, mt, name, o->dir, o->ignore_hash, 1), *val = NULL;
    if (mt->val_split > 0) {
        if (mt->val_split >= train->n)
            swap_fail("%s: records data.val_split = %lld but %s has %d training images", o->path,
                      (long long)mt->val_split, name, train->n);
        val = dataset_split_val(train, (int)mt->val_split, (uint64_t)mt->val_seed);
    }
    if (o->train_subset > 0 && o->train_subset < train->n) dataset_truncate(train, (int)o->train_subset);
    if (o->bn_batches > 0) {
        /* update_bn semantics (reset, cumulative average over N train-mode batches) with the batches and the
         * augmentation swap-average draws, so the same seed, batch and subset reproduce phase 3 */
        Augment aug;
        bn_recompute(m, train, o->bn_batch, (int)o->bn_batches, phase_seed(mt->seed, 4, 0),
                     bn_augment_from_meta(mt, &aug));
    }
    dataset_free(train);
    return val;
}

/* Test loss and accuracy in the file's own batch order (unaugmented, seeded as the phases evaluate). */
static void measure_test(Model *m, const Dataset *test, const CkptMeta *mt, int batch, int flip, EvalResult *r) {
    uint32_t *idx = xMalloc((size_t)batch * sizeof *idx);
    int *pred = xMalloc((size_t)batch * sizeof *pred);
    float *tta = flip ? xMalloc((size_t)batch * m->spec.classes * sizeof *tta) : NULL;
    double loss = 0;
    long correct = 0;
    for (int s = 0; s < test->n; s += batch) {
        int nb = test->n - s < batch ? test->n - s : batch;
        for (int j = 0; j < nb; j++) idx[j] = (uint32_t)(s + j);
        model_set_batch(m, nb);
        dataset_fill_batch(model_input(m), model_labels(m), test, idx, nb, NULL, mt->seed, 0, 0, (size_t)s);
        loss += eval_batch(m, flip, tta, pred);
        for (int j = 0; j < nb; j++) {
            const int y = model_labels(m)[j];
            correct += pred[j] == y;
            if (r->class_n) {
                r->class_n[y]++;
                r->class_correct[y] += pred[j] == y;
            }
        }
    }
    free(tta);
    free(pred);
    free(idx);
    r->n = test->n;
    r->correct = correct;
    r->acc = test->n ? (double)correct / test->n : NAN;
    r->loss = test->n ? loss / test->n : NAN;
}

/* Accuracy per class, named by the checkpoint's class_names when it has them (an HDF5 file's /classes). */
static void report_per_class(const EvalResult *r, const CkptMeta *mt, int k, cJSON *j) {
    cJSON *rows = j ? cJSON_AddArrayToObject(j, "per_class") : NULL;
    if (!j) printf("%6s  %-24s %8s %8s  %s\n", "class", "name", "n", "correct", "acc");
    for (int c = 0; c < k; c++) {
        const char *nm = mt->class_names ? mt->class_names[c] : "";
        const double acc = r->class_n[c] ? (double)r->class_correct[c] / (double)r->class_n[c] : NAN;
        if (!j) {
            printf("%6d  %-24s %8ld %8ld  %.4f\n", c, nm, r->class_n[c], r->class_correct[c], acc);
            continue;
        }
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "class", c);
        if (mt->class_names) cJSON_AddStringToObject(row, "name", nm);
        cJSON_AddNumberToObject(row, "n", (double)r->class_n[c]);
        cJSON_AddNumberToObject(row, "correct", (double)r->class_correct[c]);
        cJSON_AddItemToObject(row, "acc", json_num9(acc));
        cJSON_AddItemToArray(rows, row);
    }
}

static void report(const EvalOpts *o, const char *name, const EvalResult *r, const CkptMeta *mt, int k) {
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", o->path);
        cJSON_AddStringToObject(j, "dataset", name);
        cJSON_AddNumberToObject(j, "n", r->n);
        cJSON_AddNumberToObject(j, "bn_recompute", (double)o->bn_batches);
        cJSON_AddStringToObject(j, "tta", r->flip ? "flip" : "none");
        cJSON_AddItemToObject(j, "test_loss", json_num9(r->loss));
        cJSON_AddItemToObject(j, "test_acc", json_num9(r->acc));
        cJSON_AddNumberToObject(j, "correct", (double)r->correct);
        if (r->val_n) {
            cJSON_AddNumberToObject(j, "val_n", r->val_n);
            cJSON_AddItemToObject(j, "val_loss", json_num9(r->val_loss));
            cJSON_AddItemToObject(j, "val_acc", json_num9(r->val_acc));
        }
        if (r->class_n) report_per_class(r, mt, k, j);
        json_print_line(j);
        return;
    }
    printf("%s: %s test n=%d  loss %.6f  acc %.6f (%ld correct)%s%s\n", o->path, name, r->n, r->loss, r->acc,
           r->correct, o->bn_batches > 0 ? "  [BN recomputed]" : "", r->flip ? "  [test-time flip]" : "");
    if (r->val_n)
        printf("%s: %s val  n=%d  loss %.6f  acc %.6f (data.val_split of the training set)\n", o->path, name,
               r->val_n, r->val_loss, r->val_acc);
    if (r->class_n) report_per_class(r, mt, k, NULL);
}

/* --tta, else the experiment's `tta` as the file records it (its resolved configuration). */
static int use_flip(const EvalOpts *o, const CkptMeta *mt) {
    if (o->tta) {
        if (strcmp(o->tta, "none") && strcmp(o->tta, "flip"))
            swap_fail("eval: --tta '%s': expected none or flip", o->tta);
        return !strcmp(o->tta, "flip");
    }
    char v[16];
    return ckpt_meta_config_value(mt, "tta", v, sizeof v) && !strcmp(v, "flip");
}

static void eval_run(const EvalOpts *o) {
    CkptMeta mt;
    Model *m = ckpt_load_model(o->path, &mt, 0);
    inspect_set_precision(o->precision ? o->precision : mt.precision, o->path);
    const char *name = o->dataset ? o->dataset : mt.dataset;
    if (!name[0]) swap_fail("%s: no dataset recorded in the checkpoint; pass --dataset NAME", o->path);
    Dataset *test = load_test(o, m, &mt, name);
    Dataset *val = prepare_train_side(o, m, &mt, name);
    EvalResult r = {0};
    if (o->per_class) {
        r.class_n = xCalloc((size_t)m->spec.classes, sizeof *r.class_n);
        r.class_correct = xCalloc((size_t)m->spec.classes, sizeof *r.class_correct);
    }
    r.flip = use_flip(o, &mt);
    measure_test(m, test, &mt, o->batch, r.flip, &r);
    if (val) {
        double vc = 0, vcount = 0;
        eval_dataset(m, val, o->batch, 0, 1, r.flip, &r.val_loss, &vc, &vcount, NULL);
        r.val_n = val->n;
        r.val_loss /= vcount;
        r.val_acc = vc / vcount;
        dataset_free(val);
    }
    report(o, name, &r, &mt, m->spec.classes);
    free(r.class_n);
    free(r.class_correct);
    dataset_free(test);
    model_free(m);
    ckpt_meta_free(&mt);
}

int inspect_eval_main(int argc, char **argv) {
    EvalOpts o = {.batch = 500, .bn_batch = 128};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--data") && next) o.dir = argv[++i];
        else if (!strcmp(a, "--dataset") && next) o.dataset = argv[++i];
        else if (!strcmp(a, "--bn-recompute") && next) o.bn_batches = inspect_parse_long(a, argv[++i], 0, 1000000);
        else if (!strcmp(a, "--subset") && next) o.subset = inspect_parse_long(a, argv[++i], 0, 100000000);
        else if (!strcmp(a, "--batch") && next) o.batch = (int)inspect_parse_long(a, argv[++i], 1, 65536);
        else if (!strcmp(a, "--bn-batch") && next) o.bn_batch = (int)inspect_parse_long(a, argv[++i], 1, 65536);
        else if (!strcmp(a, "--train-subset") && next) o.train_subset = inspect_parse_long(a, argv[++i], 0, 100000000);
        else if (!strcmp(a, "--precision") && next) o.precision = argv[++i];
        else if (!strcmp(a, "--tta") && next) o.tta = argv[++i];
        else if (!strcmp(a, "--json")) o.json = 1;
        else if (!strcmp(a, "--per-class")) o.per_class = 1;
        else if (!strcmp(a, "--ignore-data-hash")) o.ignore_hash = 1;
        else if (a[0] == '-' || o.path) inspect_usage("eval: unexpected argument");
        else o.path = a;
    }
    if (!o.path) inspect_usage("eval: FILE missing");
    eval_run(&o);
    return 0;
}
