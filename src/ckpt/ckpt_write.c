/* Checkpoint writer: builds the whole file under a temp name and publishes it with an atomic rename. */
#include <cblas.h>
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/machine.h"
#include "build_info.h"
#include "ckpt/ckpt_internal.h"
#include "ckpt/h5util.h"

#define CKPT_FLETCHER_MAX_BYTES (256u << 10)

typedef struct {
    const char *path, *tmp;
    const char *what;       /* step that failed, for the one-line error */
    CkptDigest *dig, *mdig; /* per view: data and momentum digests, for the content hashes */
} Writer;

#define W(expr, step)                         \
    do {                                      \
        if ((expr) < 0) {                     \
            w->what = (step);                 \
            return -1;                        \
        }                                     \
    } while (0)

static hid_t type_of(CkptKind kind, int file) {
    switch (kind) {
    case CKPT_U64: return file ? H5T_STD_U64LE : H5T_NATIVE_UINT64;
    case CKPT_I64: return file ? H5T_STD_I64LE : H5T_NATIVE_INT64;
    case CKPT_I32: return file ? H5T_STD_I32LE : H5T_NATIVE_INT32;
    case CKPT_F64: return file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    case CKPT_F32: return file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT;
    }
    return -1;
}

/* Links and attributes stay in the (checksummed) object headers instead of moving to dense storage (fractal
 * heaps, B-trees) past 8 entries: corruption is then caught by HDF5's metadata checksums, and HDF5 1.10's
 * dense-storage readers crash on some corrupt inputs (found by tests/fuzz/fuzz_ckpt_load.c). */
static void compact_storage(hid_t ocpl) {
    H5Pset_attr_phase_change(ocpl, 65535, 65535);
    if (H5Pisa_class(ocpl, H5P_GROUP_CREATE) > 0) H5Pset_link_phase_change(ocpl, 65535, 65535);
}

