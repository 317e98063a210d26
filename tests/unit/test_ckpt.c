/* Checkpoints: bit-identical round trip of tensors, momentum and every piece of metadata; strict loading; and
 * each kind of bad file (crafted with the HDF5 API) rejected by a child process with one line naming it. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/presets.h"
#include "ckpt/ckpt.h"
#include "ckpt/h5util.h"
#include "core/err.h"
#include "testlib.h"

static const char *g_dir;

static char *tpath(const char *name) {
    static char bufs[8][4096];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 4096, "%s/%s", g_dir, name);
    return b;
}

static Model *make_model(const char *name, int classes, uint64_t seed) {
    ModelSpec spec = {.in_c = 1, .in_h = 28, .in_w = 28, .classes = classes, .width = 4, .label_smoothing = 0.1f};
    Model *m = model_create(name, &spec);
    model_init(m, seed);
    Rng r;
    rng_seed(&r, seed + 100);
    /* distinct, non-trivial BN statistics and momentum so a mix-up between buffers would show */
    for (size_t i = m->ps.n_params; i < m->ps.n_total; i++) m->ps.data[i] = rng_uniform(&r) + 0.5f;
    for (size_t i = 0; i < m->ps.n_params; i++) m->ps.mom[i] = rng_normal(&r);
    return m;
}

static void fill_meta(CkptMeta *meta) {
    ckpt_meta_init(meta);
    snprintf(meta->phase, sizeof meta->phase, "refine");
    meta->epoch = 3;
    meta->step = 1234;
    meta->samples_seen = 987654321012LL;
    meta->seed = 0xfedcba9876543210ULL;
    meta->worker = 2;
    meta->n_workers = 4;
    meta->world_size = 8;
    snprintf(meta->mpi_version, sizeof meta->mpi_version, "MPICH Version: 4.0.2");
    ckpt_meta_set_config(meta, "return { model = 'cnn' }\n", "model = cnn\nphase1.batch = 256\n");
    snprintf(meta->dataset, sizeof meta->dataset, "fashion-mnist");
    double mean[1] = {0.2860}, std[1] = {0.3530};
    ckpt_meta_set_norm(meta, 1, mean, std);
    meta->cursor_epoch = 4;
    meta->cursor_step = 17;
    ckpt_meta_add_parent(meta, "0123456789abcdef0123456789abcdef", "runs/a/phase1.h5");
    ckpt_meta_add_parent(meta, "ffffffffffffffff0000000000000000", "");
    for (int e = 0; e < 3; e++) {
        EpochRecord r = ckpt_epoch_record(e);
        r.time_s = 1.5 * e;
        r.lr = 0.1 / (e + 1);
        r.train_loss = 2.0 - e * 0.3;
        r.train_acc = 0.5 + 0.1 * e;
        if (e == 2) {
            r.test_loss = 0.4;
            r.test_acc = 0.88;
        }
        ckpt_meta_add_epoch(meta, &r);
    }
    Rng a, b;
    rng_seed(&a, 1);
    rng_seed(&b, 2);
    rng_u64(&b);
    ckpt_meta_put_rng(meta, "shuffle", &a);
    ckpt_meta_put_rng(meta, "augment", &b);
    uint64_t u[3] = {1, UINT64_MAX, 42};
    int64_t i64[2] = {-5, INT64_MIN};
    int32_t i32[4] = {1, -2, 3, INT32_MAX};
    double f64[2] = {M_PI, -0.0};
    float f32[3] = {1.5f, NAN, -INFINITY};
    ckpt_meta_put(meta, "counts", CKPT_U64, u, 3);
    ckpt_meta_put(meta, "offsets", CKPT_I64, i64, 2);
    ckpt_meta_put(meta, "perm", CKPT_I32, i32, 4);
    ckpt_meta_put(meta, "ema", CKPT_F64, f64, 2);
    ckpt_meta_put(meta, "acc.sum", CKPT_F32, f32, 3);
    ckpt_meta_put(meta, "empty", CKPT_U64, NULL, 0);
}

