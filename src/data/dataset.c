/* Dataset registry (names, default locations, normalization constants), loading, epoch order and sharding. */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "loaders.h"

const char *const dataset_names[] = {"fashion-mnist", "mnist", "cifar10", "cifar100", NULL};

/* Per-channel mean/std of pixel/255 over each training set: the commonly published values. */
typedef struct {
    const char *name;
    const char *default_dir;
    float mean[3], std[3];
} DatasetInfo;

static const DatasetInfo infos[] = {
    {"fashion-mnist", "/usr/share/datasets/fashion-mnist", {0.2860f}, {0.3530f}},
    {"mnist", NULL, {0.1307f}, {0.3081f}},
    {"cifar10", NULL, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}},
    {"cifar100", NULL, {0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}},
};

static const DatasetInfo *find_info(const char *name) {
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
        if (name && strcmp(name, infos[i].name) == 0) return &infos[i];
    return NULL;
}

void data_path(char *out, size_t cap, const char *dir, const char *file) {
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) swap_fail("%s: data path too long", dir);
}

const char *dataset_default_dir(const char *name) {
    const DatasetInfo *info = find_info(name);
    return info ? info->default_dir : NULL;
}

Dataset *dataset_load(const char *name, const char *dir, int train) {
    const DatasetInfo *info = find_info(name);
    if (!info)
        swap_fail("unknown dataset '%s' (valid: fashion-mnist, mnist, cifar10, cifar100)", name ? name : "(null)");
    if (!dir || !*dir) dir = info->default_dir;
    if (!dir) {
        if (!strncmp(name, "cifar", 5))
            swap_fail("dataset '%s': no data_dir given; pass data_dir or run datasets/get-cifar.sh", name);
        swap_fail("dataset '%s': no data_dir given and no default location; pass data_dir", name);
    }
    Dataset *d = xCalloc(1, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", info->name);
    if (!strcmp(name, "cifar10")) cifar10_load(d, dir, train);
    else if (!strcmp(name, "cifar100")) cifar100_load(d, dir, train);
    else idx_load(d, dir, train);
    for (int c = 0; c < 3; c++) {
        d->mean[c] = c < d->c ? info->mean[c] : 0.0f;
        d->std[c] = c < d->c ? info->std[c] : 1.0f;
    }
    return d;
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
