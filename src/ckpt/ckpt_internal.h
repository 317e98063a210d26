/* Shared between the checkpoint writer, reader and file helpers; not part of the public API. */
#ifndef SWAP_CKPT_INTERNAL_H
#define SWAP_CKPT_INTERNAL_H
#include <stddef.h>

#include "ckpt.h"

int ckpt_valid_name(const char *name); /* usable as an HDF5 link name under /state */
int ckpt_is_hash(const char *s);       /* 32 lowercase hex digits */
size_t ckpt_kind_size(CkptKind kind);
const char *ckpt_kind_name(CkptKind kind);

/* Streaming content hash: tensors in file order (name, shape, float32 data). */
typedef struct CkptHasher CkptHasher;
CkptHasher *ckpt_hasher_new(void);
void ckpt_hasher_tensor(CkptHasher *h, const char *name, int ndim, const int *shape, const float *data,
                        size_t numel);
void ckpt_hasher_done(CkptHasher *h, char out[CKPT_HASH_HEX]); /* frees h */

/* "/model/L003_layer1.conv" for a view */
void ckpt_group_path(char *buf, size_t n, const char *root, const TensorView *v);

/* Atomic file replacement: a temp path next to path, and the publish step (fsync, rename, fsync dir).
 * ckpt_publish returns 0 or -1 with errno set and the temp file removed. */
void ckpt_temp_path(char *buf, size_t n, const char *path);
int ckpt_publish(const char *tmp, const char *path);

#endif
