/* The HDF5 dataset file (dataset = "hdf5", data_file = PATH), the one format users bring their own images in:
 *   /train/images uint8 [N][H][W][C] (C = 1 or 3), /train/labels any integer type [N], /test/... the same way,
 *   optional /classes (K strings, else K = max label + 1), optional attributes mean/std (C numbers, pixel
 *   scale 0-255) on /train/images, else computed from the training images.
 * The whole contract is checked on every open, before any image is read: a problem is one swap_fail line naming
 * the file and the HDF5 path. Images are transposed to our [n][c][h][w] layout while they are read. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "core/err.h"
#include "data/h5data.h"

enum { H5D_MAX_SIDE = 1024, H5D_MAX_CLASSES = 100000, H5D_READ_ROWS = 1024 };

/* The innermost message on HDF5's error stack: what a corrupt or truncated file reports. */
static herr_t walk_err(unsigned n, const H5E_error2_t *e, void *out) {
    (void)n;
    if (e->desc && e->desc[0]) snprintf(out, 200, "%s", e->desc);
    return 0;
}
const char *h5data_error(void) {
    static char msg[200];
    msg[0] = 0;
    hid_t st = H5Eget_current_stack(); /* walking downward, the last entry is the most specific */
    if (st >= 0) {
        H5Ewalk2(st, H5E_WALK_DOWNWARD, walk_err, msg);
        H5Eclose_stack(st);
    }
    H5Eclear2(H5E_DEFAULT);
    return msg[0] ? msg : "unknown HDF5 error";
}

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* A regular, non-empty file (a directory or a missing path gets its own message). */
static void check_file(const char *path) {
    struct stat st;
    if (!path || !*path) swap_fail("dataset \"hdf5\": no data_file given (data_file = \"PATH\" names the HDF5 file)");
    if (stat(path, &st) != 0) swap_fail("%s: /: cannot open the data file (%s)", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        swap_fail("%s: /: is a directory; data_file must name the HDF5 file itself (e.g. %s/data.h5)", path, path);
    if (!S_ISREG(st.st_mode)) swap_fail("%s: /: not a regular file", path);
    if (st.st_size == 0) swap_fail("%s: /: empty file (truncated?)", path);
}

hid_t h5data_open(const char *path) {
    quiet();
    check_file(path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1); /* read-only data on shared file systems without flock */
#else
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
#endif
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) swap_fail("%s: /: not a readable HDF5 file (%s; truncated or corrupt?)", path, h5data_error());
    H5Pclose(fapl);
    return f;
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    default: return "non-numeric";
    }
}

/* Describe a type as numpy would name it ("uint8", "int16", "float32", ...). */
static void type_name(hid_t t, char *buf, size_t n) {
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_INTEGER) snprintf(buf, n, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * sz);
    else if (c == H5T_FLOAT) snprintf(buf, n, "float%zu", 8 * sz);
    else snprintf(buf, n, "%s", class_name(c));
}

