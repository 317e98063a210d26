/* Batch packing: uint8 [n][c][h][w] samples -> normalized float CNHW [c][nb][h][w], with per-sample
 * augmentation in the torchvision order RandomCrop(pad) -> RandomHorizontalFlip -> Cutout. Padding and cutout
 * write raw pixel 0 (normalized: -mean/std), as padding a uint8 image before ToTensor/Normalize would.
 * Each sample draws from its own stream keyed by (seed, epoch, worker, position in the epoch), so a sample
 * gets the same augmentation whichever rank packs it and whatever thread runs it. */
#include <string.h>

#include "core/err.h"
#include "data/dataset.h"
#include "data/loaders.h"

typedef struct {
    int oy, ox;  /* crop offset into the padded image, in [0, 2*pad] */
    int flip;
    int cy, cx;  /* cutout centre; the square is clipped at the borders */
} SampleAug;

static SampleAug draw(const Augment *aug, int h, int w, uint64_t seed, int epoch, int worker, size_t pos) {
    SampleAug a = {0, 0, 0, -1, -1};
    if (!aug) return a;
    Rng r;
    uint64_t key = (uint64_t)(uint32_t)epoch << 32 | (uint32_t)worker;
    rng_stream(&r, seed, RNG_AUGMENT, key, (uint64_t)pos);
    /* draw every field unconditionally so switching one augmentation off does not reshuffle the others */
    uint32_t span = (uint32_t)(2 * (aug->crop_pad > 0 ? aug->crop_pad : 0) + 1);
    a.oy = (int)rng_below(&r, span);
    a.ox = (int)rng_below(&r, span);
    a.flip = (int)(rng_u64(&r) >> 63);
    a.cy = (int)rng_below(&r, (uint32_t)h);
    a.cx = (int)rng_below(&r, (uint32_t)w);
    if (aug->crop_pad <= 0) a.oy = a.ox = 0;
    if (!aug->flip) a.flip = 0;
    if (aug->cutout <= 0) a.cy = a.cx = -1;
    return a;
}

/* One sample: out rows are strided by nb*h*w between channels. */
static void pack_one(float *x, int nb, int j, const uint8_t *img, int c, int h, int w, const float (*lut)[256],
                     const SampleAug *a, const Augment *aug) {
    const int pad = aug && aug->crop_pad > 0 ? aug->crop_pad : 0;
    const int cut = aug && aug->cutout > 0 ? aug->cutout : 0;
    /* cutout square [y0, y1) x [x0, x1), centred at (cy, cx) */
    int y0 = 0, y1 = 0, x0 = 0, x1 = 0;
    if (a->cy >= 0) {
        y0 = a->cy - cut / 2; y1 = y0 + cut;
        x0 = a->cx - cut / 2; x1 = x0 + cut;
        if (y0 < 0) y0 = 0;
        if (x0 < 0) x0 = 0;
        if (y1 > h) y1 = h;
        if (x1 > w) x1 = w;
    }
    const int dy = a->oy - pad, dx = a->ox - pad; /* source = output + shift */
    for (int ch = 0; ch < c; ch++) {
        const float *t = lut[ch];
        const float zero = t[0];
        const uint8_t *src = img + (size_t)ch * h * w;
        float *dst = x + ((size_t)ch * nb + j) * h * w;
        if (dy == 0 && dx == 0 && !a->flip && a->cy < 0) {
            for (int i = 0; i < h * w; i++) dst[i] = t[src[i]];
            continue;
        }
        for (int y = 0; y < h; y++) {
            float *row = dst + (size_t)y * w;
            const int sy = y + dy;
            if (sy < 0 || sy >= h) {
                for (int xx = 0; xx < w; xx++) row[xx] = zero;
                continue;
            }
            const uint8_t *srow = src + (size_t)sy * w;
            /* output columns [lo, hi) read inside the image: sx = xx + dx, or w-1-xx + dx when flipped */
            const int lo = a->flip ? (dx > 0 ? dx : 0) : (dx < 0 ? -dx : 0);
            const int hi = a->flip ? (dx < 0 ? w + dx : w) : (dx > 0 ? w - dx : w);
            for (int xx = 0; xx < lo; xx++) row[xx] = zero;
            if (a->flip) {
                const uint8_t *s = srow + w - 1 + dx;
                for (int xx = lo; xx < hi; xx++) row[xx] = t[s[-xx]];
            } else {
                const uint8_t *s = srow + dx;
                for (int xx = lo; xx < hi; xx++) row[xx] = t[s[xx]];
            }
            for (int xx = hi > lo ? hi : lo; xx < w; xx++) row[xx] = zero;
            if (y >= y0 && y < y1)
                for (int xx = x0; xx < x1; xx++) row[xx] = zero;
        }
    }
}

void dataset_fill_batch(float *x, int *labels, const Dataset *d, const uint32_t *idx, int nb, const Augment *aug,
                        uint64_t seed, int epoch, int worker, size_t pos0) {
    if (d->stream) {
        stream_fill_batch(x, labels, d, idx, nb, aug, seed, epoch, worker, pos0);
        return;
    }
    xCheck(d->c >= 1 && d->c <= 3, "dataset_fill_batch: 1 to 3 channels");
    /* pixel value -> normalized float, per channel; 3 KB on the stack keeps the fill allocation-free */
    float lut[3][256];
    for (int ch = 0; ch < d->c; ch++)
        for (int v = 0; v < 256; v++) lut[ch][v] = ((float)v / 255.0f - d->mean[ch]) / d->std[ch];
    const size_t sample = (size_t)d->c * d->h * d->w;
    int bad = 0;
    /* ~0.3 ms per 128 CIFAR images on one core: threads only pay off for large batches */
#pragma omp parallel for schedule(static) reduction(| : bad) if ((size_t)nb * sample >= ((size_t)1 << 20))
    for (int j = 0; j < nb; j++) {
        if (idx[j] >= (uint32_t)d->n) {
            bad = 1;
            continue;
        }
        SampleAug a = draw(aug, d->h, d->w, seed, epoch, worker, pos0 + (size_t)j);
        pack_one(x, nb, j, d->images + idx[j] * sample, d->c, d->h, d->w, (const float(*)[256])lut, &a, aug);
        labels[j] = d->labels[idx[j]];
    }
    xCheck(!bad, "dataset_fill_batch: sample index out of range");
}
