#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "nn/layers.h"
#include "phases/evaluate.h"

/* Mirror every image left-right in place: the input is [channels][n][h][w]. */
static void mirror_input(Model *m) {
    const ModelSpec *sp = &m->spec;
    const size_t rows = (size_t)sp->in_c * m->batch * sp->in_h;
    float *x = model_input(m);
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * sp->in_w;
        for (int a = 0, b = sp->in_w - 1; a < b; a++, b--) {
            const float t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}

double eval_batch(Model *m, int flip, float *tta, int *pred) {
    const int n = m->batch, k = m->spec.classes;
    const float smoothing = m->spec.label_smoothing;
    m->spec.label_smoothing = 0.0f; /* evaluation reports plain cross-entropy (evaluate.h) */
    const double loss = (double)model_forward(m, 0, 1) * n;
    m->spec.label_smoothing = smoothing;
    if (!flip) {
        for (int b = 0; b < n; b++) pred[b] = model_predicted(m, b);
        return loss;
    }
    memcpy(tta, m->probs, (size_t)n * k * sizeof *tta);
    mirror_input(m);
    model_forward(m, 0, 1);
    double sum = 0.0;
    for (int b = 0; b < n; b++) {
        float *p = m->probs + (size_t)b * k;
        const float *q = tta + (size_t)b * k;
        pred[b] = 0;
        for (int j = 0; j < k; j++) {
            p[j] = 0.5f * (p[j] + q[j]);
            if (p[j] > p[pred[b]]) pred[b] = j;
        }
        /* a probability that underflowed to 0 would make the loss infinite: floor it at FLT_MIN */
        sum -= log(fmax((double)p[m->labels[b]], (double)FLT_MIN));
    }
    return sum;
}

void eval_dataset(Model *m, const Dataset *d, int batch, int rank, int shards, int flip, double *loss_sum,
                  double *correct, double *count, float *probs) {
    const int saved = m->batch;
    const int k = m->spec.classes;
    uint32_t *idx = xMalloc((size_t)batch * sizeof *idx);
    int *pred = xMalloc((size_t)batch * sizeof *pred);
    float *tta = flip ? xMalloc((size_t)batch * k * sizeof *tta) : NULL;
    *loss_sum = *correct = *count = 0.0;
    /* contiguous shard of the dataset for this rank */
    const int lo = (int)((long)d->n * rank / shards), hi = (int)((long)d->n * (rank + 1) / shards);
    for (int s = lo; s < hi; s += batch) {
        const int nb = hi - s < batch ? hi - s : batch;
        for (int j = 0; j < nb; j++) idx[j] = (uint32_t)(s + j);
        model_set_batch(m, nb);
        dataset_fill_batch(model_input(m), model_labels(m), d, idx, nb, NULL, 0, 0, 0, 0);
        *loss_sum += eval_batch(m, flip, tta, pred);
        for (int j = 0; j < nb; j++) *correct += pred[j] == model_labels(m)[j];
        *count += nb;
        if (probs) memcpy(probs + (size_t)s * k, m->probs, (size_t)nb * k * sizeof(float));
    }
    free(tta);
    free(pred);
    free(idx);
    if (saved > 0) model_set_batch(m, saved);
}

void bn_batch_indices(uint32_t *idx, const Dataset *d, int batch, int batches, uint64_t seed) {
    uint32_t *perm = xMalloc((size_t)d->n * sizeof *perm);
    int pos = d->n, epoch = -1;
    for (int b = 0; b < batches; b++) {
        if (pos + batch > d->n) { /* a fresh order whenever the next batch would not fit */
            dataset_epoch_order(perm, (size_t)d->n, seed, ++epoch, 0);
            pos = 0;
        }
        memcpy(idx + (size_t)b * batch, perm + pos, (size_t)batch * sizeof *idx);
        pos += batch;
    }
    free(perm);
}

void bn_recompute(Model *m, const Dataset *d, int batch, int batches, uint64_t seed, const Augment *aug) {
    if (!model_has_bn(m) || batches <= 0) return;
    if (batch > d->n) batch = d->n;
    const int saved = m->batch;
    uint32_t *idx = xMalloc((size_t)batch * batches * sizeof *idx);
    bn_batch_indices(idx, d, batch, batches, seed);
    Dataset *held = NULL;
    if (d->stream) { /* streamed training images: read the batches' samples, then index them in order */
        held = dataset_gather(d, idx, batch * batches);
        for (size_t i = 0; i < (size_t)batch * batches; i++) idx[i] = (uint32_t)i;
        d = held;
    }
    model_bn_recompute_begin(m);
    model_set_batch(m, batch);
    for (int b = 0; b < batches; b++) {
        dataset_fill_batch(model_input(m), model_labels(m), d, idx + (size_t)b * batch, batch, aug, seed, 0, 0,
                           (size_t)b * batch);
        model_forward(m, 1, 0);
    }
    model_bn_recompute_end(m);
    dataset_free(held);
    free(idx);
    if (saved > 0) model_set_batch(m, saved);
}
