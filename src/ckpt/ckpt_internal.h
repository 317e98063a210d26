/* Shared between the checkpoint writer, reader and file helpers; not part of the public API. */
#ifndef SWAP_CKPT_INTERNAL_H
#define SWAP_CKPT_INTERNAL_H
#include <stddef.h>

#include "ckpt/ckpt.h"

int ckpt_valid_name(const char *name); /* usable as an HDF5 link name under /state */
int ckpt_is_hash(const char *s);       /* 32 lowercase hex digits */
size_t ckpt_kind_size(CkptKind kind);

/* XXH3-128 of one tensor's bytes (canonical, big-endian digest bytes). */
typedef struct {
    unsigned char b[16];
} CkptDigest;
CkptDigest ckpt_digest(const void *data, size_t n);
void ckpt_digest_hex(char out[CKPT_HASH_HEX], CkptDigest d);
/* The same digest fed in pieces. */
typedef struct CkptStream CkptStream;
CkptStream *ckpt_stream_new(void);
void ckpt_stream_update(CkptStream *s, const void *data, size_t n);
CkptDigest ckpt_stream_done(CkptStream *s); /* frees s */

/* Content hash: per tensor in file order, its name, shape and data digest. One pass over the data in total. */
typedef struct CkptHasher CkptHasher;
CkptHasher *ckpt_hasher_new(void);
void ckpt_hasher_tensor(CkptHasher *h, const char *name, int ndim, const int *shape, CkptDigest d);
void ckpt_hasher_done(CkptHasher *h, char out[CKPT_HASH_HEX]); /* frees h */

/* "/model/L003_layer1.conv" for a view */
void ckpt_group_path(char *buf, size_t n, const char *root, const TensorView *v);

/* Atomic file replacement: a temp path next to path, and the publish step (fsync, rename, fsync dir).
 * ckpt_publish returns 0 or -1 with errno set and the temp file removed. */
void ckpt_temp_path(char *buf, size_t n, const char *path);
int ckpt_publish(const char *tmp, const char *path);

/* ckpt_try_load on a file image in memory (name is used in messages only): the fuzz target's entry. */
int ckpt_try_load_image(const char *name, const void *buf, size_t n, Model **m_io, CkptMeta *meta_out,
                        int with_momentum, int flags, char *err, size_t errlen);

#endif
