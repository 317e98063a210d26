/* Datasets in memory as raw uint8 images [n][c][h][w] + int labels, normalized and augmented on the fly
 * while a batch is packed into the model's CNHW input. Order, augmentation and sharding are pure functions
 * of (seed, epoch, worker, position), so a run is reproducible whatever the rank count, and a data cursor
 * is just (epoch, step). */
#ifndef SWAP_DATASET_H
#define SWAP_DATASET_H
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

typedef struct DataStream DataStream;

typedef struct {
    char name[32];          /* "fashion-mnist", "mnist", "cifar10", "cifar100", "hdf5" */
    char path[1024];        /* where it was read from (for messages and provenance); hdf5: the file */
    int n, c, h, w, classes;
    uint8_t *images;        /* [n][c][h][w]; NULL when the training images stream from the file (stream) */
    int *labels;            /* [n]; CIFAR-100: fine labels */
    int *coarse;            /* CIFAR-100 coarse labels, else NULL */
    float mean[3], std[3];  /* per-channel normalization of pixel/255 */
    char hash[33];          /* hdf5: XXH3-128 of the file's bytes (hex); "" for the built-in formats */
    char **class_names;     /* hdf5 with /classes: `classes` names, else NULL */
    DataStream *stream;     /* hdf5 training images read from the file in chunks (stream.c), else NULL */
} Dataset;

/* Applied per sample in torchvision order: RandomCrop(h, w, padding=crop_pad) -> RandomHorizontalFlip ->
 * Cutout(cutout) with the centre uniform over the image and the square clipped at the borders. Padding and
 * cutout set the raw pixel to 0, i.e. -mean[c]/std[c] after normalization. */
typedef struct {
    int crop_pad;  /* random crop with this zero padding (0: off) */
    int flip;      /* random horizontal flip */
    int cutout;    /* square cutout side (0: off) */
} Augment;

/* How to load: everything optional (NULL or zeros = the defaults). */
typedef struct {
    int stream;           /* hdf5 training split: read the images from the file in chunks while training
                           * (stream.c) instead of holding them all in memory */
    int stream_chunk;     /* images per chunk (0: 1024) */
    int stream_window;    /* chunks per shuffle window (0: 16); at least one batch's worth is used */
    int have_norm;        /* a known normalization (e.g. a checkpoint's): no pass over the training images */
    float mean[3], std[3];
} DataOpts;

extern const char *const dataset_names[]; /* NULL-terminated */
/* Default directory for a dataset ("/usr/share/datasets/fashion-mnist" for Fashion-MNIST; NULL for CIFAR). */
const char *dataset_default_dir(const char *name);
/* Load the train or test split; any problem is a one-line error naming the file. dir NULL or "" = default.
 * IDX: dir holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, .gz preferred over raw. CIFAR: dir holds the
 * .bin files or is their parent (containing cifar-10-batches-bin / cifar-100-binary). d->path records the
 * directory actually read. */
Dataset *dataset_load(const char *name, const char *dir, int train);
/* dataset_load with options. name "hdf5": dir is the HDF5 dataset file (data_file; contract in docs/data.md);
 * the whole file is checked first and any problem is a one-line error naming the file and the HDF5 path. */
Dataset *dataset_load_opts(const char *name, const char *dir, int train, const DataOpts *o);
/* The samples idx[0..n) of d (any order, repeats allowed) as a new in-memory dataset: how a streamed training
 * set serves random access (BN recompute batches). */
Dataset *dataset_gather(const Dataset *d, const uint32_t *idx, int n);
/* The epoch order of d for (seed, epoch, worker): dataset_epoch_order for data in memory; for a streamed set a
 * chunk-shuffled order (stream.c) whose batches each touch at most two shuffle windows. */
void dataset_order(const Dataset *d, uint32_t *perm, uint64_t seed, int epoch, int worker);
/* Keep the first n samples (n <= d->n); for small tests and quick demos. */
void dataset_truncate(Dataset *d, int n);
/* The validation split: the n_val indices of 0..n-1 that come first in a permutation keyed by seed alone
 * (stream RNG_SPLIT), returned sorted, so every phase carves out the same images. n_val < n. */
void dataset_val_indices(uint32_t *idx, int n, int n_val, uint64_t seed);
/* Move the samples dataset_val_indices(d->n, n_val, seed) names out of d into a new dataset (ascending index
 * order); d keeps the rest in their original order, so no training order ever reaches a validation image.
 * n_val must be in [1, d->n). */
Dataset *dataset_split_val(Dataset *d, int n_val, uint64_t seed);
void dataset_free(Dataset *d);

/* Epoch permutation of 0..n-1 from (seed, epoch, worker). */
void dataset_epoch_order(uint32_t *perm, size_t n, uint64_t seed, int epoch, int worker);
/* Pack samples idx[0..nb) into x, CNHW [c][nb][h][w], normalized; labels[nb]. Augmentation of each sample is
 * keyed by (seed, epoch, worker, position pos0+j) so it does not depend on how a global batch is sharded;
 * aug NULL = none. The sample's stream is rng_stream(seed, RNG_AUGMENT, epoch << 32 | worker, pos). Allocates
 * nothing; OpenMP over samples for large batches (results do not depend on the thread count). An index
 * >= d->n is an internal error. */
void dataset_fill_batch(float *x, int *labels, const Dataset *d, const uint32_t *idx, int nb, const Augment *aug,
                        uint64_t seed, int epoch, int worker, size_t pos0);
/* Shard [lo, hi) of a global batch of size g for rank r of R: lo = floor(g*r/R), so shards are equal when
 * R divides g (callers require that) and still tile [0, g) when it does not. Rank r packs its shard with
 * dataset_fill_batch(..., idx + lo, hi - lo, ..., pos0 + lo) and gets exactly its slice of the global batch. */
void dataset_shard(int g, int r, int R, int *lo, int *hi);

#endif
