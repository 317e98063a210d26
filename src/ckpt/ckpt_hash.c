/* Content hashes (XXH3-128). A model's identity is its tensors' names, shapes and bytes, so two files with the
 * same weights have the same hash whatever their metadata, and lineage links survive copies and renames.
 * Each tensor's bytes are digested once (the digest is also its stored checksum) and the content hash is built
 * from the digests, so saving or verifying a checkpoint reads the data a single time.
 * Byte layout hashed per tensor (documented in docs/checkpoint-format.md): name, NUL, ndim as uint32 LE,
 * each dim as uint64 LE, then the 16-byte canonical XXH3-128 digest of the float32 LE data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/err.h"
#include "ckpt/ckpt_internal.h"

struct CkptHasher {
    XXH3_state_t *st;
};

CkptDigest ckpt_digest(const void *data, size_t n) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, n));
    CkptDigest d;
    memcpy(d.b, c.digest, sizeof d.b);
    return d;
}

struct CkptStream {
    XXH3_state_t *st;
};

CkptStream *ckpt_stream_new(void) {
    CkptStream *s = xMalloc(sizeof *s);
    s->st = XXH3_createState();
    if (!s->st) swap_fail("out of memory creating a hash state");
    XXH3_128bits_reset(s->st);
    return s;
}

void ckpt_stream_update(CkptStream *s, const void *data, size_t n) { XXH3_128bits_update(s->st, data, n); }

CkptDigest ckpt_stream_done(CkptStream *s) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(s->st));
    CkptDigest d;
    memcpy(d.b, c.digest, sizeof d.b);
    XXH3_freeState(s->st);
    free(s);
    return d;
}

void ckpt_digest_hex(char out[CKPT_HASH_HEX], CkptDigest d) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[d.b[i] >> 4];
        out[2 * i + 1] = hex[d.b[i] & 15];
    }
    out[32] = 0;
}

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

void ckpt_hasher_tensor(CkptHasher *h, const char *name, int ndim, const int *shape, CkptDigest d) {
    uint8_t head[4 + 8 * 8];
    int nd = ndim < 8 ? ndim : 8;
    put_le(head, (uint64_t)ndim, 4);
    for (int i = 0; i < nd; i++) put_le(head + 4 + 8 * i, (uint64_t)shape[i], 8);
    XXH3_128bits_update(h->st, name, strlen(name) + 1);
    XXH3_128bits_update(h->st, head, 4 + 8 * (size_t)nd);
    XXH3_128bits_update(h->st, d.b, sizeof d.b);
}

void ckpt_hasher_done(CkptHasher *h, char out[CKPT_HASH_HEX]) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->st));
    CkptDigest d;
    memcpy(d.b, c.digest, sizeof d.b);
    ckpt_digest_hex(out, d);
    XXH3_freeState(h->st);
    free(h);
}

/* float32 in memory is little-endian on every machine we build for (x86-64, aarch64) */
void ckpt_content_hash(char out[CKPT_HASH_HEX], const Model *m) {
    CkptHasher *h = ckpt_hasher_new();
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        ckpt_hasher_tensor(h, v->name, v->ndim, v->shape, ckpt_digest(ps_tensor(&m->ps, i), v->numel * sizeof(float)));
    }
    ckpt_hasher_done(h, out);
}

void ckpt_hash_bytes(char out[CKPT_HASH_HEX], const void *data, size_t n) {
    ckpt_digest_hex(out, ckpt_digest(data, n));
}