static void check_meta_equal(const CkptMeta *a, const CkptMeta *b) {
    T_CHECK(!strcmp(a->phase, b->phase), "phase %s vs %s", a->phase, b->phase);
    T_CHECK(a->epoch == b->epoch && a->step == b->step && a->samples_seen == b->samples_seen, "counters");
    T_CHECK(a->seed == b->seed, "seed");
    T_CHECK(a->worker == b->worker && a->n_workers == b->n_workers && a->world_size == b->world_size, "workers");
    T_CHECK(!strcmp(a->mpi_version, b->mpi_version), "mpi_version");
    T_CHECK(!strcmp(a->config_source, b->config_source), "config source");
    T_CHECK(!strcmp(a->config_resolved, b->config_resolved), "config resolved");
    T_CHECK(!strcmp(a->dataset, b->dataset), "dataset");
    T_CHECK(a->norm_channels == b->norm_channels && a->norm_mean[0] == b->norm_mean[0] &&
                a->norm_std[0] == b->norm_std[0], "normalization");
    T_CHECK(a->cursor_epoch == b->cursor_epoch && a->cursor_step == b->cursor_step, "cursor");
    T_CHECK(a->n_parents == b->n_parents, "n_parents %d vs %d", a->n_parents, b->n_parents);
    for (int i = 0; i < a->n_parents && i < b->n_parents; i++)
        T_CHECK(!strcmp(a->parents[i].hash, b->parents[i].hash) && !strcmp(a->parents[i].path, b->parents[i].path),
                "parent %d", i);
    T_CHECK(a->n_history == b->n_history, "history length");
    if (a->n_history == b->n_history)
        for (int i = 0; i < a->n_history; i++) {
            const EpochRecord *x = &a->history[i], *y = &b->history[i];
            int same = x->epoch == y->epoch;
            const double *px = &x->time_s, *py = &y->time_s;
            for (int k = 0; k < 6; k++) same &= memcmp(&px[k], &py[k], sizeof(double)) == 0; /* NaN bits too */
            T_CHECK(same, "history row %d differs", i);
        }
    T_CHECK(a->n_rngs == b->n_rngs, "rng count");
    for (int i = 0; i < a->n_rngs; i++) {
        Rng r;
        T_CHECK(ckpt_meta_get_rng(b, a->rngs[i].name, &r) == 0 && !memcmp(r.s, a->rngs[i].s, sizeof r.s),
                "rng %s", a->rngs[i].name);
    }
    T_CHECK(a->n_extra == b->n_extra, "extra count %d vs %d", a->n_extra, b->n_extra);
    for (int i = 0; i < a->n_extra; i++) {
        size_t n = 99;
        const void *d = ckpt_meta_get(b, a->extra[i].name, a->extra[i].kind, &n);
        T_CHECK(d && n == a->extra[i].n && (n == 0 || !memcmp(d, a->extra[i].data, n * (a->extra[i].kind == CKPT_I32 || a->extra[i].kind == CKPT_F32 ? 4 : 8))),
                "extra %s", a->extra[i].name);
    }
}

