/* make_ckpt: writes checkpoints for the swap-inspect, h5py and crash tests.
 *   make_ckpt OUT [--model NAME|@SPEC.json] [--width W] [--in C H W] [--classes K] [--seed S] [--phase P] [--epoch E]
 *             [--worker W] [--momentum] [--parent FILE]... [--config TEXT] [--history N] [--dataset NAME]
 *             [--train STEPS --data DIR [--batch B] [--lr X]] [--nan]
 *   make_ckpt OUT --loop N ...   write N different checkpoints to OUT in a row (N = 0: until killed), printing
 *                                "saved I HASH" after each publish (crash-safety test). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/presets.h"
#include "ckpt/ckpt.h"
#include "core/err.h"
#include "core/fileio.h"
#include "data/dataset.h"
#include "optim/sgd.h"

static void train(Model *m, CkptMeta *meta, const char *dir, int steps, int batch, float lr) {
    Dataset *d = dataset_load("fashion-mnist", dir, 1);
    uint32_t *perm = xMalloc((size_t)d->n * sizeof *perm), *idx = xMalloc((size_t)batch * sizeof *idx);
    SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    model_set_batch(m, batch);
    int per_epoch = d->n / batch, epoch = -1;
    double loss_sum = 0, correct = 0;
    for (int s = 0; s < steps; s++) {
        if (s / per_epoch != epoch) {
            epoch = s / per_epoch;
            dataset_epoch_order(perm, (size_t)d->n, meta->seed, epoch, 0);
        }
        int k = s % per_epoch;
        for (int j = 0; j < batch; j++) idx[j] = perm[(size_t)k * batch + j];
        dataset_fill_batch(model_input(m), model_labels(m), d, idx, batch, NULL, meta->seed, epoch, 0, (size_t)k * batch);
        sgd_zero_grad(&m->ps);
        loss_sum += model_forward(m, 1, 1);
        correct += model_count_correct(m);
        model_backward(m, 1.0f);
        sgd_step(&m->ps, &sgd, lr);
    }
    EpochRecord r = ckpt_epoch_record(0);
    r.lr = lr;
    r.train_loss = loss_sum / steps;
    r.train_acc = correct / ((double)steps * batch);
    ckpt_meta_add_epoch(meta, &r);
    snprintf(meta->dataset, sizeof meta->dataset, "%s", d->name);
    double mean[1] = {d->mean[0]}, std[1] = {d->std[0]};
    ckpt_meta_set_norm(meta, 1, mean, std);
    meta->step = steps;
    meta->samples_seen = (int64_t)steps * batch;
    free(perm);
    free(idx);
    dataset_free(d);
}

int main(int argc, char **argv) {
    swap_set_progname("make_ckpt");
    if (argc < 2) swap_fail_code(SWAP_EXIT_USAGE, "usage: make_ckpt OUT [options] (see the source)");
    const char *out = argv[1], *model = "cnn", *config = "model = cnn\nseed = 1\n", *data = NULL;
    ModelSpec spec = {.in_c = 1, .in_h = 28, .in_w = 28, .classes = 10, .width = 8};
    CkptMeta meta;
    ckpt_meta_init(&meta);
    snprintf(meta.phase, sizeof meta.phase, "train");
    int momentum = 0, history = 0, steps = 0, batch = 64, loop = -1, nan = 0;
    float lr = 0.05f;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--width") && more) spec.width = atoi(argv[++i]);
        else if (!strcmp(a, "--in") && i + 3 < argc) {
            spec.in_c = atoi(argv[++i]);
            spec.in_h = atoi(argv[++i]);
            spec.in_w = atoi(argv[++i]);
        } else if (!strcmp(a, "--classes") && more) spec.classes = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && more) meta.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--phase") && more) snprintf(meta.phase, sizeof meta.phase, "%s", argv[++i]);
        else if (!strcmp(a, "--epoch") && more) meta.epoch = atoi(argv[++i]);
        else if (!strcmp(a, "--worker") && more) meta.worker = atoi(argv[++i]);
        else if (!strcmp(a, "--momentum")) momentum = 1;
        else if (!strcmp(a, "--nan")) nan = 1;
        else if (!strcmp(a, "--config") && more) config = argv[++i];
        else if (!strcmp(a, "--history") && more) history = atoi(argv[++i]);
        else if (!strcmp(a, "--dataset") && more) snprintf(meta.dataset, sizeof meta.dataset, "%s", argv[++i]);
        else if (!strcmp(a, "--train") && more) steps = atoi(argv[++i]);
        else if (!strcmp(a, "--data") && more) data = argv[++i];
        else if (!strcmp(a, "--batch") && more) batch = atoi(argv[++i]);
        else if (!strcmp(a, "--lr") && more) lr = (float)atof(argv[++i]);
        else if (!strcmp(a, "--loop") && more) loop = atoi(argv[++i]);
        else if (!strcmp(a, "--parent") && more) {
            CkptMeta pm;
            char err[1024];
            const char *p = argv[++i];
            if (ckpt_try_read_meta(p, &pm, err, sizeof err) < 0) swap_fail("%s", err);
            ckpt_meta_add_parent(&meta, pm.content_hash, p);
            ckpt_meta_free(&pm);
        } else swap_fail_code(SWAP_EXIT_USAGE, "unknown argument '%s'", a);
    }
    ckpt_meta_set_config(&meta, "return { model = 'cnn' }\n", config);
    Model *m;
    if (model[0] == '@') { /* a network spec in JSON (docs/networks.md) */
        char *json = read_file(model + 1, NULL);
        m = model_create_json(json, &spec);
        free(json);
    } else {
        m = model_create(model, &spec);
    }
    model_init(m, meta.seed);
    if (steps > 0) train(m, &meta, data, steps, batch, lr);
    else /* arbitrary but distinct values, so a momentum mix-up would show */
        for (size_t i = 0; i < m->ps.n_params; i++) m->ps.mom[i] = 1e-3f * (float)((i * 7919) % 1000);
    for (int e = 0; e < history; e++) {
        EpochRecord r = ckpt_epoch_record(e);
        r.time_s = 10.0 * (e + 1);
        r.lr = 0.1;
        r.train_loss = 1.0 / (e + 1);
        r.train_acc = 0.5 + 0.04 * e;
        if (e % 2 == 1) {
            r.test_loss = 1.2 / (e + 1);
            r.test_acc = 0.45 + 0.04 * e;
        }
        ckpt_meta_add_epoch(&meta, &r);
    }
    if (nan) m->ps.data[3] = NAN;
    model_conv_kernels(m, meta.conv, sizeof meta.conv); /* as the phases record it */
    if (loop < 0) {
        ckpt_save(out, m, &meta, momentum);
    } else {
        for (int i = 0; loop == 0 || i < loop; i++) {
            m->ps.data[0] = (float)i; /* each save has distinct content */
            meta.epoch = i;
            ckpt_save(out, m, &meta, momentum);
            char h[CKPT_HASH_HEX];
            ckpt_content_hash(h, m);
            printf("saved %d %s\n", i, h);
            fflush(stdout);
        }
    }
    model_free(m);
    ckpt_meta_free(&meta);
    return 0;
}
