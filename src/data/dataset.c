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
    if (d->stream) stream_truncate(d, n);
    d->n = n;
}

void dataset_free(Dataset *d) {
    if (!d) return;
    if (d->stream) stream_free(d->stream);
    if (d->class_names) {
        for (char **p = d->class_names; *p; p++) free(*p);
        free(d->class_names);
    }
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

void dataset_order(const Dataset *d, uint32_t *perm, uint64_t seed, int epoch, int worker) {
    if (d->stream) stream_order(d, perm, seed, epoch, worker);
    else dataset_epoch_order(perm, (size_t)d->n, seed, epoch, worker);
}

/* A copy of d's scalar fields (name, shape, normalization, hash) with fresh arrays for n samples. */
static Dataset *empty_like(const Dataset *d, int n) {
    Dataset *v = xCalloc(1, sizeof *v);
    *v = *d;
    v->n = n;
    v->stream = NULL;
    v->class_names = NULL; /* owned by d */
    v->images = xMalloc((size_t)n * d->c * d->h * d->w);
    v->labels = xMalloc((size_t)n * sizeof *v->labels);
    v->coarse = d->coarse ? xMalloc((size_t)n * sizeof *v->coarse) : NULL;
    return v;
}

Dataset *dataset_gather(const Dataset *d, const uint32_t *idx, int n) {
    Dataset *v = empty_like(d, n);
    const size_t px = (size_t)d->c * d->h * d->w;
    for (int j = 0; j < n; j++) {
        xCheck(idx[j] < (uint32_t)d->n, "dataset_gather: index out of range");
        v->labels[j] = d->labels[idx[j]];
        if (d->coarse) v->coarse[j] = d->coarse[idx[j]];
        if (!d->stream) memcpy(v->images + j * px, d->images + idx[j] * px, px);
    }
    if (d->stream) stream_read_samples(d, idx, n, v->images);
    return v;
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
    if (d->stream) { /* the validation images are read into memory; the stream forgets their rows */
        Dataset *v = dataset_gather(d, idx, n_val);
        for (int i = 0, kv = 0, kt = 0; i < d->n; i++) {
            if (kv < n_val && idx[kv] == (uint32_t)i) kv++;
            else d->labels[kt++] = d->labels[i];
        }
        stream_remove(d, idx, n_val);
        d->n -= n_val;
        free(idx);
        return v;
    }
    Dataset *v = empty_like(d, n_val);
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
