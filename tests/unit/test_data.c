/* Data layer: IDX (raw and gz) and CIFAR-10/100 readers on small files written here, one-line errors for
 * broken files (in a forked child, since swap_fail exits), epoch order, sharding invariance of augmented
 * batches, augmentation geometry, normalization, and the real Fashion-MNIST / CIFAR-10 when present. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/err.h"
#include "data/dataset.h"
#include "testlib.h"

static char g_tmp[1024];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void mkdirs(const char *path) {
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static char *pathf(const char *fmt, const char *a, const char *b) {
    static char bufs[8][4096];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 4096, fmt, a, b);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || gzwrite(f, data, (unsigned)n) != (int)n) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(2);
        }
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, n, f) != n) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(2);
        }
        fclose(f);
    }
}

static void put_be32(unsigned char *b, uint32_t v) {
    b[0] = v >> 24; b[1] = v >> 16; b[2] = v >> 8; b[3] = v;
}

/* An IDX image file with n images of h x w whose pixels are pix(i, y, x); labels i*3+salt mod 10. */
static uint8_t pix(int i, int y, int x, int salt) { return (uint8_t)(i * 37 + y * 11 + x * 3 + salt); }

static void write_idx_pair(const char *dir, const char *split, int n, int h, int w, int gz, int salt) {
    size_t isz = 16 + (size_t)n * h * w, lsz = 8 + (size_t)n;
    unsigned char *img = malloc(isz), *lab = malloc(lsz);
    put_be32(img, 2051); put_be32(img + 4, n); put_be32(img + 8, h); put_be32(img + 12, w);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) img[16 + ((size_t)i * h + y) * w + x] = pix(i, y, x, salt);
    put_be32(lab, 2049); put_be32(lab + 4, n);
    for (int i = 0; i < n; i++) lab[8 + i] = (uint8_t)((i * 3 + salt) % 10);
    char base[256];
    snprintf(base, sizeof base, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
    write_bytes(base, img, isz, gz);
    snprintf(base, sizeof base, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
    write_bytes(base, lab, lsz, gz);
    free(img);
    free(lab);
}

static void check_idx(const Dataset *d, int n, int h, int w, int salt, const char *what) {
    T_CHECK(d->n == n && d->c == 1 && d->h == h && d->w == w && d->classes == 10, "%s: shape %d %dx%dx%d", what,
            d->n, d->c, d->h, d->w);
    if (d->n != n || d->h != h || d->w != w) return;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (d->labels[i] != (i * 3 + salt) % 10) bad++;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) bad += d->images[((size_t)i * h + y) * w + x] != pix(i, y, x, salt);
    }
    T_CHECK(bad == 0, "%s: %d wrong pixels/labels", what, bad);
    T_CHECK(d->coarse == NULL, "%s: IDX has no coarse labels", what);
}

static void test_idx(void) {
    const char *raw = pathf("%s/idx_raw%s", g_tmp, ""), *gz = pathf("%s/idx_gz%s", g_tmp, "");
    mkdirs(raw);
    mkdirs(gz);
    /* non-square so a swapped h/w would show */
    write_idx_pair(raw, "train", 7, 5, 6, 0, 1);
    write_idx_pair(raw, "t10k", 3, 5, 6, 0, 2);
    write_idx_pair(gz, "train", 9, 4, 3, 1, 5);
    write_idx_pair(gz, "t10k", 4, 4, 3, 1, 6);
    /* a raw copy with other content beside the .gz: the .gz must win */
    write_idx_pair(gz, "train", 2, 4, 3, 0, 9);

    Dataset *d = dataset_load("mnist", raw, 1);
    check_idx(d, 7, 5, 6, 1, "raw train");
    T_CHECK(!strcmp(d->name, "mnist") && !strcmp(d->path, raw), "name/path recorded (%s, %s)", d->name, d->path);
    T_CHECK(d->mean[0] == 0.1307f && d->std[0] == 0.3081f, "mnist normalization constants");
    dataset_truncate(d, 4);
    T_CHECK(d->n == 4 && d->labels[3] == (3 * 3 + 1) % 10, "truncate keeps the first samples");
    dataset_free(d);
    d = dataset_load("mnist", raw, 0);
    check_idx(d, 3, 5, 6, 2, "raw test");
    dataset_free(d);
    d = dataset_load("fashion-mnist", gz, 1);
    check_idx(d, 9, 4, 3, 5, "gz train (preferred over raw)");
    T_CHECK(d->mean[0] == 0.2860f && d->std[0] == 0.3530f, "fashion-mnist normalization constants");
    dataset_free(d);
    d = dataset_load("fashion-mnist", gz, 0);
    check_idx(d, 4, 4, 3, 6, "gz test");
    dataset_free(d);
}