static int count_temps(void) {
    int n = 0;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '\\.tmp\\.'", g_dir);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

static void test_round_trip(void) {
    Model *m = make_model("cnn", 10, 7);
    CkptMeta meta, back;
    fill_meta(&meta);
    char path[4096];
    snprintf(path, sizeof path, "%s", tpath("rt.h5"));
    ckpt_save(path, m, &meta, 1);
    T_CHECK(count_temps() == 0, "temp file left after save");

    Model *l = ckpt_load_model(path, &back, 1);
    T_CHECK(!strcmp(l->name, "cnn") && l->spec.classes == 10 && l->spec.label_smoothing == 0.1f, "model/spec");
    T_CHECK(l->ps.n_total == m->ps.n_total && !memcmp(l->ps.data, m->ps.data, m->ps.n_total * sizeof(float)),
            "params and buffers not bit-identical");
    T_CHECK(!memcmp(l->ps.mom, m->ps.mom, m->ps.n_params * sizeof(float)), "momentum not bit-identical");
    check_meta_equal(&meta, &back);
    char h[CKPT_HASH_HEX];
    ckpt_content_hash(h, m);
    T_CHECK(!strcmp(h, back.content_hash), "content hash %s vs %s", h, back.content_hash);
    T_CHECK(back.momentum_hash[0] && back.has_momentum, "momentum hash");
    T_CHECK(!strcmp(back.format_version, "1.2"), "format version %s", back.format_version);
    T_CHECK(back.arch && !strcmp(back.arch, m->arch) && !strcmp(l->arch, m->arch), "model_config round trip");
    T_CHECK(strlen(back.created_utc) == 20 && back.created_utc[19] == 'Z', "created_utc %s", back.created_utc);
    T_CHECK(back.hdf5_version[0] && back.git_commit[0] && back.compiler[0] && back.host[0] && back.blas[0],
            "provenance empty");
    T_CHECK(!strcmp(back.model, "cnn") && back.param_count == (int64_t)m->ps.n_params &&
                back.n_tensors == m->ps.n_views, "model attributes");
    char ch[CKPT_HASH_HEX];
    ckpt_hash_bytes(ch, meta.config_resolved, strlen(meta.config_resolved));
    T_CHECK(!strcmp(ch, back.config_hash), "config hash");

    /* into an existing model, without momentum: momentum there stays untouched */
    Model *into = make_model("cnn", 10, 99);
    float mom0 = into->ps.mom[0];
    ckpt_load_into(path, into, NULL, 0);
    T_CHECK(!memcmp(into->ps.data, m->ps.data, m->ps.n_total * sizeof(float)), "load_into data");
    T_CHECK(into->ps.mom[0] == mom0, "load_into without momentum changed momentum");

    /* same weights, different metadata: same content hash (identity is the tensors) */
    CkptMeta other;
    ckpt_meta_init(&other);
    ckpt_save(tpath("rt_nometa.h5"), m, NULL, 0);
    CkptMeta back2;
    T_CHECK(ckpt_try_read_meta(tpath("rt_nometa.h5"), &back2, NULL, 0) == 0, "read meta");
    T_CHECK(!strcmp(back2.content_hash, back.content_hash) && !back2.has_momentum && back2.n_parents == 0 &&
                back2.n_history == 0, "meta-less file");
    char err[1024] = "";
    Model *x = NULL;
    T_CHECK(ckpt_try_load(tpath("rt_nometa.h5"), &x, NULL, 1, 0, NULL, err, sizeof err) < 0 &&
                strstr(err, "no momentum"), "momentum requested from a file without it: %s", err);
    T_CHECK(ckpt_verify(path, err, sizeof err) == 0, "verify good file: %s", err);

    /* overwrite in place: the new content replaces the old one */
    m->ps.data[0] += 1.0f;
    ckpt_save(path, m, &meta, 1);
    CkptMeta back3;
    T_CHECK(ckpt_try_read_meta(path, &back3, err, sizeof err) == 0, "reread");
    ckpt_content_hash(h, m);
    T_CHECK(!strcmp(h, back3.content_hash) && strcmp(h, back.content_hash), "overwrite changed the hash");
    T_CHECK(count_temps() == 0, "temp file left after overwrite");

    ckpt_meta_free(&meta);
    ckpt_meta_free(&back);
    ckpt_meta_free(&back2);
    ckpt_meta_free(&back3);
    ckpt_meta_free(&other);
    model_free(l);
    model_free(into);
    model_free(m);
}

static void test_resnet_round_trip(void) {
    ModelSpec spec = {.in_c = 3, .in_h = 32, .in_w = 32, .classes = 10, .width = 8};
    Model *m = model_create("resnet9", &spec);
    model_init(m, 3);
    ckpt_save(tpath("r9.h5"), m, NULL, 1);
    Model *l = ckpt_load_model(tpath("r9.h5"), NULL, 1);
    T_CHECK(l->spec.width == 8 && !memcmp(l->ps.data, m->ps.data, m->ps.n_total * sizeof(float)), "resnet9 round trip");
    model_free(l);
    model_free(m);
}

static void test_strict(void) {
    Model *m10 = make_model("cnn", 10, 1), *m5 = make_model("cnn", 5, 1), *mlp = make_model("mlp", 10, 1);
    ckpt_save(tpath("c10.h5"), m10, NULL, 0);
    char err[1024] = "";
    T_CHECK(ckpt_try_load(tpath("c10.h5"), &m5, NULL, 0, 0, NULL, err, sizeof err) < 0, "shape mismatch accepted");
    T_CHECK(strstr(err, "c10.h5") && strstr(err, "'fc.weight'") && strstr(err, "[10, 128]") && strstr(err, "[5, 128]"),
            "shape mismatch message: %s", err);
    { /* the same tensors in another network (average instead of max pools) are refused too */
        char *arch = xStrdup(m10->arch), *p;
        while ((p = strstr(arch, "maxpool"))) memcpy(p, "avgpool", 7);
        Model *avg = model_create_json(arch, &m10->spec);
        T_CHECK(ckpt_try_load(tpath("c10.h5"), &avg, NULL, 0, 0, NULL, err, sizeof err) < 0 &&
                    strstr(err, "network (model_config) differs"), "another network with the same tensors: %s", err);
        model_free(avg);
        free(arch);
    }
    T_CHECK(ckpt_try_load(tpath("c10.h5"), &mlp, NULL, 0, 0, NULL, err, sizeof err) < 0 && strstr(err, "'cnn'") &&
                strstr(err, "'mlp'"), "model mismatch message: %s", err);
    model_free(m10);
    model_free(m5);
    model_free(mlp);
}

/* ---- bad files: each is rejected by a child with exit != 0 and exactly one line naming the file ---- */

static void copy_prefix(const char *src, const char *dst, long n) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    xCheck(in && out, "copy");
    for (long i = 0; i < n; i++) {
        int c = fgetc(in);
        if (c == EOF) break;
        fputc(c, out);
    }
    fclose(in);
    fclose(out);
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void expect_rejected(const char *path, const char *want) {
    int fds[2];
    xCheck(pipe(fds) == 0, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    xCheck(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        swap_set_progname("test_ckpt");
        Model *m = ckpt_load_model(path, NULL, 0);
        model_free(m);
        _exit(0);
    }
    close(fds[1]);
    char out[4096] = "";
    size_t used = 0;
    ssize_t k;
    while ((k = read(fds[0], out + used, sizeof out - 1 - used)) > 0) used += (size_t)k;
    out[used] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s: child status %d (want a clean non-zero exit)", path, st);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    T_CHECK(lines == 1, "%s: %d lines of error output: %s", path, lines, out);
    T_CHECK(strstr(out, path) != NULL, "%s: message does not name the file: %s", path, out);
    T_CHECK(!want || strstr(out, want), "%s: message lacks '%s': %s", path, want, out);
    /* the in-process verifier agrees */
    char err[1024];
    T_CHECK(ckpt_verify(path, err, sizeof err) < 0, "%s: ckpt_verify accepted a bad file", path);
    printf("  rejected %-18s %s", strrchr(path, '/') + 1, out);
}

static hid_t open_rw(const char *path) {
    hid_t fapl = h5_fapl_nolock();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    xCheck(f >= 0, "open rw");
    return f;
}

static void replace_dataset(const char *path, const char *dpath, hid_t ftype, int n) {
    hid_t f = open_rw(path);
    xCheck(H5Ldelete(f, dpath, H5P_DEFAULT) >= 0, "delete");
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, dpath, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double *v = calloc((size_t)n, sizeof *v);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
    h5_attr_str(d, "name", "fc.bias");
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

/* Where a tensor lives in the file, e.g. "/model/L012_fc/bias". */
static const char *dpath(const Model *m, const char *name) {
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    const TensorView *v = &m->ps.views[ps_find(&m->ps, name)];
    snprintf(b, 256, "/model/L%03d_%s/%s", v->layer_index, v->layer, v->leaf);
    return b;
}

static void test_bad_files(void) {
    Model *m = make_model("cnn", 10, 5);
    const char *fcw = dpath(m, "fc.weight"), *fcb = dpath(m, "fc.bias");
    char good[4096];
    snprintf(good, sizeof good, "%s", tpath("good.h5"));
    ckpt_save(good, m, NULL, 0);
    long size = file_size(good);

    FILE *t = fopen(tpath("text.h5"), "w");
    fputs("this is not an HDF5 file\n", t);
    fclose(t);
    expect_rejected(tpath("text.h5"), "not an HDF5 file");
    expect_rejected(tpath("absent.h5"), "no such file");

    long cuts[] = {0, 7, 600, size / 3, size / 2, size - 4096, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "trunc_%ld.h5", cuts[i]);
        copy_prefix(good, tpath(name), cuts[i]);
        expect_rejected(tpath(name), NULL);
    }

    /* flip bytes inside the stored fc.weight chunk: HDF5's Fletcher32 catches it */
    {
        char cmd[8300];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, tpath("flip.h5"));
        xCheck(system(cmd) == 0, "cp");
        hid_t fapl = h5_fapl_nolock();
        hid_t f = H5Fopen(tpath("flip.h5"), H5F_ACC_RDONLY, fapl);
        H5Pclose(fapl);
        hid_t d = H5Dopen2(f, fcw, H5P_DEFAULT);
        xCheck(d >= 0, "fc.weight dataset path");
        haddr_t addr = 0;
        hsize_t csize = 0, off[2];
        unsigned mask;
        hid_t sp = H5Dget_space(d);
        xCheck(H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &csize) >= 0, "chunk info");
        H5Sclose(sp);
        H5Dclose(d);
        H5Fclose(f);
        int fd = open(tpath("flip.h5"), O_RDWR);
        unsigned char b[4];
        xCheck(pread(fd, b, 4, (off_t)(addr + csize / 2)) == 4, "pread");
        for (int i = 0; i < 4; i++) b[i] ^= 0x5a;
        xCheck(pwrite(fd, b, 4, (off_t)(addr + csize / 2)) == 4, "pwrite");
        close(fd);
        expect_rejected(tpath("flip.h5"), "fc.weight");
    }

    /* rewrite a tensor through HDF5 (valid checksums): the content hash catches it */
    {
        char cmd[8300];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, tpath("tamper.h5"));
        xCheck(system(cmd) == 0, "cp");
        hid_t f = open_rw(tpath("tamper.h5"));
        hid_t d = H5Dopen2(f, fcb, H5P_DEFAULT);
        float v[10];
        H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        v[3] = nextafterf(v[3], 1.0f);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(d);
        H5Fclose(f);
        expect_rejected(tpath("tamper.h5"), "'fc.bias': checksum mismatch");
        /* ... and with its checksum attribute forged to match, the content hash still catches it */
        f = open_rw(tpath("tamper.h5"));
        d = H5Dopen2(f, fcb, H5P_DEFAULT);
        char sum[CKPT_HASH_HEX];
        ckpt_hash_bytes(sum, v, sizeof v);
        h5_attr_str(d, "xxh3_128", sum);
        H5Dclose(d);
        H5Fclose(f);
        expect_rejected(tpath("tamper.h5"), "content hash mismatch");
    }

    const char *variants[] = {"missing.h5", "shape.h5", "dtype.h5", "future.h5", "foreign.h5", "extra.h5", "spec.h5",
                              "unknown.h5"};
    for (int i = 0; i < 8; i++) {
        char cmd[8300];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, tpath(variants[i]));
        xCheck(system(cmd) == 0, "cp");
    }
    hid_t f = open_rw(tpath("missing.h5"));
    H5Ldelete(f, fcb, H5P_DEFAULT);
    H5Fclose(f);
    expect_rejected(tpath("missing.h5"), "missing tensor 'fc.bias'");

    replace_dataset(tpath("shape.h5"), fcb, H5T_IEEE_F32LE, 11);
    expect_rejected(tpath("shape.h5"), "shape [11] in file, model expects [10]");

    replace_dataset(tpath("dtype.h5"), fcb, H5T_IEEE_F64LE, 10);
    expect_rejected(tpath("dtype.h5"), "dtype float64, expected float32");

    f = open_rw(tpath("future.h5"));
    h5_attr_str(f, "format_version", "2.0");
    H5Fclose(f);
    expect_rejected(tpath("future.h5"), "version 2.0 is not supported");

    f = open_rw(tpath("foreign.h5"));
    H5Adelete(f, "format");
    H5Fclose(f);
    expect_rejected(tpath("foreign.h5"), "not a swap checkpoint");

    /* strict both ways: a tensor the model does not have */
    f = open_rw(tpath("extra.h5"));
    char alias[300];
    snprintf(alias, sizeof alias, "%s2", fcb);
    H5Lcreate_hard(f, fcb, f, alias, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_rejected(tpath("extra.h5"), "stored twice");

    /* a spec that would need more memory than the file can hold is refused before anything is allocated */
    f = open_rw(tpath("spec.h5"));
    hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
    h5_attr_str(g, "model", "resnet9");
    h5_attr_i64(g, "width", 1024);
    h5_attr_i64(g, "in_c", 3);
    h5_attr_i64(g, "in_h", 32);
    h5_attr_i64(g, "in_w", 32);
    H5Adelete(g, "model_config"); /* as a file from before format 1.2: the preset at the stored width */
    H5Gclose(g);
    H5Fclose(f);
    expect_rejected(tpath("spec.h5"), "more than the");
    f = open_rw(tpath("unknown.h5"));
    g = H5Gopen2(f, "/model", H5P_DEFAULT);
    h5_attr_str(g, "model", "transformer");
    H5Adelete(g, "model_config");
    H5Gclose(g);
    H5Fclose(f);
    expect_rejected(tpath("unknown.h5"), "unknown preset 'transformer'");
    /* the stored architecture is checked like an experiment's, and bounded by the file's size */
    const char *bad_arch[][2] = {
        {"{\"name\":\"cnn\",\"layers\":[{\"kind\":\"conv\",\"out\":8,\"k\":29,\"pad\":0}]}", "model.layers[1]: conv: k=29 is larger than the 28x28 input"},
        {"{\"name\":\"cnn\",\"layers\":[{\"kind\":\"flatten\"},{\"kind\":\"linear\",\"out\":1000000},"
         "{\"kind\":\"linear\",\"out\":10}]}", "more than the"},
        {"{\"name\":\"cnn\",\"layers\":[{\"kind\":\"lstm\"}]}", "model.layers[1]: unknown kind 'lstm'"},
        {"not json", "not a JSON object"}};
    for (int i = 0; i < 4; i++) {
        char cmd[8300], nm[32];
        snprintf(nm, sizeof nm, "arch%d.h5", i);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, tpath(nm));
        xCheck(system(cmd) == 0, "cp");
        f = open_rw(tpath(nm));
        g = H5Gopen2(f, "/model", H5P_DEFAULT);
        h5_attr_str(g, "model_config", bad_arch[i][0]);
        H5Gclose(g);
        H5Fclose(f);
        expect_rejected(tpath(nm), bad_arch[i][1]);
    }

    m->ps.data[m->ps.views[0].offset + 5] = NAN;
    ckpt_save(tpath("nan.h5"), m, NULL, 0);
    expect_rejected(tpath("nan.h5"), "tensor 'layer1.conv.weight': 1 NaN/Inf values");
    /* inspection may keep them */
    Model *x = NULL;
    char err[1024];
    T_CHECK(ckpt_try_load(tpath("nan.h5"), &x, NULL, 0, CKPT_LOAD_ALLOW_NONFINITE, NULL, err, sizeof err) == 0 &&
                isnan(x->ps.data[5]), "ALLOW_NONFINITE: %s", err);
    model_free(x);
    model_free(m);
}

