/* dataset = "hdf5": a split of the HDF5 dataset file as a Dataset, held in memory or (training split, when
 * asked) streamed from the file by stream.c. The normalization comes from the caller (a checkpoint's), else
 * from the file's mean/std attributes, else from one exact pass over the training images. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/dataset.h"
#include "data/h5data.h"
#include "data/loaders.h"

/* Per-channel statistics of every training image, read in blocks (images already in memory: from there). */
static void compute_norm(Dataset *d, hid_t f, const H5Shape *tr, const uint8_t *train_images) {
    uint64_t hist[3][256];
    memset(hist, 0, sizeof hist);
    const size_t hw = (size_t)tr->h * tr->w, px = hw * tr->c;
    if (train_images) {
        h5data_hist_add(hist, train_images, (size_t)tr->n, tr->c, hw);
    } else {
        const size_t block = 1024;
        uint8_t *buf = xMalloc(block * px), *tmp = xMalloc(block * px);
        hid_t ds = h5data_open_images(f, d->path, "train");
        for (size_t r = 0; r < (size_t)tr->n; r += block) {
            size_t k = (size_t)tr->n - r < block ? (size_t)tr->n - r : block;
            h5data_read_rows(ds, d->path, "/train/images", tr, r, k, buf, tmp);
            h5data_hist_add(hist, buf, k, tr->c, hw);
        }
        H5Dclose(ds);
        free(buf);
        free(tmp);
    }
    h5data_hist_norm(hist, tr->c, d->mean, d->std);
}

Dataset *h5_dataset_load(const char *path, int train, const DataOpts *o) {
    hid_t f = h5data_open(path);
    H5Info info;
    h5data_check(f, path, &info);
    const int split = train ? 0 : 1;
    const H5Shape *s = &info.split[split];
    Dataset *d = xCalloc(1, sizeof *d);
    snprintf(d->name, sizeof d->name, "hdf5");
    snprintf(d->path, sizeof d->path, "%s", path);
    d->n = s->n, d->c = s->c, d->h = s->h, d->w = s->w, d->classes = info.classes;
    d->labels = info.labels[split];
    info.labels[split] = NULL;
    d->class_names = info.class_names;
    info.class_names = NULL;
    h5data_file_hash(path, d->hash);
    const int stream = train && o && o->stream;
    if (!stream) {
        const size_t px = (size_t)s->c * s->h * s->w, block = 1024;
        d->images = xMalloc((size_t)s->n * px);
        uint8_t *tmp = xMalloc(block * px);
        hid_t ds = h5data_open_images(f, path, train ? "train" : "test");
        for (size_t r = 0; r < (size_t)s->n; r += block) {
            size_t k = (size_t)s->n - r < block ? (size_t)s->n - r : block;
            h5data_read_rows(ds, path, train ? "/train/images" : "/test/images", s, r, k, d->images + r * px, tmp);
        }
        H5Dclose(ds);
        free(tmp);
    }
    for (int c = 0; c < 3; c++) d->mean[c] = 0.0f, d->std[c] = 1.0f;
    if (o && o->have_norm) {
        for (int c = 0; c < d->c; c++) d->mean[c] = o->mean[c], d->std[c] = o->std[c];
    } else if (info.have_norm) {
        for (int c = 0; c < d->c; c++) d->mean[c] = (float)(info.mean[c] / 255.0), d->std[c] = (float)(info.std[c] / 255.0);
    } else {
        compute_norm(d, f, &info.split[0], train && !stream ? d->images : NULL);
    }
    h5data_info_free(&info);
    H5Fclose(f);
    if (stream) stream_open(d, o);
    return d;
}