/* CIFAR record r of file f: label, optional coarse, pixels cpix(f, r, k). */
static uint8_t cpix(int f, int r, int k) { return (uint8_t)(f * 101 + r * 29 + k * 7 + (k >> 10)); }

static void write_cifar(const char *path, int f, int nrec, int hundred, int e_lab) {
    size_t rec = hundred ? 3074 : 3073;
    unsigned char *buf = malloc(rec * nrec);
    for (int r = 0; r < nrec; r++) {
        unsigned char *p = buf + r * rec;
        if (hundred) {
            p[0] = (uint8_t)((f + r) % 20);
            p[1] = (uint8_t)((f * 7 + r * 13) % 100);
        } else {
            p[0] = (uint8_t)((f + r) % 10);
        }
        for (int k = 0; k < 3072; k++) p[(hundred ? 2 : 1) + k] = cpix(f, r, k);
    }
    if (e_lab == 1) buf[(nrec - 1) * rec + (hundred ? 1 : 0)] = hundred ? 100 : 10;
    if (e_lab == 2) buf[(nrec - 1) * rec] = 20; /* CIFAR-100 coarse */
    write_bytes(path, buf, rec * nrec, 0);
    free(buf);
}

static void test_cifar(void) {
    const char *root10 = pathf("%s/c10%s", g_tmp, ""), *dir10 = pathf("%s/c10/cifar-10-batches-bin%s", g_tmp, "");
    mkdirs(dir10);
    const int counts[5] = {2, 1, 3, 1, 2};
    char p[4096];
    for (int f = 0; f < 5; f++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", dir10, f + 1);
        write_cifar(p, f, counts[f], 0, 0);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", dir10);
    write_cifar(p, 9, 4, 0, 0);

    for (int via_parent = 0; via_parent < 2; via_parent++) {
        Dataset *d = dataset_load("cifar10", via_parent ? root10 : dir10, 1);
        T_CHECK(d->n == 9 && d->c == 3 && d->h == 32 && d->w == 32 && d->classes == 10, "cifar10 shape n=%d", d->n);
        T_CHECK(!strcmp(d->path, dir10), "cifar10 resolved to %s", d->path);
        int bad = 0, i = 0;
        for (int f = 0; f < 5 && d->n == 9; f++)
            for (int r = 0; r < counts[f]; r++, i++) {
                bad += d->labels[i] != (f + r) % 10;
                for (int k = 0; k < 3072; k++) bad += d->images[(size_t)i * 3072 + k] != cpix(f, r, k);
            }
        T_CHECK(bad == 0, "cifar10 train: %d wrong pixels/labels (files concatenated in order)", bad);
        T_CHECK(d->mean[2] == 0.4465f && d->std[1] == 0.2435f, "cifar10 normalization constants");
        dataset_free(d);
    }
    Dataset *d = dataset_load("cifar10", root10, 0);
    T_CHECK(d->n == 4 && d->labels[3] == (9 + 3) % 10 && d->images[3 * 3072 + 5] == cpix(9, 3, 5), "cifar10 test");
    dataset_free(d);

    const char *root100 = pathf("%s/c100%s", g_tmp, ""), *dir100 = pathf("%s/c100/cifar-100-binary%s", g_tmp, "");
    mkdirs(dir100);
    snprintf(p, sizeof p, "%s/train.bin", dir100);
    write_cifar(p, 1, 25, 1, 0);
    snprintf(p, sizeof p, "%s/test.bin", dir100);
    write_cifar(p, 2, 5, 1, 0);
    for (int train = 0; train < 2; train++) {
        d = dataset_load("cifar100", train ? root100 : dir100, train);
        int f = train ? 1 : 2, n = train ? 25 : 5, bad = 0;
        T_CHECK(d->n == n && d->classes == 100 && d->coarse, "cifar100 shape n=%d", d->n);
        for (int r = 0; r < n && d->n == n && d->coarse; r++) {
            bad += d->coarse[r] != (f + r) % 20;
            bad += d->labels[r] != (f * 7 + r * 13) % 100;
            for (int k = 0; k < 3072; k++) bad += d->images[(size_t)r * 3072 + k] != cpix(f, r, k);
        }
        T_CHECK(bad == 0, "cifar100 %s: %d wrong pixels/fine/coarse labels", train ? "train" : "test", bad);
        T_CHECK(d->mean[0] == 0.5071f && d->std[2] == 0.2762f, "cifar100 normalization constants");
        dataset_free(d);
    }
}

/* ---- broken inputs: run the load in a child; it must exit non-zero with one stderr line naming `expect`. */

static void quick_exit_hook(int code) { _exit(code); } /* skip atexit (leak checks) in the dying child */

static void expect_fail(const char *name, const char *dir, int train, const char *expect, const char *expect2) {
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        swap_set_exit_hook(quick_exit_hook);
        Dataset *d = dataset_load(name, dir, train);
        (void)d;
        _exit(0);
    }
    close(fds[1]);
    char msg[8192];
    size_t len = 0;
    ssize_t got;
    while ((got = read(fds[0], msg + len, sizeof msg - 1 - len)) > 0) len += (size_t)got;
    msg[len] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += msg[i] == '\n';
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0, "%s %s: expected a non-zero exit (status %d)", name,
            expect, status);
    T_CHECK(lines == 1 && msg[len - 1] == '\n', "%s: expected one stderr line, got %d: %s", expect, lines, msg);
    T_CHECK(strstr(msg, expect) != NULL, "stderr should name '%s': %s", expect, msg);
    if (expect2) T_CHECK(strstr(msg, expect2) != NULL, "stderr should say '%s': %s", expect2, msg);
    printf("  rejected as expected: %s", msg);
}