/* Open a dataset at `where`, failing with the file and the path when it is absent or not a dataset. */
static hid_t open_dset(hid_t f, const char *path, const char *where) {
    char group[16];
    snprintf(group, sizeof group, "%.*s", (int)(strchr(where + 1, '/') ? strchr(where + 1, '/') - where : 0), where);
    if (group[0] && H5Lexists(f, group, H5P_DEFAULT) <= 0)
        swap_fail("%s: %s: missing group (the file needs /train and /test, each with images and labels)", path, group);
    if (H5Lexists(f, where, H5P_DEFAULT) <= 0) swap_fail("%s: %s: missing dataset", path, where);
    H5O_info_t oi;
    if (H5Oget_info_by_name2(f, where, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        swap_fail("%s: %s: unreadable (%s; corrupt file?)", path, where, h5data_error());
    if (oi.type != H5O_TYPE_DATASET) swap_fail("%s: %s: is a group, expected a dataset", path, where);
    hid_t d = H5Dopen2(f, where, H5P_DEFAULT);
    if (d < 0) swap_fail("%s: %s: cannot open (%s)", path, where, h5data_error());
    return d;
}

static int dset_dims(hid_t d, hsize_t *dims, int cap) {
    hid_t sp = H5Dget_space(d);
    int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (r > 0 && r <= cap) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    return r;
}

/* Shape and type of one split's images and labels. */
static void check_split(hid_t f, const char *path, const char *split, H5Shape *s) {
    char where[32], tn[32];
    snprintf(where, sizeof where, "/%s/images", split);
    hid_t d = open_dset(f, path, where);
    hid_t t = H5Dget_type(d);
    type_name(t, tn, sizeof tn);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    H5Tclose(t);
    if (!ok) swap_fail("%s: %s: dtype %s, expected uint8 (pixels 0-255)", path, where, tn);
    hsize_t dims[8];
    int r = dset_dims(d, dims, 8);
    H5Dclose(d);
    if (r != 4) swap_fail("%s: %s: rank %d, expected 4 ([N][H][W][C])", path, where, r);
    if (dims[0] == 0) swap_fail("%s: %s: zero images", path, where);
    if (dims[0] > (hsize_t)1 << 31) swap_fail("%s: %s: %llu images, at most 2^31", path, where, (unsigned long long)dims[0]);
    if (dims[3] != 1 && dims[3] != 3)
        swap_fail("%s: %s: %llu channels in the last dimension, expected 1 or 3 ([N][H][W][C])", path, where,
                  (unsigned long long)dims[3]);
    if (dims[1] < 1 || dims[2] < 1 || dims[1] > H5D_MAX_SIDE || dims[2] > H5D_MAX_SIDE)
        swap_fail("%s: %s: images of %llux%llu, expected sides in [1, %d]", path, where, (unsigned long long)dims[1],
                  (unsigned long long)dims[2], H5D_MAX_SIDE);
    s->n = (int)dims[0];
    s->h = (int)dims[1];
    s->w = (int)dims[2];
    s->c = (int)dims[3];

    snprintf(where, sizeof where, "/%s/labels", split);
    d = open_dset(f, path, where);
    t = H5Dget_type(d);
    type_name(t, tn, sizeof tn);
    ok = H5Tget_class(t) == H5T_INTEGER;
    H5Tclose(t);
    if (!ok) swap_fail("%s: %s: dtype %s, expected an integer type", path, where, tn);
    r = dset_dims(d, dims, 8);
    H5Dclose(d);
    if (r != 1) swap_fail("%s: %s: rank %d, expected 1 ([N])", path, where, r);
    if (dims[0] != (hsize_t)s->n)
        swap_fail("%s: %s: %llu labels but /%s/images has %d images", path, where, (unsigned long long)dims[0], split,
                  s->n);
}

/* All labels of a split as int (any stored integer type converts), checked non-negative. */
static int *read_labels(hid_t f, const char *path, const char *split, int n, long long *max_label) {
    char where[32];
    snprintf(where, sizeof where, "/%s/labels", split);
    hid_t d = open_dset(f, path, where);
    long long *v = xMalloc((size_t)n * sizeof *v);
    herr_t rc = H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (rc < 0) swap_fail("%s: %s: read failed (%s; truncated or corrupt file?)", path, where, h5data_error());
    H5Dclose(d);
    int *out = xMalloc((size_t)n * sizeof *out);
    for (int i = 0; i < n; i++) {
        if (v[i] < 0) swap_fail("%s: %s: label %lld of sample %d is negative", path, where, v[i], i);
        if (v[i] >= H5D_MAX_CLASSES)
            swap_fail("%s: %s: label %lld of sample %d is out of range (at most %d classes)", path, where, v[i], i,
                      H5D_MAX_CLASSES);
        if (v[i] > *max_label) *max_label = v[i];
        out[i] = (int)v[i];
    }
    free(v);
    return out;
}

/* /classes: K strings (fixed or variable length, as h5py writes a list of str). Returns K, names in *out. */
static int read_classes(hid_t f, const char *path, char ***out) {
    *out = NULL;
    if (H5Lexists(f, "/classes", H5P_DEFAULT) <= 0) return 0;
    hid_t d = open_dset(f, path, "/classes");
    hid_t t = H5Dget_type(d);
    hsize_t dims[4];
    int r = dset_dims(d, dims, 4);
    if (H5Tget_class(t) != H5T_STRING || r != 1)
        swap_fail("%s: /classes: expected a 1-D array of strings (the class names)", path);
    if (dims[0] < 2 || dims[0] > H5D_MAX_CLASSES)
        swap_fail("%s: /classes: %llu names, expected 2 to %d", path, (unsigned long long)dims[0], H5D_MAX_CLASSES);
    const int k = (int)dims[0];
    char **names = xCalloc((size_t)k + 1, sizeof *names);
    herr_t rc;
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        char **raw = xCalloc((size_t)k, sizeof *raw);
        rc = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
        if (rc >= 0) {
            for (int i = 0; i < k; i++) names[i] = xStrdup(raw[i] ? raw[i] : "");
            hid_t sp = H5Dget_space(d);
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
            H5Sclose(sp);
        }
        free(raw);
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(t);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz + 1);
        H5Tset_cset(mt, H5Tget_cset(t));
        char *raw = xCalloc((size_t)k, sz + 1);
        rc = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
        if (rc >= 0)
            for (int i = 0; i < k; i++) names[i] = xStrdup(raw + (size_t)i * (sz + 1));
        free(raw);
        H5Tclose(mt);
    }
    if (rc < 0) swap_fail("%s: /classes: read failed (%s)", path, h5data_error());
    H5Tclose(t);
    H5Dclose(d);
    *out = names;
    return k;
}

