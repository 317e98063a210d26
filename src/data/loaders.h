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

#endif