static void copy_file(const char *to, const char *from, long keep, long flip_at) {
    FILE *f = fopen(from, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n);
    if (fread(buf, 1, n, f) != (size_t)n) exit(2);
    fclose(f);
    if (flip_at >= 0) buf[flip_at] ^= 0xff;
    write_bytes(to, buf, keep >= 0 ? keep : n, 0);
    free(buf);
}

static void test_errors(void) {
    expect_fail("imagenet", "/nonexistent", 1, "unknown dataset 'imagenet'", "fashion-mnist, mnist, cifar10, cifar100");
    expect_fail("cifar10", NULL, 1, "cifar10", "datasets/get-cifar.sh");
    expect_fail("cifar100", NULL, 0, "cifar100", "data_dir");
    expect_fail("mnist", NULL, 1, "mnist", "data_dir");

    char dir[2048], p[4096], q[4096];
    snprintf(dir, sizeof dir, "%s/e_none", g_tmp);
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    expect_fail("mnist", dir, 1, p, "missing");

    const char *raw = pathf("%s/idx_raw%s", g_tmp, "");
    /* truncated raw image file */
    snprintf(dir, sizeof dir, "%s/e_short", g_tmp);
    mkdirs(dir);
    write_idx_pair(dir, "train", 7, 5, 6, 0, 1);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    snprintf(q, sizeof q, "%s/train-images-idx3-ubyte", raw);
    copy_file(p, q, 16 + 7 * 30 - 5, -1);
    expect_fail("mnist", dir, 1, p, "truncated");
    /* header cut short */
    copy_file(p, q, 10, -1);
    expect_fail("mnist", dir, 1, p, "truncated");
    /* longer than the header says */
    write_idx_pair(dir, "t10k", 3, 5, 6, 0, 2);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    {
        FILE *f = fopen(p, "ab");
        fputc(1, f);
        fclose(f);
    }
    expect_fail("mnist", dir, 0, p, "longer");

    /* truncated gzip stream */
    snprintf(dir, sizeof dir, "%s/e_gz", g_tmp);
    mkdirs(dir);
    write_idx_pair(dir, "train", 50, 8, 8, 1, 3);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    struct stat st;
    stat(p, &st);
    snprintf(q, sizeof q, "%s/full.gz", dir);
    rename(p, q);
    copy_file(p, q, (long)st.st_size / 2, -1);
    expect_fail("fashion-mnist", dir, 1, p, "truncated");

    /* wrong magic */
    snprintf(dir, sizeof dir, "%s/e_m", g_tmp);
    mkdirs(dir);
    write_idx_pair(dir, "train", 4, 5, 6, 0, 1);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    snprintf(q, sizeof q, "%s/orig", dir);
    rename(p, q);
    copy_file(p, q, -1, 3); /* magic 0x00000803 -> 0x000008fc */
    expect_fail("mnist", dir, 1, p, "bad magic 2300");

    /* label out of range */
    snprintf(dir, sizeof dir, "%s/e_lab", g_tmp);
    mkdirs(dir);
    write_idx_pair(dir, "train", 4, 5, 6, 0, 1);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    snprintf(q, sizeof q, "%s/labels.orig", dir);
    rename(p, q);
    {
        unsigned char lab[12] = {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 10, 3};
        write_bytes(p, lab, sizeof lab, 0);
    }
    expect_fail("mnist", dir, 1, p, "out of range");
    /* label count differs from image count */
    {
        unsigned char lab[11] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
        write_bytes(p, lab, sizeof lab, 0);
    }
    expect_fail("mnist", dir, 1, p, "3 labels");

    /* CIFAR-10: a missing batch, a wrong record size, a label out of range */
    snprintf(dir, sizeof dir, "%s/e_c10/cifar-10-batches-bin", g_tmp);
    mkdirs(dir);
    for (int f = 1; f <= 4; f++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", dir, f);
        write_cifar(p, f, 2, 0, 0);
    }
    snprintf(p, sizeof p, "%s/data_batch_5.bin", dir);
    expect_fail("cifar10", pathf("%s/e_c10%s", g_tmp, ""), 1, p, "missing");
    write_cifar(p, 5, 3, 0, 1);
    expect_fail("cifar10", dir, 1, p, "out of range");
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    write_cifar(p, 0, 3, 1, 0); /* CIFAR-100 records under a CIFAR-10 name */
    expect_fail("cifar10", dir, 0, p, "multiple of the 3073-byte record");
    write_bytes(p, "", 0, 0);
    expect_fail("cifar10", dir, 0, p, "empty");

    /* CIFAR-100: fine label 100, coarse label 20, record size */
    snprintf(dir, sizeof dir, "%s/e_c100", g_tmp);
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/train.bin", dir);
    write_cifar(p, 1, 3, 1, 1);
    expect_fail("cifar100", dir, 1, p, "label 100");
    write_cifar(p, 1, 3, 1, 2);
    expect_fail("cifar100", dir, 1, p, "coarse label 20");
    snprintf(p, sizeof p, "%s/test.bin", dir);
    write_cifar(p, 1, 3, 0, 0);
    expect_fail("cifar100", dir, 0, p, "3074-byte");
}