static void test_readonly_and_files(void) {
    Model *m = make_model("mlp", 10, 11);
    char p[4096];
    snprintf(p, sizeof p, "%s", tpath("ro.h5"));
    ckpt_save(p, m, NULL, 1);
    chmod(p, 0444);
    struct stat a, b;
    stat(p, &a);
    char err[1024];
    T_CHECK(ckpt_verify(p, err, sizeof err) == 0, "verify read-only: %s", err);
    Model *l = ckpt_load_model(p, NULL, 1);
    model_free(l);
    stat(p, &b);
    T_CHECK(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_size == b.st_size,
            "reading modified the file");

    /* rotation keeps the newest by number, not by name */
    char pat[4200];
    snprintf(pat, sizeof pat, "%s/per_e%%d.h5", g_dir);
    int nums[] = {1, 2, 9, 10, 11};
    for (int i = 0; i < 5; i++) {
        char q[4300];
        snprintf(q, sizeof q, "%s/per_e%d.h5", g_dir, nums[i]);
        FILE *fp = fopen(q, "w");
        fclose(fp);
    }
    T_CHECK(ckpt_rotate(pat, 2) == 3, "rotate removed count");
    T_CHECK(access(tpath("per_e10.h5"), F_OK) == 0 && access(tpath("per_e11.h5"), F_OK) == 0 &&
                access(tpath("per_e9.h5"), F_OK) != 0 && access(tpath("per_e1.h5"), F_OK) != 0, "rotate kept the wrong files");

    /* stale temps of dead writers go, live ones stay */
    char dead[4300], live[4300];
    snprintf(dead, sizeof dead, "%s/.ro.h5.tmp.999999999", g_dir);
    snprintf(live, sizeof live, "%s/.ro.h5.tmp.%d", g_dir, (int)getppid());
    fclose(fopen(dead, "w"));
    fclose(fopen(live, "w"));
    T_CHECK(ckpt_clean_temps(p) == 1 && access(dead, F_OK) != 0 && access(live, F_OK) == 0, "clean temps");
    unlink(live);

    /* a save that cannot happen fails cleanly, naming the path */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        ckpt_save("/nonexistent-dir/x.h5", m, NULL, 0);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "save into a missing directory: status %d", st);
    model_free(m);
}

int main(void) {
    g_dir = t_tmpdir("test_ckpt");
    test_round_trip();
    test_resnet_round_trip();
    test_strict();
    test_bad_files();
    test_readonly_and_files();
    return t_exit("test_ckpt");
}
