/* Datasets in memory: paths of their files, truncation, epoch order, the validation split, batch packing and
 * sharding. The registry of names and the loading live in registry.c, above the format readers. */
#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/loaders.h"

void data_path(char *out, size_t cap, const char *dir, const char *file) {
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) swap_fail("%s: data path too long", dir);
}

void dataset_truncate(Dataset *d, int n) {
    xCheck(n >= 0 && n <= d->n, "dataset_truncate: n out of range");
    d->n = n;
}

void dataset_free(Dataset *d) {
    if (!d) return;
    free(d->images);
    free(d->labels);
    free(d->coarse);
    free(d);
}

void dataset_epoch_order(uint32_t *perm, size_t n, uint64_t seed, int epoch, int worker) {
    Rng r;
    rng_stream(&r, seed, RNG_SHUFFLE, (uint64_t)(uint32_t)epoch, (uint64_t)(uint32_t)worker);
    rng_permutation(&r, perm, n);
}

void dataset_shard(int g, int r, int R, int *lo, int *hi) {
    xCheck(R > 0 && r >= 0 && r < R && g >= 0, "dataset_shard: bad rank or batch");
    /* floor(g*r/R) splits evenly when R divides g and still tiles [0, g) when it does not */
    *lo = (int)((long long)g * r / R);
    *hi = (int)((long long)g * (r + 1) / R);
}

void dataset_val_indices(uint32_t *idx, int n, int n_val, uint64_t seed) {
    xCheck(n_val >= 0 && n_val < n, "dataset_val_indices: n_val out of range");
    uint32_t *perm = xMalloc((size_t)n * sizeof *perm);
    Rng r;
    rng_stream(&r, seed, RNG_SPLIT, 0, 0);
    rng_permutation(&r, perm, (size_t)n);
    /* sorted: a bitmap over 0..n-1 read back in order */
    unsigned char *in = xCalloc((size_t)n, 1);
    for (int i = 0; i < n_val; i++) in[perm[i]] = 1;
    for (int i = 0, k = 0; i < n; i++)
        if (in[i]) idx[k++] = (uint32_t)i;
    free(in);
    free(perm);
}

Dataset *dataset_split_val(Dataset *d, int n_val, uint64_t seed) {
    xCheck(n_val >= 1 && n_val < d->n, "dataset_split_val: n_val out of range");
    const size_t px = (size_t)d->c * d->h * d->w;
    uint32_t *idx = xMalloc((size_t)n_val * sizeof *idx);
    dataset_val_indices(idx, d->n, n_val, seed);
    Dataset *v = xCalloc(1, sizeof *v);
    *v = *d;
    v->n = n_val;
    v->images = xMalloc((size_t)n_val * px);
    v->labels = xMalloc((size_t)n_val * sizeof *v->labels);
    v->coarse = d->coarse ? xMalloc((size_t)n_val * sizeof *v->coarse) : NULL;
    /* one pass: validation samples are copied out, the rest slide down in place (stable) */
    int kv = 0, kt = 0;
    for (int i = 0; i < d->n; i++) {
        const int to_val = kv < n_val && idx[kv] == (uint32_t)i;
        uint8_t *dst = to_val ? v->images + (size_t)kv * px : d->images + (size_t)kt * px;
        if (dst != d->images + (size_t)i * px) memcpy(dst, d->images + (size_t)i * px, px);
        if (to_val) {
            v->labels[kv] = d->labels[i];
            if (d->coarse) v->coarse[kv] = d->coarse[i];
            kv++;
        } else {
            d->labels[kt] = d->labels[i];
            if (d->coarse) d->coarse[kt] = d->coarse[i];
            kt++;
        }
    }
    d->n = kt;
    free(idx);
    return v;
}