/* ---- order, sharding, augmentation on an in-memory dataset */

static Dataset *synthetic(int n, int c, int h, int w) {
    Dataset *d = calloc(1, sizeof *d);
    snprintf(d->name, sizeof d->name, "synthetic");
    d->n = n; d->c = c; d->h = h; d->w = w; d->classes = 10;
    d->images = malloc((size_t)n * c * h * w);
    d->labels = malloc(n * sizeof(int));
    /* pixels are 1 + (distinct per position) so no pixel is 0 and every shift is identifiable */
    for (int i = 0; i < n; i++) {
        d->labels[i] = (i * 7) % 10;
        for (int k = 0; k < c * h * w; k++) d->images[(size_t)i * c * h * w + k] = (uint8_t)(1 + (k + i) % 250);
    }
    const float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.25f, 0.2f, 0.3f};
    for (int k = 0; k < 3; k++) d->mean[k] = mean[k], d->std[k] = std[k];
    return d;
}

static float norm(const Dataset *d, int ch, int v) { return ((float)v / 255.0f - d->mean[ch]) / d->std[ch]; }

static void test_order(void) {
    enum { N = 1000 };
    static uint32_t a[N], b[N];
    int seen[N] = {0};
    dataset_epoch_order(a, N, 42, 3, 1);
    int perm = 1;
    for (int i = 0; i < N; i++) {
        if (a[i] >= N || seen[a[i]]++) perm = 0;
    }
    T_CHECK(perm, "epoch order is a permutation of 0..n-1");
    dataset_epoch_order(b, N, 42, 3, 1);
    T_CHECK(!memcmp(a, b, sizeof a), "epoch order is deterministic");
    dataset_epoch_order(b, N, 42, 4, 1);
    T_CHECK(memcmp(a, b, sizeof a), "epoch order differs across epochs");
    dataset_epoch_order(b, N, 42, 3, 2);
    T_CHECK(memcmp(a, b, sizeof a), "epoch order differs across workers");
    dataset_epoch_order(b, N, 43, 3, 1);
    T_CHECK(memcmp(a, b, sizeof a), "epoch order differs across seeds");
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += a[i] == (uint32_t)i;
    T_CHECK(fixed < 10, "epoch order is shuffled (%d fixed points)", fixed);

    for (int g = 1; g <= 13; g++)
        for (int R = 1; R <= 5; R++) {
            int prev = 0, ok = 1;
            for (int r = 0; r < R; r++) {
                int lo, hi;
                dataset_shard(g, r, R, &lo, &hi);
                if (lo != prev || hi < lo || (g % R == 0 && hi - lo != g / R)) ok = 0;
                prev = hi;
            }
            T_CHECK(ok && prev == g, "shards tile [0,%d) over %d ranks", g, R);
        }
}

/* A global batch of G samples packed whole equals the concatenation of its R shards, bit for bit. With
 * 3x32x32 and G = 400 the whole batch takes the OpenMP path and the shards the serial one. */
