/* swap-ckpt-bench: cost of a checkpoint (write with momentum, fsync, rename; read back with verification)
 * against plain fwrite/fread of the same bytes (also fsync'd), and against bare HDF5 contiguous datasets
 * without checksums, to separate the cost of HDF5 from the cost of Fletcher32 + hashing + metadata. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/presets.h"
#include "ckpt/ckpt.h"
#include "core/err.h"
#include "phases/version.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void plain_write(const char *path, const Model *m) {
    FILE *f = xFopen(path, "wb");
    const ParamStore *ps = &m->ps;
    if (fwrite(ps->data, sizeof(float), ps->n_total, f) != ps->n_total ||
        fwrite(ps->mom, sizeof(float), ps->n_params, f) != ps->n_params || fflush(f) != 0 || fsync(fileno(f)) != 0)
        swap_fail("%s: write failed (%s)", path, strerror(errno));
    fclose(f);
}

static void plain_read(const char *path, Model *m) {
    FILE *f = xFopen(path, "rb");
    ParamStore *ps = &m->ps;
    if (fread(ps->data, sizeof(float), ps->n_total, f) != ps->n_total ||
        fread(ps->mom, sizeof(float), ps->n_params, f) != ps->n_params)
        swap_fail("%s: short read", path);
    fclose(f);
}

/* The same tensors as bare contiguous HDF5 datasets: no chunking, no filter, no attributes, no hash. */
static void h5_write(const char *path, const Model *m) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) swap_fail("%s: cannot create", path);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->ps.n_views; i++) {
            const TensorView *v = &m->ps.views[i];
            if (pass && !v->trainable) continue;
            hsize_t dims[PS_MAX_DIMS];
            for (int k = 0; k < v->ndim; k++) dims[k] = (hsize_t)v->shape[k];
            char name[96];
            snprintf(name, sizeof name, "%s%s", pass ? "m." : "", v->name);
            hid_t s = H5Screate_simple(v->ndim, dims, NULL);
            hid_t d = H5Dcreate2(f, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            const float *src = pass ? m->ps.mom + v->offset : ps_tensor(&m->ps, i);
            if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, src) < 0)
                swap_fail("%s: write failed", path);
            H5Dclose(d);
            H5Sclose(s);
        }
    H5Fflush(f, H5F_SCOPE_GLOBAL);
    H5Fclose(f);
    FILE *fp = xFopen(path, "rb");
    fsync(fileno(fp));
    fclose(fp);
}

static void h5_read(const char *path, Model *m) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) swap_fail("%s: cannot open", path);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->ps.n_views; i++) {
            const TensorView *v = &m->ps.views[i];
            if (pass && !v->trainable) continue;
            char name[96];
            snprintf(name, sizeof name, "%s%s", pass ? "m." : "", v->name);
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
            float *dst = pass ? m->ps.mom + v->offset : ps_tensor(&m->ps, i);
            if (d < 0 || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
                swap_fail("%s: read failed", path);
            H5Dclose(d);
        }
    H5Fclose(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    swap_set_progname(argv[0]);
    int width = 64, reps = 5;
    const char *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--width") && i + 1 < argc) width = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else {
            fprintf(stderr, "usage: swap-ckpt-bench [--width W] [--reps N] [--dir DIR]\n");
            return SWAP_EXIT_USAGE;
        }
    }
    if (reps < 1 || reps > 100) swap_fail("--reps must be in [1, 100]");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ModelSpec spec = {.in_c = 3, .in_h = 32, .in_w = 32, .classes = 10, .width = width};
    Model *m = model_create("resnet9", &spec), *l = model_create("resnet9", &spec);
    model_init(m, 1);
    for (size_t i = 0; i < m->ps.n_params; i++) m->ps.mom[i] = 1e-3f * (float)(i % 977);
    char pc[4096], pp[4096], ph[4096];
    snprintf(pc, sizeof pc, "%s/bench_ckpt.%d.h5", dir, (int)getpid());
    snprintf(pp, sizeof pp, "%s/bench_plain.%d.bin", dir, (int)getpid());
    snprintf(ph, sizeof ph, "%s/bench_h5.%d.h5", dir, (int)getpid());
    double *t[6];
    for (int k = 0; k < 6; k++) t[k] = xCalloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) {
        double a = now();
        plain_write(pp, m);
        double b = now();
        plain_read(pp, l);
        double c = now();
        h5_write(ph, m);
        double d = now();
        h5_read(ph, l);
        double e = now();
        ckpt_save(pc, m, NULL, 1);
        double f = now();
        ckpt_load_into(pc, l, NULL, 1);
        double g = now();
        t[0][r] = b - a, t[1][r] = c - b, t[2][r] = d - c, t[3][r] = e - d, t[4][r] = f - e, t[5][r] = g - f;
    }
    if (memcmp(l->ps.data, m->ps.data, m->ps.n_total * sizeof(float))) swap_fail("round trip differs");
    double mb = (double)(m->ps.n_total + m->ps.n_params) * 4.0 / 1e6;
    double w0 = median(t[0], reps), r0 = median(t[1], reps), w1 = median(t[2], reps), r1 = median(t[3], reps);
    double w2 = median(t[4], reps), r2 = median(t[5], reps);
    printf("resnet9 width %d: %zu params + %zu buffers + momentum = %.1f MB, median of %d\n", width, m->ps.n_params,
           m->ps.n_total - m->ps.n_params, mb, reps);
    printf("%-34s %9s %9s %9s\n", "", "write s", "read s", "w+r s");
    printf("%-34s %9.4f %9.4f %9.4f\n", "plain fwrite/fread (+fsync)", w0, r0, w0 + r0);
    printf("%-34s %9.4f %9.4f %9.4f\n", "HDF5 contiguous, no checksum", w1, r1, w1 + r1);
    printf("%-34s %9.4f %9.4f %9.4f\n", "checkpoint (verified, with meta)", w2, r2, w2 + r2);
    printf("ratio checkpoint/plain: write %.2f read %.2f total %.2f\n", w2 / w0, r2 / r0, (w2 + r2) / (w0 + r0));
    unlink(pc);
    unlink(pp);
    unlink(ph);
    for (int k = 0; k < 6; k++) free(t[k]);
    model_free(m);
    model_free(l);
    return 0;
}
