/* IDX files (LeCun's MNIST format, also Fashion-MNIST): big-endian header, magic 0x00000803 (ubyte, 3 dims)
 * for images and 0x00000801 (ubyte, 1 dim) for labels, then raw bytes. Read through zlib, which also reads
 * uncompressed files, so .gz and raw take the same path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/err.h"
#include "data/loaders.h"

enum { IDX_IMAGES_MAGIC = 2051, IDX_LABELS_MAGIC = 2049, IDX_MAX_SIDE = 4096, IDX_MAX_N = 1 << 26 };

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Prefer the .gz copy (what distributions ship), else the raw file; out gets the chosen path. */
static void pick(char *out, size_t cap, const char *dir, const char *base) {
    char raw[1024], gz[80];
    data_path(raw, sizeof raw, dir, base);
    snprintf(gz, sizeof gz, "%s.gz", base);
    data_path(out, cap, dir, gz);
    if (is_file(out)) return;
    if (is_file(raw)) {
        data_path(out, cap, dir, base);
        return;
    }
    swap_fail("%s: missing (also looked for %s)", out, raw);
}

/* Read exactly n bytes or fail naming the file; what says which part was being read. */
static void read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what) {
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_BUF_ERROR) swap_fail("%s: truncated (compressed stream ends inside the %s)", path, what);
            swap_fail("%s: read error in %s (%s)", path, what, zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (got == 0) swap_fail("%s: truncated (file ends inside the %s)", path, what);
        p += got;
        n -= (size_t)got;
    }
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static gzFile open_idx(const char *path) {
    gzFile f = gzopen(path, "rb");
    if (!f) swap_fail("%s: cannot open (%s)", path, errno ? strerror(errno) : "zlib could not allocate");
    gzbuffer(f, 1 << 17);
    return f;
}

/* Anything after the declared payload means the header and the data disagree. */
static void expect_end(gzFile f, const char *path) {
    unsigned char extra;
    int got = gzread(f, &extra, 1);
    if (got < 0) {
        int zerr;
        swap_fail("%s: read error at end (%s)", path, gzerror(f, &zerr));
    }
    if (got > 0) swap_fail("%s: longer than its header says (trailing bytes after the data)", path);
}

void idx_load(Dataset *d, const char *dir, int train) {
    const char *split = train ? "train" : "t10k";
    char ipath[1024], lpath[1024], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    pick(ipath, sizeof ipath, dir, base);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    pick(lpath, sizeof lpath, dir, base);

    unsigned char hdr[16];
    gzFile fi = open_idx(ipath);
    read_exact(fi, ipath, hdr, 16, "header");
    uint32_t magic = be32(hdr), n = be32(hdr + 4), h = be32(hdr + 8), w = be32(hdr + 12);
    if (magic != IDX_IMAGES_MAGIC)
        swap_fail("%s: bad magic %u (expected %d for an IDX image file)", ipath, magic, IDX_IMAGES_MAGIC);
    if (n == 0 || n > IDX_MAX_N) swap_fail("%s: implausible image count %u", ipath, n);
    if (h == 0 || w == 0 || h > IDX_MAX_SIDE || w > IDX_MAX_SIDE)
        swap_fail("%s: implausible image size %ux%u", ipath, h, w);

    gzFile fl = open_idx(lpath);
    read_exact(fl, lpath, hdr, 8, "header");
    uint32_t lmagic = be32(hdr), ln = be32(hdr + 4);
    if (lmagic != IDX_LABELS_MAGIC)
        swap_fail("%s: bad magic %u (expected %d for an IDX label file)", lpath, lmagic, IDX_LABELS_MAGIC);
    if (ln != n) swap_fail("%s: %u labels but %s has %u images", lpath, ln, ipath, n);

    d->n = (int)n;
    d->c = 1;
    d->h = (int)h;
    d->w = (int)w;
    d->classes = 10;
    d->images = xMalloc((size_t)n * h * w);
    d->labels = xMalloc((size_t)n * sizeof(int));
    read_exact(fi, ipath, d->images, (size_t)n * h * w, "pixel data");
    expect_end(fi, ipath);
    gzclose(fi);

    unsigned char *lab = xMalloc(n);
    read_exact(fl, lpath, lab, n, "label data");
    expect_end(fl, lpath);
    gzclose(fl);
    for (uint32_t i = 0; i < n; i++) {
        if (lab[i] >= 10) swap_fail("%s: label %u of sample %u is out of range [0, 10)", lpath, lab[i], i);
        d->labels[i] = lab[i];
    }
    free(lab);
    snprintf(d->path, sizeof d->path, "%s", dir);
}