static void shard_case(int G, int C, int H, int W) {
    const int N = G + 100;
    const size_t HW = (size_t)H * W;
    Dataset *d = synthetic(N, C, H, W);
    uint32_t *perm = malloc(N * sizeof *perm);
    dataset_epoch_order(perm, N, 7, 2, 0);
    const Augment aug = {.crop_pad = 3, .flip = 1, .cutout = 4};
    const size_t pos0 = 48; /* a later step of the epoch */
    float *full = malloc(C * G * HW * sizeof(float)), *part = malloc(C * G * HW * sizeof(float));
    int *lab_full = malloc(G * sizeof(int)), *lab_part = malloc(G * sizeof(int));
    dataset_fill_batch(full, lab_full, d, perm + pos0, G, &aug, 7, 2, 0, pos0);
    for (int R = 1; R <= 4; R++) {
        int bad = 0;
        for (int r = 0; r < R; r++) {
            int lo, hi;
            dataset_shard(G, r, R, &lo, &hi);
            int nb = hi - lo;
            dataset_fill_batch(part, lab_part, d, perm + pos0 + lo, nb, &aug, 7, 2, 0, pos0 + lo);
            for (int j = 0; j < nb; j++) {
                bad += lab_part[j] != lab_full[lo + j];
                for (int ch = 0; ch < C; ch++)
                    bad += memcmp(part + ((size_t)ch * nb + j) * HW, full + ((size_t)ch * G + lo + j) * HW,
                                  HW * sizeof(float)) != 0;
            }
        }
        T_CHECK(bad == 0, "G=%d sharded over %d ranks: %d sample-channels differ from the unsharded batch", G, R,
                bad);
    }
    /* determinism, thread-count independence, dependence on epoch and worker */
    const size_t bytes = C * G * HW * sizeof(float);
    dataset_fill_batch(part, lab_part, d, perm + pos0, G, &aug, 7, 2, 0, pos0);
    T_CHECK(!memcmp(part, full, bytes), "G=%d: fill_batch is deterministic", G);
    int threads = omp_get_max_threads();
    omp_set_num_threads(threads > 1 ? 1 : 2);
    dataset_fill_batch(part, lab_part, d, perm + pos0, G, &aug, 7, 2, 0, pos0);
    omp_set_num_threads(threads);
    T_CHECK(!memcmp(part, full, bytes), "G=%d: fill_batch does not depend on the thread count", G);
    dataset_fill_batch(part, lab_part, d, perm + pos0, G, &aug, 7, 3, 0, pos0);
    T_CHECK(memcmp(part, full, bytes), "G=%d: augmentation changes with the epoch", G);
    dataset_fill_batch(part, lab_part, d, perm + pos0, G, &aug, 7, 2, 1, pos0);
    T_CHECK(memcmp(part, full, bytes), "G=%d: augmentation changes with the worker", G);
    free(full); free(part); free(lab_full); free(lab_part); free(perm);
    free(d->images); free(d->labels); free(d);
}

static void test_shard_invariance(void) {
    shard_case(24, 3, 10, 10);
    shard_case(400, 3, 32, 32);
}

/* data.val_split: the held-out images are a fixed, seeded set, moved out of the training set with their
 * labels, and no training batch of any epoch or worker ever packs one (checked on the original indices, which
 * every sample carries in its label and pixels). */
