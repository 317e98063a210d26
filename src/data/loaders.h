/* Format readers behind dataset_load. Each fills images/labels/n/c/h/w/classes of an empty Dataset (and the
 * path it read from); every problem is one swap_fail line naming the file. */
#ifndef SWAP_DATA_LOADERS_H
#define SWAP_DATA_LOADERS_H
#include "data/dataset.h"

/* IDX (MNIST family): <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; .gz preferred. */
/* out = dir/file; a path that does not fit is a one-line error rather than a silently different file. */
void data_path(char *out, size_t cap, const char *dir, const char *file);

void idx_load(Dataset *d, const char *dir, int train);
/* CIFAR binary: dir holds the .bin files or their parent folder (cifar-10-batches-bin, cifar-100-binary). */
void cifar10_load(Dataset *d, const char *dir, int train);
void cifar100_load(Dataset *d, const char *dir, int train);

/* HDF5 dataset file (h5load.c); streaming of its training images (stream.c). */
Dataset *h5_dataset_load(const char *path, int train, const DataOpts *o);
void stream_open(Dataset *d, const DataOpts *o);
void stream_free(DataStream *s);
/* Order, batch packing, truncation, validation split and gathering for a streamed training set. */
void stream_order(const Dataset *d, uint32_t *perm, uint64_t seed, int epoch, int worker);
void stream_fill_batch(float *x, int *labels, const Dataset *d, const uint32_t *idx, int nb, const Augment *aug,
                       uint64_t seed, int epoch, int worker, size_t pos0);
void stream_truncate(Dataset *d, int n);
/* Read the samples idx[0..n) (logical indices, any order) into images [n][c][h][w]. */
void stream_read_samples(const Dataset *d, const uint32_t *idx, int n, uint8_t *images);
/* Drop the samples (sorted logical indices) a validation split took from the stream's row map. */
void stream_remove(Dataset *d, const uint32_t *idx, int n_val);

#endif
