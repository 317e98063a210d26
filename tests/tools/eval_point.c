/* Evaluate one checkpoint the way swap-inspect interpolate evaluates each point (BN recomputed from the batches
 * swap-average draws for experiment seed SEED, plain cross-entropy), straight from the file: the reference for
 * the interpolation's endpoints, train metrics included (swap-inspect eval reports test metrics only).
 * usage: eval_point CKPT.h5 SUBSET BN_BATCHES BN_BATCH SEED BATCH   -> one JSON line */
#include <stdio.h>
#include <stdlib.h>

#include "ckpt/ckpt.h"
#include "core/err.h"
#include "phases/trainer.h"

int main(int argc, char **argv) {
    swap_set_progname("eval_point");
    if (argc != 7) {
        fprintf(stderr, "usage: eval_point CKPT.h5 SUBSET BN_BATCHES BN_BATCH SEED BATCH\n");
        return 2;
    }
    const int subset = atoi(argv[2]), bn_batches = atoi(argv[3]), bn_batch = atoi(argv[4]), batch = atoi(argv[6]);
    CkptMeta meta;
    Model *m = ckpt_load_model(argv[1], &meta, 0);
    Dataset *train = dataset_load(meta.dataset, NULL, 1), *test = dataset_load(meta.dataset, NULL, 0);
    if (subset > 0 && subset < train->n) dataset_truncate(train, subset);
    if (subset > 0 && subset < test->n) dataset_truncate(test, subset);
    Augment aug;
    bn_recompute(m, train, bn_batch, bn_batches, phase_seed(strtoull(argv[5], NULL, 10), 4, 0),
                 bn_augment_from_meta(&meta, &aug));
    m->spec.label_smoothing = 0.0f;
    double tr[3], te[3];
    eval_dataset(m, train, batch, 0, 1, 0, &tr[0], &tr[1], &tr[2], NULL);
    eval_dataset(m, test, batch, 0, 1, 0, &te[0], &te[1], &te[2], NULL);
    printf("{\"train_loss\": %.9g, \"train_acc\": %.9g, \"test_loss\": %.9g, \"test_acc\": %.9g}\n", tr[0] / tr[2],
           tr[1] / tr[2], te[0] / te[2], te[1] / te[2]);
    ckpt_meta_free(&meta);
    model_free(m);
    dataset_free(train);
    dataset_free(test);
    return 0;
}