static void test_val_split(void) {
    enum { N = 1000, NV = 150, B = 32 };
    static uint32_t a[NV], b[NV];
    dataset_val_indices(a, N, NV, 5);
    dataset_val_indices(b, N, NV, 5);
    T_CHECK(!memcmp(a, b, sizeof a), "val indices are deterministic");
    int sorted = 1;
    for (int i = 1; i < NV; i++) sorted &= a[i - 1] < a[i];
    T_CHECK(sorted && a[NV - 1] < N, "val indices are distinct, sorted and in range");
    dataset_val_indices(b, N, NV, 6);
    T_CHECK(memcmp(a, b, sizeof a), "val indices depend on the seed");
    T_CHECK(a[0] > 0 || a[1] > 1 || a[NV - 1] != NV - 1, "val indices are not simply the first ones");

    Dataset *d = synthetic(N, 1, 2, 2);
    d->coarse = malloc(N * sizeof(int));
    for (int i = 0; i < N; i++) {
        d->labels[i] = i; /* original index, carried through splits and batches */
        d->coarse[i] = N + i;
        d->images[i * 4 + 0] = (uint8_t)(i & 255);
        d->images[i * 4 + 1] = (uint8_t)(i >> 8);
    }
    Dataset *v = dataset_split_val(d, NV, 5);
    static char is_val[N];
    for (int i = 0; i < NV; i++) is_val[a[i]] = 1;
    int ok = v->n == NV && d->n == N - NV && v->c == 1 && v->h == 2 && v->classes == d->classes;
    for (int i = 0; i < NV && ok; i++)
        ok = v->labels[i] == (int)a[i] && v->coarse[i] == N + (int)a[i] &&
             v->images[i * 4] + 256 * v->images[i * 4 + 1] == (int)a[i];
    T_CHECK(ok, "the split holds exactly the val indices, with their labels and pixels");
    ok = 1;
    for (int i = 0, prev = -1; i < d->n && ok; i++) {
        const int orig = d->labels[i];
        ok = orig > prev && !is_val[orig] && d->coarse[i] == N + orig &&
             d->images[i * 4] + 256 * d->images[i * 4 + 1] == orig;
        prev = orig;
    }
    T_CHECK(ok, "the training set keeps every other sample, in the original order, with its pixels");

    /* every training batch of 3 epochs x 2 workers: decode the original index of each packed sample */
    uint32_t *perm = malloc((size_t)d->n * sizeof *perm);
    float x[B * 4];
    int lab[B], leaked = 0, missing = 0;
    for (int epoch = 0; epoch < 3; epoch++)
        for (int worker = 0; worker < 2; worker++) {
            static char seen[N];
            memset(seen, 0, sizeof seen);
            dataset_epoch_order(perm, (size_t)d->n, 9, epoch, worker);
            for (int s = 0; s + B <= d->n; s += B) {
                dataset_fill_batch(x, lab, d, perm + s, B, NULL, 9, epoch, worker, (size_t)s);
                for (int j = 0; j < B; j++) {
                    leaked += is_val[lab[j]];
                    seen[lab[j]] = 1;
                }
            }
            for (int i = 0; i < N; i++) missing += !is_val[i] && !seen[i];
        }
    T_CHECK(leaked == 0, "no training batch packs a validation sample (%d did)", leaked);
    /* 850 training samples, 26 full batches of 32 = 832 per epoch: at most 18 left out of each epoch */
    T_CHECK(missing <= 6 * (N - NV - (N - NV) / B * B), "training batches cover the training set (%d misses)", missing);
    free(perm);
    dataset_free(v);
    dataset_free(d);
}

/* Normalized image of sample i without augmentation, [c][h][w]. */
static void plain(float *out, const Dataset *d, int i) {
    for (int ch = 0; ch < d->c; ch++)
        for (int k = 0; k < d->h * d->w; k++)
            out[ch * d->h * d->w + k] = norm(d, ch, d->images[((size_t)i * d->c + ch) * d->h * d->w + k]);
}

