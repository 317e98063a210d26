/* Training images that stay in the file: an epoch visits the chunks (stream_chunk consecutive samples) in a
 * random order, in windows of stream_window chunks; the samples of a window are shuffled among themselves. A rank
 * holds at most two windows (the one a batch starts in and the next), read when a batch first needs them, so its
 * memory is 2 x window x chunk images whatever the file's size.
 *
 * Randomness: the chunk order of epoch e for worker w is a permutation keyed by (seed, RNG_CHUNKS, e<<32|w, 0),
 * and window k's shuffle by (..., k+1); a last, partial chunk is always the last one read. Like dataset_epoch_order, the order is a pure function of (seed, epoch,
 * worker), the same on every rank, so sharding, resuming from a cursor (epoch, step) and the rank count change
 * nothing: a resumed run reads the windows its cursor needs and ends bit-identical. It is less random than a
 * full shuffle: two samples of one chunk always land in the same window (within window x chunk positions). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/dataset.h"
#include "data/h5data.h"
#include "data/loaders.h"

enum { DEFAULT_CHUNK = 256, DEFAULT_WINDOW = 16 };

struct DataStream {
    hid_t f, dset;
    H5Shape shape;       /* /train/images in the file */
    uint32_t *rows;      /* logical sample -> file row, ascending (the validation split leaves holes) */
    int n;               /* logical samples */
    int chunk, window;
    /* the epoch the chunk order belongs to */
    int keyed;
    uint64_t seed;
    int epoch, worker;
    int nchunks;
    uint32_t *chunk_perm, *chunk_pos; /* chunk order, and each chunk's place in it */
    /* two resident windows */
    int slot_win[2];
    long slot_stamp[2], stamp;
    uint8_t *buf;        /* [2][window*chunk] images */
    int *lab;
    uint8_t *span, *tmp; /* one chunk's file rows, holes included */
    size_t span_cap;
    uint32_t *local;
    int local_cap;
    Dataset view;
};

void stream_open(Dataset *d, const DataOpts *o) {
    DataStream *s = xCalloc(1, sizeof *s);
    s->f = h5data_open(d->path);
    s->dset = h5data_open_images(s->f, d->path, "train");
    s->shape = (H5Shape){d->n, d->h, d->w, d->c};
    s->n = d->n;
    s->rows = xMalloc((size_t)d->n * sizeof *s->rows);
    for (int i = 0; i < d->n; i++) s->rows[i] = (uint32_t)i;
    s->chunk = o->stream_chunk > 0 ? o->stream_chunk : DEFAULT_CHUNK;
    s->window = o->stream_window > 0 ? o->stream_window : DEFAULT_WINDOW;
    s->slot_win[0] = s->slot_win[1] = -1;
    d->stream = s;
}

void stream_free(DataStream *s) {
    if (!s) return;
    H5Dclose(s->dset);
    H5Fclose(s->f);
    free(s->rows);
    free(s->chunk_perm);
    free(s->chunk_pos);
    free(s->buf);
    free(s->lab);
    free(s->span);
    free(s->tmp);
    free(s->local);
    free(s);
}

/* Buffers and the chunk order depend on the sample count: a subset or a split made before training resets them. */
static void reset(DataStream *s) {
    free(s->buf), free(s->lab), free(s->chunk_perm), free(s->chunk_pos), free(s->span), free(s->tmp);
    s->buf = s->span = s->tmp = NULL;
    s->lab = NULL;
    s->chunk_perm = s->chunk_pos = NULL;
    s->span_cap = 0;
    s->keyed = 0;
    s->slot_win[0] = s->slot_win[1] = -1;
}

void stream_truncate(Dataset *d, int n) {
    d->stream->n = n;
    reset(d->stream);
}

void stream_remove(Dataset *d, const uint32_t *idx, int n_val) {
    DataStream *s = d->stream;
    for (int i = 0, kv = 0, kt = 0; i < s->n; i++) {
        if (kv < n_val && idx[kv] == (uint32_t)i) kv++;
        else s->rows[kt++] = s->rows[i];
    }
    s->n -= n_val;
    reset(s);
}

static size_t px_of(const DataStream *s) { return (size_t)s->shape.c * s->shape.h * s->shape.w; }