/* Optional mean/std attributes of /train/images: C numbers each, pixel scale 0-255. 1 if present. */
static int read_norm_attrs(hid_t f, const char *path, int c, double *mean, double *std) {
    hid_t d = H5Dopen2(f, "/train/images", H5P_DEFAULT);
    int have[2] = {0, 0};
    const char *names[2] = {"mean", "std"};
    double *dst[2] = {mean, std};
    for (int k = 0; k < 2; k++) {
        if (H5Aexists(d, names[k]) <= 0) continue;
        hid_t a = H5Aopen(d, names[k], H5P_DEFAULT);
        hid_t sp = H5Aget_space(a);
        hssize_t cnt = H5Sget_simple_extent_npoints(sp);
        hid_t t = H5Aget_type(a);
        H5T_class_t cls = H5Tget_class(t);
        H5Tclose(t);
        H5Sclose(sp);
        if ((cls != H5T_FLOAT && cls != H5T_INTEGER) || cnt != c) {
            H5Aclose(a);
            H5Dclose(d);
            swap_fail("%s: /train/images: attribute %s must be %d number(s), one per channel (pixel scale 0-255)", path,
                      names[k], c);
        }
        herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, dst[k]);
        H5Aclose(a);
        if (rc < 0) swap_fail("%s: /train/images: attribute %s unreadable (%s)", path, names[k], h5data_error());
        have[k] = 1;
    }
    H5Dclose(d);
    if (have[0] != have[1])
        swap_fail("%s: /train/images: has attribute %s but not %s (give both or neither)", path,
                  have[0] ? "mean" : "std", have[0] ? "std" : "mean");
    if (!have[0]) return 0;
    for (int ch = 0; ch < c; ch++) {
        if (!(mean[ch] >= 0 && mean[ch] <= 255))
            swap_fail("%s: /train/images: attribute mean[%d] = %g is outside the pixel scale 0-255", path, ch, mean[ch]);
        if (!(std[ch] > 0 && std[ch] <= 255))
            swap_fail("%s: /train/images: attribute std[%d] = %g must be in (0, 255]", path, ch, std[ch]);
    }
    return 1;
}

void h5data_check(hid_t f, const char *path, H5Info *info) {
    memset(info, 0, sizeof *info);
    check_split(f, path, "train", &info->split[0]);
    check_split(f, path, "test", &info->split[1]);
    const H5Shape *a = &info->split[0], *b = &info->split[1];
    if (a->h != b->h || a->w != b->w || a->c != b->c)
        swap_fail("%s: /test/images: images of %dx%dx%d but /train/images has %dx%dx%d ([H][W][C])", path, b->h, b->w,
                  b->c, a->h, a->w, a->c);
    long long max_label = -1;
    info->labels[0] = read_labels(f, path, "train", a->n, &max_label);
    info->labels[1] = read_labels(f, path, "test", b->n, &max_label);
    int k = read_classes(f, path, &info->class_names);
    if (k) {
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < info->split[s].n; i++)
                if (info->labels[s][i] >= k)
                    swap_fail("%s: /%s/labels: label %d of sample %d is out of range [0, %d) (/classes has %d names)",
                              path, s ? "test" : "train", info->labels[s][i], i, k, k);
        info->classes = k;
    } else {
        if (max_label < 1)
            swap_fail("%s: /train/labels: every label is 0: a classifier needs at least 2 classes", path);
        info->classes = (int)max_label + 1;
    }
    info->have_norm = read_norm_attrs(f, path, a->c, info->mean, info->std);
}

void h5data_info_free(H5Info *info) {
    free(info->labels[0]);
    free(info->labels[1]);
    if (info->class_names) {
        for (char **p = info->class_names; *p; p++) free(*p);
        free(info->class_names);
    }
    memset(info, 0, sizeof *info);
}