static void test_augment(void) {
    enum { N = 400, C = 2, H = 8, W = 8, HW = H * W };
    Dataset *d = synthetic(N, C, H, W);
    static uint32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = (uint32_t)i;
    static float x[C * N * HW], ref[C * HW];
    int labels[N];

    /* normalization and no augmentation: NULL and an all-off Augment agree with the formula */
    dataset_fill_batch(x, labels, d, idx, N, NULL, 1, 0, 0, 0);
    int bad = 0;
    for (int j = 0; j < N; j++) {
        plain(ref, d, j);
        bad += labels[j] != d->labels[j];
        for (int ch = 0; ch < C; ch++)
            for (int k = 0; k < HW; k++) bad += x[((size_t)ch * N + j) * HW + k] != ref[ch * HW + k];
    }
    T_CHECK(bad == 0, "unaugmented fill = (pixel/255 - mean[c]) / std[c], labels copied (%d bad)", bad);
    T_CHECK(fabsf(x[0] - (((1.0f / 255.0f) - 0.5f) / 0.25f)) < 1e-6f, "normalization of pixel 1, channel 0");
    static float y[C * N * HW];
    const Augment off = {0, 0, 0};
    dataset_fill_batch(y, labels, d, idx, N, &off, 1, 0, 0, 0);
    T_CHECK(!memcmp(x, y, sizeof x), "all-off Augment equals no augmentation");

    /* flip: each sample is itself or its mirror, and both happen */
    const Augment flip = {.flip = 1};
    dataset_fill_batch(x, labels, d, idx, N, &flip, 1, 0, 0, 0);
    int same = 0, mirrored = 0, other = 0;
    for (int j = 0; j < N; j++) {
        plain(ref, d, j);
        int is_same = 1, is_mirror = 1;
        for (int ch = 0; ch < C; ch++)
            for (int r = 0; r < H; r++)
                for (int c = 0; c < W; c++) {
                    float v = x[((size_t)ch * N + j) * HW + r * W + c];
                    is_same &= v == ref[ch * HW + r * W + c];
                    is_mirror &= v == ref[ch * HW + r * W + (W - 1 - c)];
                }
        same += is_same;
        mirrored += is_mirror && !is_same;
        other += !is_same && !is_mirror;
    }
    T_CHECK(other == 0 && same > N / 4 && mirrored > N / 4, "flip: %d same, %d mirrored, %d other", same, mirrored,
            other);

    /* crop: each sample is the image shifted by (dy, dx) within the padding, zero (= -mean/std) outside */
    const int pad = 2;
    const Augment crop = {.crop_pad = pad};
    dataset_fill_batch(x, labels, d, idx, N, &crop, 1, 0, 0, 0);
    int shifts[5][5] = {{0}};
    other = 0;
    for (int j = 0; j < N; j++) {
        int found = 0;
        for (int dy = -pad; dy <= pad && !found; dy++)
            for (int dx = -pad; dx <= pad && !found; dx++) {
                int ok = 1;
                for (int ch = 0; ch < C && ok; ch++)
                    for (int r = 0; r < H && ok; r++)
                        for (int c = 0; c < W && ok; c++) {
                            int sr = r + dy, sc = c + dx;
                            int v = sr >= 0 && sr < H && sc >= 0 && sc < W
                                        ? d->images[((size_t)j * C + ch) * HW + sr * W + sc]
                                        : 0;
                            ok = x[((size_t)ch * N + j) * HW + r * W + c] == norm(d, ch, v);
                        }
                if (ok) {
                    found = 1;
                    shifts[dy + pad][dx + pad]++;
                }
            }
        other += !found;
    }
    int used = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) used += shifts[a][b] > 0;
    T_CHECK(other == 0, "crop: %d samples are not a shift within the padding", other);
    T_CHECK(used == 25, "crop: all 25 shifts occur over %d samples (saw %d)", N, used);

    /* cutout: a clipped square of side <= 4 set to raw 0 in every channel, the rest untouched */
    const int side = 4;
    const Augment cut = {.cutout = side};
    dataset_fill_batch(x, labels, d, idx, N, &cut, 1, 0, 0, 0);
    int full_squares = 0;
    bad = 0;
    for (int j = 0; j < N; j++) {
        plain(ref, d, j);
        int r0 = H, r1 = -1, c0 = W, c1 = -1, zeros = 0;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                int z = x[((size_t)0 * N + j) * HW + r * W + c] == norm(d, 0, 0);
                for (int ch = 0; ch < C; ch++) {
                    float v = x[((size_t)ch * N + j) * HW + r * W + c];
                    if (z) bad += v != norm(d, ch, 0);
                    else bad += v != ref[ch * HW + r * W + c];
                }
                if (z) {
                    zeros++;
                    if (r < r0) r0 = r;
                    if (r > r1) r1 = r;
                    if (c < c0) c0 = c;
                    if (c > c1) c1 = c;
                }
            }
        if (zeros == 0 || zeros != (r1 - r0 + 1) * (c1 - c0 + 1) || r1 - r0 + 1 > side || c1 - c0 + 1 > side) bad++;
        full_squares += zeros == side * side;
    }
    T_CHECK(bad == 0, "cutout: %d samples are not image + one zeroed rectangle of side <= %d", bad, side);
    T_CHECK(full_squares > N / 5, "cutout: full %dx%d squares occur (%d of %d)", side, side, full_squares, N);
    /* deterministic per seed: the same seed cuts the same squares (also with 8x8 on this 8x8 image, clipped),
     * another seed other ones */
    static float x2[C * N * HW];
    dataset_fill_batch(x2, labels, d, idx, N, &cut, 1, 0, 0, 0);
    T_CHECK(!memcmp(x, x2, sizeof x), "cutout: the same seed gives the same squares");
    dataset_fill_batch(x2, labels, d, idx, N, &cut, 2, 0, 0, 0);
    int moved = 0;
    for (int j = 0; j < N; j++) moved += memcmp(x + (size_t)j * HW, x2 + (size_t)j * HW, HW * sizeof(float)) != 0;
    T_CHECK(moved > N / 2, "cutout: another seed moves the squares (%d of %d samples differ)", moved, N);
    const Augment cut8 = {.cutout = 8};
    dataset_fill_batch(x, labels, d, idx, N, &cut8, 5, 0, 0, 0);
    dataset_fill_batch(x2, labels, d, idx, N, &cut8, 5, 0, 0, 0);
    T_CHECK(!memcmp(x, x2, sizeof x), "cutout 8: deterministic for a seed");
    free(d->images); free(d->labels); free(d);
}

/* ---- real data when present */

static void pixel_stats(const Dataset *d, int ch, double *mean, double *std) {
    double s = 0, s2 = 0;
    const size_t hw = (size_t)d->h * d->w;
    for (int i = 0; i < d->n; i++) {
        const uint8_t *p = d->images + ((size_t)i * d->c + ch) * hw;
        unsigned long long a = 0, a2 = 0;
        for (size_t k = 0; k < hw; k++) a += p[k], a2 += (unsigned)p[k] * p[k];
        s += a;
        s2 += a2;
    }
    double n = (double)d->n * hw;
    *mean = s / n / 255.0;
    *std = sqrt(s2 / n / (255.0 * 255.0) - *mean * *mean);
}