static hid_t mkgroup(hid_t loc, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    compact_storage(gcpl);
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

static int write_array(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims,
                       const void *data, int checksum) {
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    compact_storage(dcpl);
    hsize_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    /* Fletcher32 needs a chunked layout (one chunk per dataset here) and HDF5's implementation runs at a few
     * hundred MB/s, which alone tripled checkpoint time for resnet9 (docs/checkpoint-format.md). So it guards
     * small datasets, where it costs nothing and lets any HDF5 reader detect corruption; every tensor also
     * carries an XXH3-128 checksum attribute that our reader verifies. */
    if (checksum && n > 0 && n * H5Tget_size(ftype) <= CKPT_FLETCHER_MAX_BYTES) {
        H5Pset_chunk(dcpl, ndim, dims);
        H5Pset_fletcher32(dcpl);
    }
    hid_t d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        rc = (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0 : -1;
        if (H5Dclose(d) < 0) rc = -1;
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

static hid_t ensure_group(hid_t f, const char *path) {
    if (H5Lexists(f, path, H5P_DEFAULT) > 0) return H5Gopen2(f, path, H5P_DEFAULT);
    return mkgroup(f, path);
}

/* One tensor per dataset, grouped by layer: /<root>/L%03d_<layer>/<leaf>, self-describing attributes. */
static int write_tensor(Writer *w, hid_t f, const char *root, const TensorView *v, const float *data,
                        CkptDigest *dig) {
    char gpath[256];
    ckpt_group_path(gpath, sizeof gpath, root, v);
    hid_t g = ensure_group(f, gpath);
    W(g, "layer group");
    hsize_t dims[PS_MAX_DIMS];
    for (int i = 0; i < v->ndim; i++) dims[i] = (hsize_t)v->shape[i];
    int rc = write_array(g, v->leaf, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v->ndim, dims, data, 1);
    if (rc == 0) {
        hid_t d = H5Dopen2(g, v->leaf, H5P_DEFAULT);
        rc = d < 0 ? -1 : 0;
        if (rc == 0) {
            rc |= h5_attr_str(d, "name", v->name);
            rc |= h5_attr_str(d, "layer_type", v->layer_type);
            rc |= h5_attr_str(d, "layout", v->layout);
            rc |= h5_attr_i64(d, "trainable", v->trainable);
            rc |= h5_attr_i64(d, "layer_index", v->layer_index);
            char sum[CKPT_HASH_HEX];
            *dig = ckpt_digest(data, v->numel * sizeof(float));
            ckpt_digest_hex(sum, *dig);
            rc |= h5_attr_str(d, "xxh3_128", sum);
            H5Dclose(d);
        }
    }
    if (rc == 0 && H5Aexists(g, "layer") <= 0) {
        rc |= h5_attr_str(g, "layer", v->layer);
        rc |= h5_attr_str(g, "layer_type", v->layer_type);
    }
    H5Gclose(g);
    W(rc, v->name);
    return 0;
}

static int write_model(Writer *w, hid_t f, const Model *m, const CkptMeta *meta) {
    const ParamStore *ps = &m->ps;
    hid_t g = mkgroup(f, "/model");
    W(g, "/model");
    const char **lnames = xMalloc((size_t)(m->n_layers + 1) * sizeof *lnames);
    const char **tnames = xMalloc((size_t)(ps->n_views + 1) * sizeof *tnames);
    for (int i = 0; i < m->n_layers; i++) lnames[i] = m->layers[i].name;
    for (int i = 0; i < ps->n_views; i++) tnames[i] = ps->views[i].name;
    int rc = 0;
    rc |= h5_attr_str(g, "model", m->name);
    /* the architecture, readable without our code (Keras keeps its model_config the same way) */
    rc |= h5_attr_str(g, "model_config", m->arch);
    rc |= h5_attr_i64(g, "width", m->spec.width);
    rc |= h5_attr_i64(g, "in_c", m->spec.in_c);
    rc |= h5_attr_i64(g, "in_h", m->spec.in_h);
    rc |= h5_attr_i64(g, "in_w", m->spec.in_w);
    rc |= h5_attr_i64(g, "classes", m->spec.classes);
    rc |= h5_attr_f64(g, "label_smoothing", m->spec.label_smoothing);
    rc |= h5_attr_i64(g, "param_count", (int64_t)ps->n_params);
    rc |= h5_attr_i64(g, "buffer_count", (int64_t)(ps->n_total - ps->n_params));
    rc |= h5_attr_strs(g, "layer_names", lnames, (size_t)m->n_layers);
    rc |= h5_attr_strs(g, "tensor_names", tnames, (size_t)ps->n_views);
    rc |= h5_attr_str(g, "dataset", meta->dataset);
    if (meta->data_file[0]) rc |= h5_attr_str(g, "data_file", meta->data_file);
    if (meta->data_hash[0]) rc |= h5_attr_str(g, "data_hash", meta->data_hash);
    if (meta->class_names) /* the data file's /classes, so tables and exports name classes without it */
        rc |= h5_attr_strs(g, "class_names", (const char *const *)meta->class_names, (size_t)meta->n_class_names);
    rc |= h5_attr_f64s(g, "norm_mean", meta->norm_mean, (size_t)meta->norm_channels);
    rc |= h5_attr_f64s(g, "norm_std", meta->norm_std, (size_t)meta->norm_channels);
    free(lnames);
    free(tnames);
    H5Gclose(g);
    W(rc, "/model attributes");
    for (int i = 0; i < ps->n_views; i++)
        if (write_tensor(w, f, "/model", &ps->views[i], ps_tensor(ps, i), &w->dig[i]) < 0) return -1;
    return 0;
}

static int write_momentum(Writer *w, hid_t f, const Model *m) {
    const ParamStore *ps = &m->ps;
    hid_t g = mkgroup(f, "/optimizer");
    W(g, "/optimizer");
    int rc = h5_attr_str(g, "kind", "sgd");
    H5Gclose(g);
    W(rc, "/optimizer attributes");
    g = mkgroup(f, "/optimizer/momentum");
    W(g, "/optimizer/momentum");
    H5Gclose(g);
    for (int i = 0; i < ps->n_views; i++) {
        const TensorView *v = &ps->views[i];
        if (v->trainable && write_tensor(w, f, "/optimizer/momentum", v, ps->mom + v->offset, &w->mdig[i]) < 0)
            return -1;
    }
    return 0;
}

static int write_state(Writer *w, hid_t f, const CkptMeta *meta) {
    hid_t g = mkgroup(f, "/state");
    W(g, "/state");
    int rc = h5_attr_i64(g, "cursor_epoch", meta->cursor_epoch);
    rc |= h5_attr_i64(g, "cursor_step", meta->cursor_step);
    hid_t r = mkgroup(g, "rng");
    hid_t e = mkgroup(g, "extra");
    if (r < 0 || e < 0) rc = -1;
    hsize_t four = 4;
    for (int i = 0; i < meta->n_rngs && rc == 0; i++)
        rc = write_array(r, meta->rngs[i].name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, &four, meta->rngs[i].s, 1);
    for (int i = 0; i < meta->n_extra && rc == 0; i++) {
        const CkptExtra *x = &meta->extra[i];
        hsize_t n = x->n;
        rc = write_array(e, x->name, type_of(x->kind, 1), type_of(x->kind, 0), 1, &n, x->data, 1);
    }
    if (r >= 0) H5Gclose(r);
    if (e >= 0) H5Gclose(e);
    H5Gclose(g);
    W(rc, "/state");
    return 0;
}

static int write_history(Writer *w, hid_t f, const CkptMeta *meta) {
    hid_t g = mkgroup(f, "/metrics");
    W(g, "/metrics");
    const char *names[9] = {"epoch",     "time_s",    "lr",       "train_loss", "train_acc",
                            "test_loss", "test_acc", "val_loss", "val_acc"};
    size_t offsets[9] = {offsetof(EpochRecord, epoch),      offsetof(EpochRecord, time_s),
                         offsetof(EpochRecord, lr),         offsetof(EpochRecord, train_loss),
                         offsetof(EpochRecord, train_acc),  offsetof(EpochRecord, test_loss),
                         offsetof(EpochRecord, test_acc),   offsetof(EpochRecord, val_loss),
                         offsetof(EpochRecord, val_acc)};
    hid_t types[9] = {H5T_STD_I32LE,  H5T_IEEE_F64LE, H5T_IEEE_F64LE, H5T_IEEE_F64LE, H5T_IEEE_F64LE,
                      H5T_IEEE_F64LE, H5T_IEEE_F64LE, H5T_IEEE_F64LE, H5T_IEEE_F64LE};
    EpochRecord dummy = ckpt_epoch_record(0);
    const EpochRecord *rows = meta->n_history ? meta->history : &dummy;
    herr_t rc = H5TBmake_table("per-epoch metrics", g, "history", 9, (hsize_t)meta->n_history, sizeof(EpochRecord),
                               names, offsets, types, 64, NULL, 0, rows);
    H5Gclose(g);
    W(rc, "/metrics/history");
    return 0;
}

static void env_or_empty(char *buf, size_t n, const char *name) {
    const char *v = getenv(name);
    snprintf(buf, n, "%s", v ? v : "");
}

/* Content hash of the tensors (from their digests); of the trainable ones' momentum when momentum is true. */
static void tensors_hash(const Writer *w, const Model *m, int momentum, char *out) {
    CkptHasher *h = ckpt_hasher_new();
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        if (!momentum) ckpt_hasher_tensor(h, v->name, v->ndim, v->shape, w->dig[i]);
        else if (v->trainable) ckpt_hasher_tensor(h, v->name, v->ndim, v->shape, w->mdig[i]);
    }
    ckpt_hasher_done(h, out);
}

/* What the file is: format, phase and progress, identity hashes, lineage. */
static int write_identity(hid_t r, const Writer *w, const Model *m, const CkptMeta *meta, const char *chash,
                          int with_momentum) {
    char created[32], fmt_version[16], hash[CKPT_HASH_HEX];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(fmt_version, sizeof fmt_version, "%d.%d", CKPT_FORMAT_MAJOR, CKPT_FORMAT_MINOR);
    tensors_hash(w, m, 0, hash);
    int rc = 0;
    rc |= h5_attr_str(r, "format", CKPT_FORMAT_NAME);
    rc |= h5_attr_str(r, "format_version", fmt_version);
    rc |= h5_attr_str(r, "created_utc", created);
    rc |= h5_attr_str(r, "phase", meta->phase);
    rc |= h5_attr_i64(r, "epoch", meta->epoch);
    rc |= h5_attr_i64(r, "step", meta->step);
    rc |= h5_attr_i64(r, "samples_seen", meta->samples_seen);
    rc |= h5_attr_u64(r, "seed", meta->seed);
    rc |= h5_attr_i64(r, "worker", meta->worker);
    rc |= h5_attr_i64(r, "n_workers", meta->n_workers);
    rc |= h5_attr_i64(r, "world_size", meta->world_size);
    rc |= h5_attr_i64(r, "val_split", meta->val_split);
    rc |= h5_attr_i64(r, "val_seed", meta->val_seed);
    rc |= h5_attr_str(r, "val_hash", meta->val_hash);
    if (meta->soup[0]) {
        rc |= h5_attr_str(r, "soup", meta->soup);
        rc |= h5_attr_i64s(r, "soup_members", meta->soup_members, (size_t)meta->n_soup_members);
    }
    rc |= h5_attr_str(r, "content_hash", hash);
    rc |= h5_attr_str(r, "config_hash", chash);
    if (with_momentum) {
        char mhash[CKPT_HASH_HEX];
        tensors_hash(w, m, 1, mhash);
        rc |= h5_attr_str(r, "momentum_hash", mhash);
    }
    const char *ph[CKPT_MAX_PARENTS], *pp[CKPT_MAX_PARENTS];
    for (int i = 0; i < meta->n_parents; i++) {
        ph[i] = meta->parents[i].hash;
        pp[i] = meta->parents[i].path ? meta->parents[i].path : "";
    }
    rc |= h5_attr_strs(r, "parents", ph, (size_t)meta->n_parents);
    rc |= h5_attr_strs(r, "parent_paths", pp, (size_t)meta->n_parents);
    return rc;
}

/* Where and how it was made: build, libraries, host, Slurm job. */
static int write_provenance(hid_t r, const CkptMeta *meta) {
    char host[256] = "", cpu[256], ver[32], sj[32], saj[32], sat[32];
    gethostname(host, sizeof host - 1);
    machine_cpu(cpu, sizeof cpu);
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(ver, sizeof ver, "%u.%u.%u", maj, min, rel);
    env_or_empty(sj, sizeof sj, "SLURM_JOB_ID");
    env_or_empty(saj, sizeof saj, "SLURM_ARRAY_JOB_ID");
    env_or_empty(sat, sizeof sat, "SLURM_ARRAY_TASK_ID");
    const char *blas = openblas_get_config();
    int rc = 0;
    rc |= h5_attr_str(r, "git_commit", SWAP_GIT_COMMIT);
    rc |= h5_attr_i64(r, "git_dirty", SWAP_GIT_DIRTY);
    rc |= h5_attr_str(r, "compiler", SWAP_COMPILER);
    rc |= h5_attr_str(r, "cflags", SWAP_CFLAGS);
    rc |= h5_attr_str(r, "build_type", SWAP_BUILD_TYPE);
    rc |= h5_attr_str(r, "blas", blas ? blas : "");
    rc |= h5_attr_str(r, "hdf5_version", ver);
    rc |= h5_attr_str(r, "mpi_version", meta->mpi_version);
    rc |= h5_attr_str(r, "conv", meta->conv);
    rc |= h5_attr_str(r, "precision", meta->precision[0] ? meta->precision : "fp32");
    rc |= h5_attr_str(r, "host", host);
    rc |= h5_attr_str(r, "cpu", cpu);
    rc |= h5_attr_str(r, "slurm_job_id", sj);
    rc |= h5_attr_str(r, "slurm_array_job_id", saj);
    rc |= h5_attr_str(r, "slurm_array_task_id", sat);
    return rc;
}

static int write_root(Writer *w, hid_t f, const Model *m, const CkptMeta *meta, int with_momentum) {
    char chash[CKPT_HASH_HEX];
    const char *resolved = meta->config_resolved ? meta->config_resolved : "";
    ckpt_hash_bytes(chash, resolved, strlen(resolved));
    hid_t r = H5Gopen2(f, "/", H5P_DEFAULT);
    W(r, "root group");
    int rc = write_identity(r, w, m, meta, chash, with_momentum);
    rc |= write_provenance(r, meta);
    H5Gclose(r);
    W(rc, "root attributes");

    hid_t g = mkgroup(f, "/config");
    W(g, "/config");
    rc = h5_dataset_str(g, "source", meta->config_source);
    rc |= h5_dataset_str(g, "resolved", resolved);
    H5Gclose(g);
    W(rc, "/config");
    return 0;
}

static void check_meta(const char *path, const CkptMeta *meta) {
    if (meta->n_parents < 0 || meta->n_parents > CKPT_MAX_PARENTS)
        swap_fail("%s: checkpoint meta has %d parents (0..%d)", path, meta->n_parents, CKPT_MAX_PARENTS);
    if (meta->norm_channels < 0 || meta->norm_channels > 4)
        swap_fail("%s: checkpoint meta has %d normalization channels (0..4)", path, meta->norm_channels);
    for (int i = 0; i < meta->n_parents; i++)
        if (!ckpt_is_hash(meta->parents[i].hash))
            swap_fail("%s: parent %d hash '%s' is not 32 hex digits", path, i, meta->parents[i].hash);
    for (int i = 0; i < meta->n_rngs; i++)
        if (!ckpt_valid_name(meta->rngs[i].name)) swap_fail("%s: invalid RNG name '%s'", path, meta->rngs[i].name);
    for (int i = 0; i < meta->n_extra; i++)
        if (!ckpt_valid_name(meta->extra[i].name) || !ckpt_kind_size(meta->extra[i].kind))
            swap_fail("%s: invalid state entry '%s'", path, meta->extra[i].name);
}

static int write_all(Writer *w, hid_t f, const Model *m, const CkptMeta *meta, int with_momentum) {
    /* tensors first: the root attributes carry hashes built from their digests */
    if (write_model(w, f, m, meta) < 0) return -1;
    if (with_momentum && write_momentum(w, f, m) < 0) return -1;
    if (write_root(w, f, m, meta, with_momentum) < 0) return -1;
    if (write_state(w, f, meta) < 0 || write_history(w, f, meta) < 0) return -1;
    return 0;
}

void ckpt_save(const char *path_in, const Model *m, const CkptMeta *meta_in, int with_momentum) {
    h5_quiet();
    char target[4096];
    const char *path = output_target(path_in, target, sizeof target); /* a linked output is written through */
    CkptMeta empty;
    ckpt_meta_init(&empty);
    const CkptMeta *meta = meta_in ? meta_in : &empty;
    check_meta(path, meta);
    char tmp[4096];
    ckpt_temp_path(tmp, sizeof tmp, path);
    Writer wr = {.path = path, .tmp = tmp, .what = ""}, *w = &wr;
    w->dig = xCalloc((size_t)m->ps.n_views + 1, sizeof *w->dig);
    w->mdig = xCalloc((size_t)m->ps.n_views + 1, sizeof *w->mdig);

    hid_t fapl = h5_fapl_nolock();
    /* 1.8 object headers: attributes beyond 64 KiB (long tensor-name lists) and readable by HDF5 >= 1.8 */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    compact_storage(fcpl);
    errno = 0;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    const int create_errno = errno;
    H5Pclose(fcpl);
    char msg[512] = "";
    if (f < 0) snprintf(msg, sizeof msg, "%s", h5_last_error()); /* before any other call clears the stack */
    H5Pclose(fapl);
    if (f < 0) {
        unlink(tmp); /* HDF5 may have created it before failing to write its superblock */
        free(w->dig);
        free(w->mdig);
        swap_fail("%s: cannot create checkpoint temp file %s (%s)", path, tmp,
                  msg[0] ? msg : create_errno ? strerror(create_errno) : "HDF5 error");
    }
    int rc = write_all(w, f, m, meta, with_momentum);
    if (rc == 0 && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
        rc = -1;
        w->what = "flush";
    }
    if (H5Fclose(f) < 0 && rc == 0) {
        rc = -1;
        w->what = "close";
    }
    free(w->dig);
    free(w->mdig);
    if (rc < 0) {
        const char *msg = h5_last_error();
        unlink(tmp);
        swap_fail("%s: cannot write checkpoint (%s: %s)", path, w->what, msg[0] ? msg : "HDF5 error");
    }
    if (ckpt_publish(tmp, path) < 0) swap_fail("%s: cannot publish checkpoint (%s)", path, strerror(errno));
}