/* rows [r0, r0 + n) of /<split>/images, [n][H][W][C] in the file, into dst as [n][C][H][W]. tmp holds n*H*W*C. */
void h5data_read_rows(hid_t dset, const char *path, const char *where, const H5Shape *s, size_t r0, size_t n,
                      uint8_t *dst, uint8_t *tmp) {
    hsize_t start[4] = {r0, 0, 0, 0}, count[4] = {n, (hsize_t)s->h, (hsize_t)s->w, (hsize_t)s->c};
    hid_t fs = H5Dget_space(dset);
    hid_t ms = H5Screate_simple(4, count, NULL);
    herr_t rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (rc >= 0) rc = H5Dread(dset, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, s->c == 1 ? dst : tmp);
    if (rc < 0) /* before anything else clears HDF5's error stack */
        swap_fail("%s: %s: reading images %zu..%zu failed (%s; truncated or corrupt file?)", path, where, r0, r0 + n,
                  h5data_error());
    H5Sclose(ms);
    H5Sclose(fs);
    if (s->c == 1) return; /* [H][W][1] is already [1][H][W] */
    const size_t hw = (size_t)s->h * s->w, px = hw * s->c;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src = tmp + i * px;
        uint8_t *out = dst + i * px;
        for (size_t p = 0; p < hw; p++)
            for (int ch = 0; ch < s->c; ch++) out[(size_t)ch * hw + p] = src[p * s->c + ch];
    }
}

hid_t h5data_open_images(hid_t f, const char *path, const char *split) {
    char where[32];
    snprintf(where, sizeof where, "/%s/images", split);
    return open_dset(f, path, where);
}

/* Per-channel histograms make the statistics exact integers, so they do not depend on the read order. */
void h5data_hist_add(uint64_t (*hist)[256], const uint8_t *nchw, size_t n, int c, size_t hw) {
    for (size_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const uint8_t *p = nchw + (i * c + ch) * hw;
            for (size_t k = 0; k < hw; k++) hist[ch][p[k]]++;
        }
}

void h5data_hist_norm(uint64_t (*hist)[256], int c, float *mean, float *std) {
    for (int ch = 0; ch < c; ch++) {
        double cnt = 0, s1 = 0, s2 = 0;
        for (int v = 0; v < 256; v++) {
            cnt += (double)hist[ch][v];
            s1 += (double)hist[ch][v] * v;
            s2 += (double)hist[ch][v] * v * v;
        }
        const double m = s1 / cnt, var = s2 / cnt - m * m;
        const double sd = var > 1e-12 ? sqrt(var) : 255.0; /* a constant channel: std 1 after /255 */
        mean[ch] = (float)(m / 255.0);
        std[ch] = (float)(sd / 255.0);
    }
}

/* XXH3-128 of the file's bytes. Remembered for the last file (by device, inode, size and mtime), since a phase
 * opens the file for each split. */
void h5data_file_hash(const char *path, char out[33]) {
    static struct {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        char hash[33];
    } memo;
    struct stat st;
    if (stat(path, &st) != 0) swap_fail("%s: /: cannot stat (%s)", path, strerror(errno));
    if (memo.hash[0] && memo.dev == st.st_dev && memo.ino == st.st_ino && memo.size == st.st_size &&
        memo.mtime.tv_sec == st.st_mtim.tv_sec && memo.mtime.tv_nsec == st.st_mtim.tv_nsec) {
        memcpy(out, memo.hash, 33);
        return;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) swap_fail("%s: /: cannot open (%s)", path, strerror(errno));
    XXH3_state_t *xs = XXH3_createState();
    if (!xs) swap_fail("out of memory creating a hash state");
    XXH3_128bits_reset(xs);
    enum { BUF = 1 << 20 };
    unsigned char *buf = xMalloc(BUF);
    size_t got;
    while ((got = fread(buf, 1, BUF, fp)) > 0) XXH3_128bits_update(xs, buf, got);
    int err = ferror(fp);
    fclose(fp);
    free(buf);
    if (err) swap_fail("%s: /: read error while hashing (%s)", path, strerror(errno));
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
    XXH3_freeState(xs);
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
    memo.dev = st.st_dev;
    memo.ino = st.st_ino;
    memo.size = st.st_size;
    memo.mtime = st.st_mtim;
    memcpy(memo.hash, out, 33);
}
