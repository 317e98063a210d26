/* CIFAR binary versions (https://www.cs.toronto.edu/~kriz/cifar.html). CIFAR-10: 3073-byte records
 * <label><3072 pixels CHW> in data_batch_1..5.bin / test_batch.bin. CIFAR-100: 3074-byte records
 * <coarse><fine><3072 pixels> in train.bin / test.bin. Pixels are already [c][h][w], our in-memory layout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "data/loaders.h"

enum { CIFAR_PIXELS = 3 * 32 * 32, CIFAR_CHUNK = 1024 };

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Accept the folder holding the .bin files or the folder the tarball was extracted into. */
static void resolve_dir(char *out, size_t cap, const char *dir, const char *subdir) {
    data_path(out, cap, dir, subdir);
    if (is_dir(out)) return;
    int n = snprintf(out, cap, "%s", dir);
    if (n < 0 || (size_t)n >= cap) swap_fail("%s: data path too long", dir);
}

typedef struct {
    int label_bytes; /* 1: CIFAR-10 label; 2: CIFAR-100 coarse, fine */
    int classes, coarse_classes;
} CifarFormat;

static size_t file_records(const char *path, size_t rec, const char *hint) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) swap_fail("%s: missing (%s)", path, hint);
        swap_fail("%s: cannot stat (%s)", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) swap_fail("%s: not a regular file", path);
    if (st.st_size == 0) swap_fail("%s: empty file", path);
    if ((size_t)st.st_size % rec)
        swap_fail("%s: size %lld is not a multiple of the %zu-byte record (truncated or not this CIFAR version)",
                  path, (long long)st.st_size, rec);
    return (size_t)st.st_size / rec;
}

static void read_files(Dataset *d, const char *dir, const char *const *files, int nfiles, const CifarFormat *fmt,
                       const char *hint) {
    const size_t rec = (size_t)fmt->label_bytes + CIFAR_PIXELS;
    char paths[6][1024];
    size_t counts[6], total = 0;
    for (int f = 0; f < nfiles; f++) {
        data_path(paths[f], sizeof paths[f], dir, files[f]);
        counts[f] = file_records(paths[f], rec, hint);
        total += counts[f];
    }
    if (total > (size_t)1 << 26) swap_fail("%s: implausible record count %zu", dir, total);
    d->n = (int)total;
    d->c = 3;
    d->h = 32;
    d->w = 32;
    d->classes = fmt->classes;
    d->images = xMalloc(total * CIFAR_PIXELS);
    d->labels = xMalloc(total * sizeof(int));
    if (fmt->label_bytes == 2) d->coarse = xMalloc(total * sizeof(int));

    unsigned char *buf = xMalloc(CIFAR_CHUNK * rec);
    size_t at = 0;
    for (int f = 0; f < nfiles; f++) {
        FILE *fp = xFopen(paths[f], "rb");
        for (size_t done = 0; done < counts[f];) {
            size_t k = counts[f] - done < CIFAR_CHUNK ? counts[f] - done : CIFAR_CHUNK;
            if (fread(buf, rec, k, fp) != k)
                swap_fail("%s: %s after record %zu", paths[f], ferror(fp) ? strerror(errno) : "file shrank while reading",
                          done);
            for (size_t i = 0; i < k; i++) {
                const unsigned char *r = buf + i * rec;
                int fine = r[fmt->label_bytes - 1];
                if (fine >= fmt->classes)
                    swap_fail("%s: label %d of record %zu is out of range [0, %d)", paths[f], fine, done + i,
                              fmt->classes);
                if (fmt->label_bytes == 2) {
                    if (r[0] >= fmt->coarse_classes)
                        swap_fail("%s: coarse label %d of record %zu is out of range [0, %d)", paths[f], r[0],
                                  done + i, fmt->coarse_classes);
                    d->coarse[at] = r[0];
                }
                d->labels[at] = fine;
                memcpy(d->images + at * CIFAR_PIXELS, r + fmt->label_bytes, CIFAR_PIXELS);
                at++;
            }
            done += k;
        }
        fclose(fp);
    }
    free(buf);
    snprintf(d->path, sizeof d->path, "%s", dir);
}

static const char *const get_hint = "pass the directory holding the .bin files or run datasets/get-cifar.sh";

void cifar10_load(Dataset *d, const char *dir, int train) {
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                              "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    const CifarFormat fmt = {.label_bytes = 1, .classes = 10};
    char real[1024];
    resolve_dir(real, sizeof real, dir, "cifar-10-batches-bin");
    read_files(d, real, train ? train_files : test_files, train ? 5 : 1, &fmt, get_hint);
}

void cifar100_load(Dataset *d, const char *dir, int train) {
    static const char *const train_files[] = {"train.bin"};
    static const char *const test_files[] = {"test.bin"};
    const CifarFormat fmt = {.label_bytes = 2, .classes = 100, .coarse_classes = 20};
    char real[1024];
    resolve_dir(real, sizeof real, dir, "cifar-100-binary");
    read_files(d, real, train ? train_files : test_files, 1, &fmt, get_hint);
}