/* Buffers for the current sample count (after any validation split or subset): allocated once. */
static void ensure_buffers(const Dataset *d) {
    DataStream *s = d->stream;
    if (s->buf) return;
    s->nchunks = (s->n + s->chunk - 1) / s->chunk;
    if (s->window > s->nchunks) s->window = s->nchunks;
    const size_t px = px_of(s), cap = (size_t)s->window * s->chunk;
    s->buf = xMalloc(2 * cap * px);
    s->lab = xMalloc(2 * cap * sizeof *s->lab);
    s->chunk_perm = xMalloc((size_t)s->nchunks * sizeof *s->chunk_perm);
    s->chunk_pos = xMalloc((size_t)s->nchunks * sizeof *s->chunk_pos);
    for (int k = 0; k < s->nchunks; k++) {
        const int lo = k * s->chunk, hi = lo + s->chunk < s->n ? lo + s->chunk : s->n;
        const size_t span = s->rows[hi - 1] - s->rows[lo] + 1;
        if (span > s->span_cap) s->span_cap = span;
    }
    s->span = xMalloc(s->span_cap * px);
    s->tmp = xMalloc(s->span_cap * px);
    s->view = *d;
    s->view.stream = NULL;
    s->view.class_names = NULL;
    s->view.images = s->buf;
    s->view.labels = s->lab;
    s->view.coarse = NULL;
    s->view.n = (int)(2 * cap);
}

/* The chunk order of (seed, epoch, worker); resident windows of another epoch are forgotten. */
static void key(const Dataset *d, uint64_t seed, int epoch, int worker) {
    DataStream *s = d->stream;
    ensure_buffers(d);
    if (s->keyed && s->seed == seed && s->epoch == epoch && s->worker == worker) return;
    Rng r;
    const uint64_t k = (uint64_t)(uint32_t)epoch << 32 | (uint32_t)worker;
    rng_stream(&r, seed, RNG_CHUNKS, k, 0);
    /* a last, partial chunk stays last: every window but the last then holds window x chunk samples, so a batch
     * no larger than that touches at most two windows */
    const int full = s->n % s->chunk ? s->nchunks - 1 : s->nchunks;
    rng_permutation(&r, s->chunk_perm, (size_t)full);
    if (full < s->nchunks) s->chunk_perm[full] = (uint32_t)full;
    for (int i = 0; i < s->nchunks; i++) s->chunk_pos[s->chunk_perm[i]] = (uint32_t)i;
    s->keyed = 1, s->seed = seed, s->epoch = epoch, s->worker = worker;
    s->slot_win[0] = s->slot_win[1] = -1;
}

void stream_order(const Dataset *d, uint32_t *perm, uint64_t seed, int epoch, int worker) {
    DataStream *s = d->stream;
    key(d, seed, epoch, worker);
    const uint64_t k = (uint64_t)(uint32_t)epoch << 32 | (uint32_t)worker;
    size_t pos = 0;
    for (int w = 0; w * s->window < s->nchunks; w++) {
        const size_t start = pos;
        for (int c = w * s->window; c < (w + 1) * s->window && c < s->nchunks; c++) {
            const int ck = (int)s->chunk_perm[c], lo = ck * s->chunk;
            const int hi = lo + s->chunk < s->n ? lo + s->chunk : s->n;
            for (int i = lo; i < hi; i++) perm[pos++] = (uint32_t)i;
        }
        Rng r;
        rng_stream(&r, seed, RNG_CHUNKS, k, (uint64_t)w + 1);
        for (size_t i = pos - start; i > 1; i--) { /* Fisher-Yates within the window */
            size_t j = rng_below(&r, (uint32_t)i);
            uint32_t t = perm[start + i - 1];
            perm[start + i - 1] = perm[start + j];
            perm[start + j] = t;
        }
    }
}

