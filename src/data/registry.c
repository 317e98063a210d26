/* Dataset registry (names, default locations, normalization constants) and loading: picks the format reader
 * (idx.c, cifar.c) for a name. Kept apart from dataset.c so the readers, which use dataset.c's helpers, sit
 * between the two rather than in a loop with them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/dataset.h"
#include "data/loaders.h"

const char *const dataset_names[] = {"fashion-mnist", "mnist", "cifar10", "cifar100", "hdf5", NULL};

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


const char *dataset_default_dir(const char *name) {
    const DatasetInfo *info = find_info(name);
    return info ? info->default_dir : NULL;
}

Dataset *dataset_load(const char *name, const char *dir, int train) { return dataset_load_opts(name, dir, train, NULL); }

Dataset *dataset_load_opts(const char *name, const char *dir, int train, const DataOpts *o) {
    if (name && !strcmp(name, "hdf5")) return h5_dataset_load(dir, train, o);
    const DatasetInfo *info = find_info(name);
    if (!info)
        swap_fail("unknown dataset '%s' (valid: fashion-mnist, mnist, cifar10, cifar100, hdf5)", name ? name : "(null)");
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
    if (o && o->have_norm)
        for (int c = 0; c < d->c; c++) d->mean[c] = o->mean[c], d->std[c] = o->std[c];
    return d;
}
