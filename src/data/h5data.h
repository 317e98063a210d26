/* Internal to src/data: the HDF5 dataset file's contract checks and readers (h5data.c), shared by the in-memory
 * loader (h5load.c) and the streaming reader (stream.c). Every problem is one swap_fail line naming the file and
 * the HDF5 path. */
#ifndef SWAP_H5DATA_H
#define SWAP_H5DATA_H
#include <hdf5.h>
#include <stdint.h>

typedef struct {
    int n, h, w, c;
} H5Shape;

typedef struct {
    H5Shape split[2];     /* train, test */
    int *labels[2];       /* every label of each split, checked in [0, classes) */
    int classes;
    char **class_names;   /* NULL-terminated, or NULL without /classes */
    int have_norm;        /* mean/std attributes on /train/images (pixel scale 0-255) */
    double mean[3], std[3];
} H5Info;

/* Open read-only; a missing path, a directory, an empty or non-HDF5 file fail here. */
hid_t h5data_open(const char *path);
/* The whole contract (both splits, labels, /classes, attributes), before any image is read. */
void h5data_check(hid_t f, const char *path, H5Info *info);
void h5data_info_free(H5Info *info);
hid_t h5data_open_images(hid_t f, const char *path, const char *split);
/* Rows [r0, r0+n) of an images dataset into dst as [n][C][H][W]; tmp: n*H*W*C bytes scratch (unused for C=1). */
void h5data_read_rows(hid_t dset, const char *path, const char *where, const H5Shape *s, size_t r0, size_t n,
                      uint8_t *dst, uint8_t *tmp);
/* Exact per-channel pixel histograms and the mean/std (of pixel/255) they give. */
void h5data_hist_add(uint64_t (*hist)[256], const uint8_t *nchw, size_t n, int c, size_t hw);
void h5data_hist_norm(uint64_t (*hist)[256], int c, float *mean, float *std);
/* XXH3-128 of the file's bytes as 32 hex digits (the data file's content hash). */
void h5data_file_hash(const char *path, char out[33]);
/* The innermost message on HDF5's error stack, then clear it. */
const char *h5data_error(void);

#endif