/* Chunk ck's samples into place p of the slot (p*chunk onward): one read of the file rows they span. */
static void read_chunk(const Dataset *d, int ck, uint8_t *dst, int *lab) {
    DataStream *s = d->stream;
    const size_t px = px_of(s);
    const int lo = ck * s->chunk, hi = lo + s->chunk < s->n ? lo + s->chunk : s->n;
    const size_t r0 = s->rows[lo], span = s->rows[hi - 1] - r0 + 1;
    if (span == (size_t)(hi - lo)) {
        h5data_read_rows(s->dset, d->path, "/train/images", &s->shape, r0, span, dst, s->tmp);
    } else {
        h5data_read_rows(s->dset, d->path, "/train/images", &s->shape, r0, span, s->span, s->tmp);
        for (int i = lo; i < hi; i++) memcpy(dst + (size_t)(i - lo) * px, s->span + (s->rows[i] - r0) * px, px);
    }
    for (int i = lo; i < hi; i++) lab[i - lo] = d->labels[i];
}

static int load_window(const Dataset *d, int win, int keep) {
    DataStream *s = d->stream;
    for (int sl = 0; sl < 2; sl++)
        if (s->slot_win[sl] == win) {
            s->slot_stamp[sl] = ++s->stamp;
            return sl;
        }
    int sl = keep == 0 ? 1 : keep == 1 ? 0 : (s->slot_stamp[0] <= s->slot_stamp[1] ? 0 : 1);
    const size_t cap = (size_t)s->window * s->chunk, px = px_of(s);
    for (int c = win * s->window, p = 0; c < (win + 1) * s->window && c < s->nchunks; c++, p++)
        read_chunk(d, (int)s->chunk_perm[c], s->buf + (sl * cap + (size_t)p * s->chunk) * px,
                   s->lab + sl * cap + (size_t)p * s->chunk);
    s->slot_win[sl] = win;
    s->slot_stamp[sl] = ++s->stamp;
    return sl;
}

void stream_fill_batch(float *x, int *labels, const Dataset *d, const uint32_t *idx, int nb, const Augment *aug,
                       uint64_t seed, int epoch, int worker, size_t pos0) {
    DataStream *s = d->stream;
    key(d, seed, epoch, worker);
    if (nb > s->local_cap) { /* once: the batch size is fixed for a run */
        free(s->local);
        s->local = xMalloc((size_t)nb * sizeof *s->local);
        s->local_cap = nb;
    }
    const size_t cap = (size_t)s->window * s->chunk;
    if ((size_t)nb > cap)
        swap_fail("%s: a batch of %d images is larger than a shuffle window (data.stream_window %d x data.stream_chunk "
                  "%d): raise either", d->path, nb, s->window, s->chunk);
    int wins[2] = {-1, -1}, slots[2] = {-1, -1};
    for (int j = 0; j < nb; j++) {
        xCheck(idx[j] < (uint32_t)s->n, "stream_fill_batch: sample index out of range");
        const int win = (int)(s->chunk_pos[idx[j] / s->chunk] / s->window);
        if (win == wins[0] || win == wins[1]) continue;
        if (wins[1] >= 0)
            swap_fail("%s: a batch of %d spans more than two shuffle windows of %zu images: raise data.stream_window",
                      d->path, nb, cap);
        wins[wins[0] < 0 ? 0 : 1] = win;
    }
    slots[0] = load_window(d, wins[0], -1);
    if (wins[1] >= 0) slots[1] = load_window(d, wins[1], slots[0]);
    for (int j = 0; j < nb; j++) {
        const uint32_t ck = idx[j] / s->chunk, place = s->chunk_pos[ck];
        const int sl = slots[(int)(place / s->window) == wins[0] ? 0 : 1];
        s->local[j] = (uint32_t)(sl * cap + (size_t)(place % s->window) * s->chunk + (idx[j] - ck * s->chunk));
    }
    dataset_fill_batch(x, labels, &s->view, s->local, nb, aug, seed, epoch, worker, pos0);
}

void stream_read_samples(const Dataset *d, const uint32_t *idx, int n, uint8_t *images) {
    DataStream *s = d->stream;
    const size_t px = px_of(s);
    uint8_t *tmp = xMalloc(px);
    for (int j = 0; j < n; j++) {
        xCheck(idx[j] < (uint32_t)s->n, "stream_read_samples: sample index out of range");
        h5data_read_rows(s->dset, d->path, "/train/images", &s->shape, s->rows[idx[j]], 1, images + (size_t)j * px, tmp);
    }
    free(tmp);
}
