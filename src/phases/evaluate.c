#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../nn/layers.h"
#include "phase.h"

void eval_dataset(Model *m, const Dataset *d, int batch, int rank, int shards, double *loss_sum,
                  double *correct, double *count, float *probs) {
    const int saved = m->batch;
    const int k = m->spec.classes;
    uint32_t *idx = xMalloc((size_t)batch * sizeof *idx);
    *loss_sum = *correct = *count = 0.0;
    /* contiguous shard of the dataset for this rank */
    const int lo = (int)((long)d->n * rank / shards), hi = (int)((long)d->n * (rank + 1) / shards);
    for (int s = lo; s < hi; s += batch) {
        const int nb = hi - s < batch ? hi - s : batch;
        for (int j = 0; j < nb; j++) idx[j] = (uint32_t)(s + j);
        model_set_batch(m, nb);
        dataset_fill_batch(model_input(m), model_labels(m), d, idx, nb, NULL, 0, 0, 0, 0);
        float loss = model_forward(m, 0, 1);
        *loss_sum += (double)loss * nb;
        *correct += model_count_correct(m);
        *count += nb;
        if (probs) memcpy(probs + (size_t)s * k, m->probs, (size_t)nb * k * sizeof(float));
    }
    free(idx);
    if (saved > 0) model_set_batch(m, saved);
}

void bn_recompute(Model *m, const Dataset *d, int batch, int batches, uint64_t seed) {
    if (!model_has_bn(m)) return;
    if (batch > d->n) batch = d->n;
    const int saved = m->batch;
    uint32_t *perm = xMalloc((size_t)d->n * sizeof *perm);
    model_bn_recompute_begin(m);
    model_set_batch(m, batch);
    int pos = 0, epoch = 0;
    dataset_epoch_order(perm, (size_t)d->n, seed, epoch, 0);
    for (int b = 0; b < batches; b++) {
        if (pos + batch > d->n) { /* wrap into a fresh order when bn_batches exceeds one epoch */
            dataset_epoch_order(perm, (size_t)d->n, seed, ++epoch, 0);
            pos = 0;
        }
        dataset_fill_batch(model_input(m), model_labels(m), d, perm + pos, batch, NULL, 0, 0, 0, 0);
        model_forward(m, 1, 0);
        pos += batch;
    }
    model_bn_recompute_end(m);
    free(perm);
    if (saved > 0) model_set_batch(m, saved);
}
