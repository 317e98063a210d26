/* HDF5 data files and streaming: a file written here ([N][H][W][C], pixels encoding the sample index) loads
 * transposed to [c][h][w]; a streamed training set packs exactly the batches the in-memory one packs for the same
 * indices (augmented), before and after a validation split and a subset; its epoch order is a permutation made of
 * whole chunks per window, the same for the same (seed, epoch, worker) and different across epochs; gathering
 * random samples reads the right rows. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "testlib.h"

enum { N = 1000, NT = 40, H = 4, W = 6, C = 3, K = 5, CHUNK = 32, WINDOW = 3 };

static uint8_t pixel(int i, int y, int x, int c) { return (uint8_t)(i * 7 + y * 31 + x * 5 + c * 101); }

static void write_split(hid_t f, const char *split, int n) {
    char g[32];
    snprintf(g, sizeof g, "/%s", split);
    hid_t grp = H5Gcreate2(f, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    uint8_t *x = malloc((size_t)n * H * W * C);
    short *y = malloc((size_t)n * sizeof *y);
    for (int i = 0; i < n; i++) {
        y[i] = (short)(i % K);
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++)
                for (int ch = 0; ch < C; ch++) x[(((size_t)i * H + r) * W + c) * C + ch] = pixel(i, r, c, ch);
    }
    hsize_t d4[4] = {(hsize_t)n, H, W, C}, d1[1] = {(hsize_t)n};
    hid_t s4 = H5Screate_simple(4, d4, NULL), s1 = H5Screate_simple(1, d1, NULL);
    hid_t di = H5Dcreate2(grp, "images", H5T_STD_U8LE, s4, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dl = H5Dcreate2(grp, "labels", H5T_STD_I16LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(di, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dwrite(dl, H5T_NATIVE_SHORT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    H5Dclose(di), H5Dclose(dl), H5Sclose(s4), H5Sclose(s1), H5Gclose(grp);
    free(x), free(y);
}

/* Both datasets pack the same floats and labels for idx (augmented, keyed as the trainer keys them). */
static int same_batches(const Dataset *a, const Dataset *b, const uint32_t *order, int n, int epoch) {
    enum { B = 48 };
    static float xa[C * B * H * W], xb[C * B * H * W];
    int la[B], lb[B];
    const Augment aug = {.crop_pad = 1, .flip = 1, .cutout = 2};
    for (int s = 0; s + B <= n; s += B) {
        dataset_fill_batch(xa, la, a, order + s, B, &aug, 9, epoch, 0, (size_t)s);
        dataset_fill_batch(xb, lb, b, order + s, B, &aug, 9, epoch, 0, (size_t)s);
        if (memcmp(xa, xb, sizeof xa) || memcmp(la, lb, sizeof la)) return 0;
    }
    return 1;
}

/* A permutation; each window of the order holds whole chunks (logical indices k*CHUNK ... ) and nothing else. */
static int check_order(const uint32_t *perm, int n) {
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        if (perm[i] >= (uint32_t)n || seen[perm[i]]) ok = 0;
        else seen[perm[i]] = 1;
    }
    /* walk windows: the chunks present in [pos, pos + size) must be complete */
    for (int pos = 0; pos < n && ok;) {
        int count[64] = {0}, size = 0, chunks = 0;
        /* a window's size is the sum of its chunks' sizes: grow until WINDOW chunks (or the end) are complete */
        while (pos + size < n) {
            int ck = (int)perm[pos + size] / CHUNK;
            if (ck >= 64) return 0;
            if (count[ck]++ == 0) chunks++;
            size++;
            int full = 1, nc = 0;
            for (int k = 0; k < 64; k++)
                if (count[k]) {
                    nc++;
                    int want = (k + 1) * CHUNK <= n ? CHUNK : n - k * CHUNK;
                    if (count[k] != want) full = 0;
                }
            if (full && (nc == WINDOW || pos + size == n)) break;
            if (chunks > WINDOW) return 0;
        }
        pos += size;
    }
    free(seen);
    return ok;
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/d.h5", t_tmpdir("test_stream"));
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    write_split(f, "train", N);
    write_split(f, "test", NT);
    H5Fclose(f);

    Dataset *mem = dataset_load("hdf5", path, 1);
    T_CHECK(mem->n == N && mem->c == C && mem->h == H && mem->w == W && mem->classes == K, "shape");
    int good = 1;
    for (int i = 0; i < N; i += 37)
        for (int ch = 0; ch < C; ch++)
            for (int r = 0; r < H; r++)
                for (int c = 0; c < W; c++)
                    good &= mem->images[(((size_t)i * C + ch) * H + r) * W + c] == pixel(i, r, c, ch);
    T_CHECK(good, "images transposed from [N][H][W][C] to [n][c][h][w]");
    T_CHECK(strlen(mem->hash) == 32, "content hash");

    DataOpts o = {.stream = 1, .stream_chunk = CHUNK, .stream_window = WINDOW};
    Dataset *st = dataset_load_opts("hdf5", path, 1, &o);
    T_CHECK(st->stream && !st->images && st->n == N, "streamed");
    T_CHECK(!memcmp(st->mean, mem->mean, sizeof st->mean) && !memcmp(st->std, mem->std, sizeof st->std),
            "normalization computed by a pass over the file = from memory");

    static uint32_t p1[N], p2[N], p3[N];
    dataset_order(st, p1, 9, 0, 0);
    dataset_order(st, p2, 9, 0, 0);
    dataset_order(st, p3, 9, 1, 0);
    T_CHECK(check_order(p1, N) && check_order(p3, N), "order: a permutation of whole chunks per window");
    T_CHECK(!memcmp(p1, p2, sizeof p1) && memcmp(p1, p3, sizeof p1), "order: keyed by (seed, epoch, worker)");
    T_CHECK(same_batches(mem, st, p1, N, 0), "streamed batches = in-memory batches");
    T_CHECK(same_batches(mem, st, p3, N, 1), "streamed batches = in-memory batches (next epoch)");

    Dataset *vm = dataset_split_val(mem, 100, 3), *vs = dataset_split_val(st, 100, 3);
    T_CHECK(vm->n == vs->n && !memcmp(vm->images, vs->images, (size_t)vm->n * C * H * W) &&
                !memcmp(vm->labels, vs->labels, (size_t)vm->n * sizeof(int)), "validation split read from the file");
    dataset_truncate(mem, 850);
    dataset_truncate(st, 850);
    T_CHECK(!memcmp(mem->labels, st->labels, 850 * sizeof(int)), "labels after split and subset");
    dataset_order(st, p1, 9, 2, 0);
    T_CHECK(check_order(p1, 850), "order after split and subset");
    T_CHECK(same_batches(mem, st, p1, 850, 2), "batches after split and subset (rows with holes)");

    uint32_t idx[7] = {849, 0, 17, 17, 400, 31, 32};
    Dataset *gm = dataset_gather(mem, idx, 7), *gs = dataset_gather(st, idx, 7);
    T_CHECK(!memcmp(gm->images, gs->images, 7 * C * H * W) && !memcmp(gm->labels, gs->labels, sizeof idx),
            "gather");
    dataset_free(gm), dataset_free(gs), dataset_free(vm), dataset_free(vs), dataset_free(mem), dataset_free(st);
    return t_exit("test_stream");
}