static void check_real(const char *name, const char *dir, int ntrain, int ntest, int side) {
    double t0 = now();
    Dataset *tr = dataset_load(name, dir, 1);
    double t1 = now();
    Dataset *te = dataset_load(name, dir, 0);
    double t2 = now();
    printf("%s: loaded train %d in %.3f s, test %d in %.3f s from %s\n", name, tr->n, t1 - t0, te->n, t2 - t1,
           tr->path);
    T_CHECK(tr->n == ntrain && te->n == ntest && tr->h == side && tr->w == side, "%s: sizes %d/%d %dx%d", name,
            tr->n, te->n, tr->h, tr->w);
    int per[10] = {0}, per_test[10] = {0};
    for (int i = 0; i < tr->n; i++) per[tr->labels[i]]++;
    for (int i = 0; i < te->n; i++) per_test[te->labels[i]]++;
    for (int k = 0; k < 10; k++)
        T_CHECK(per[k] == ntrain / 10 && per_test[k] == ntest / 10, "%s: class %d has %d/%d samples", name, k,
                per[k], per_test[k]);
    for (int ch = 0; ch < tr->c; ch++) {
        double m, s;
        pixel_stats(tr, ch, &m, &s);
        T_CHECK(fabs(m - tr->mean[ch]) < 5e-4 && fabs(s - tr->std[ch]) < 5e-4,
                "%s: channel %d measured mean/std %.4f/%.4f vs constants %.4f/%.4f", name, ch, m, s, tr->mean[ch],
                tr->std[ch]);
    }
    /* packing speed, with the full augmentation */
    enum { B = 128, REPS = 100 };
    static uint32_t perm[60000];
    dataset_epoch_order(perm, (size_t)tr->n, 1, 0, 0);
    float *x = malloc((size_t)B * tr->c * tr->h * tr->w * sizeof(float));
    int labels[B];
    const Augment aug = {.crop_pad = 4, .flip = 1, .cutout = 8};
    dataset_fill_batch(x, labels, tr, perm, B, &aug, 1, 0, 0, 0); /* warm-up: thread start */
    double t3 = now();
    for (int r = 0; r < REPS; r++) dataset_fill_batch(x, labels, tr, perm + r * B, B, &aug, 1, 0, 0, (size_t)r * B);
    double t4 = now();
    printf("%s: fill_batch(128, crop+flip+cutout) %.3f ms\n", name, 1e3 * (t4 - t3) / REPS);
    free(x);
    dataset_free(tr);
    dataset_free(te);
}

/* The real datasets, each its own ctest (test_data_fashion_mnist, test_data_cifar10): exit 77 (ctest SKIP) when
 * the copy is absent, so a missing dataset shows as skipped rather than passed. */
static int main_real(const char *which) {
    char probe[4096];
    if (!strcmp(which, "fashion-mnist")) {
        const char *fm = dataset_default_dir("fashion-mnist");
        snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", fm);
        if (access(probe, R_OK) != 0) {
            printf("SKIP: real Fashion-MNIST checks: %s absent (Debian package dataset-fashion-mnist)\n", probe);
            return 77;
        }
        check_real("fashion-mnist", fm, 60000, 10000, 28);
        return t_exit("test_data --real fashion-mnist");
    }
    const char *src = getenv("SWAP_SOURCE_DIR");
    char c10[4096] = "";
    const char *cands[] = {"%s/../shared/datasets/cifar-10-batches-bin", "%s/../../shared/datasets/cifar-10-batches-bin"};
    for (int k = 0; k < 2 && src; k++) {
        snprintf(probe, sizeof probe, cands[k], src);
        char f[4200];
        snprintf(f, sizeof f, "%s/test_batch.bin", probe);
        if (access(f, R_OK) == 0) {
            snprintf(c10, sizeof c10, "%s", probe);
            break;
        }
    }
    if (!*c10) {
        printf("SKIP: real CIFAR-10 checks: no copy at %s/../shared/datasets/cifar-10-batches-bin\n", src ? src : "?");
        return 77;
    }
    check_real("cifar10", c10, 50000, 10000, 32);
    return t_exit("test_data --real cifar10");
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--real")) return main_real(argv[2]);
    snprintf(g_tmp, sizeof g_tmp, "%s", t_tmpdir("test_data"));
    test_idx();
    test_cifar();
    test_errors(); /* forks: before any OpenMP region starts threads */
    test_order();
    test_shard_invariance();
    test_val_split();
    test_augment();
    T_CHECK(dataset_default_dir("mnist") == NULL && dataset_default_dir("cifar10") == NULL, "no default dirs");
    return t_exit("test_data");
}
