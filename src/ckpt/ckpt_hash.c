/* Content hashes (XXH3-128). A model's identity is its tensors' names, shapes and bytes, so two files with the
 * same weights have the same hash whatever their metadata, and lineage links survive copies and renames.
 * Byte layout hashed per tensor (documented in docs/checkpoint-format.md): name, NUL, ndim as uint32 LE,
 * each dim as uint64 LE, then the float32 LE data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "../core/err.h"
#include "ckpt_internal.h"

struct CkptHasher {
    XXH3_state_t *st;
};

CkptHasher *ckpt_hasher_new(void) {
    CkptHasher *h = xMalloc(sizeof *h);
    h->st = XXH3_createState();
    if (!h->st) swap_fail("out of memory creating a hash state");
    XXH3_128bits_reset(h->st);
    return h;
}

static void put_le(uint8_t *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void ckpt_hasher_tensor(CkptHasher *h, const char *name, int ndim, const int *shape, const float *data,
                        size_t numel) {
    uint8_t head[4 + 8 * 8];
    put_le(head, (uint64_t)ndim, 4);
    for (int i = 0; i < ndim && i < 8; i++) put_le(head + 4 + 8 * i, (uint64_t)shape[i], 8);
    XXH3_128bits_update(h->st, name, strlen(name) + 1);
    XXH3_128bits_update(h->st, head, 4 + 8 * (size_t)(ndim < 8 ? ndim : 8));
    /* float32 in memory is little-endian on every machine we build for (x86-64, aarch64) */
    XXH3_128bits_update(h->st, data, numel * sizeof(float));
}

static void to_hex(char out[CKPT_HASH_HEX], XXH128_hash_t hash) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, hash);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[c.digest[i] >> 4];
        out[2 * i + 1] = hex[c.digest[i] & 15];
    }
    out[32] = 0;
}

void ckpt_hasher_done(CkptHasher *h, char out[CKPT_HASH_HEX]) {
    to_hex(out, XXH3_128bits_digest(h->st));
    XXH3_freeState(h->st);
    free(h);
}

void ckpt_content_hash(char out[CKPT_HASH_HEX], const Model *m) {
    CkptHasher *h = ckpt_hasher_new();
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        ckpt_hasher_tensor(h, v->name, v->ndim, v->shape, ps_tensor(&m->ps, i), v->numel);
    }
    ckpt_hasher_done(h, out);
}

void ckpt_hash_bytes(char out[CKPT_HASH_HEX], const void *data, size_t n) {
    to_hex(out, XXH3_128bits(data, n));
}
