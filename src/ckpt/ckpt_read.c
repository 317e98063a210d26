/* Checkpoint reader. Every file is untrusted input: each attribute and dataset is checked for presence, type,
 * extent and size before use, errors become one line naming the file (and the tensor), and nothing here
 * writes: files are opened read-only with HDF5 file locking off. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/presets.h"
#include "core/err.h"
#include "ckpt/ckpt_internal.h"
#include "ckpt/h5util.h"

#define MAX_TEXT (64u << 20)     /* config texts */
#define MAX_LINKS 100000         /* children of one group */
#define MAX_HISTORY 1000000      /* epochs */
#define MAX_NAMES 100000         /* layer / tensor names */

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    long long file_size;
    const void *image; /* a file image in memory instead of path (fuzzing) */
    size_t image_size;
    int unreadable; /* failed for a reason other than damage (locked, no permission): CKPT_UNREADABLE */
} Rd;

__attribute__((format(printf, 2, 3))) static int rfail(Rd *r, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->err && r->errlen) snprintf(r->err, r->errlen, "%s: %s", r->path, msg);
    H5Eclear2(H5E_DEFAULT);
    return -1;
}

static hid_t open_image(Rd *r) {
    r->file_size = (long long)r->image_size;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    H5Pset_fapl_core(fapl, 1 << 16, 0);
    hid_t f = -1;
    if (H5Pset_file_image(fapl, (void *)(uintptr_t)r->image, r->image_size) >= 0)
        f = H5Fopen(r->path, H5F_ACC_RDONLY, fapl);
    char msg[512] = "";
    if (f < 0) snprintf(msg, sizeof msg, "%s", h5_last_error());
    H5Pclose(fapl);
    if (f < 0) return rfail(r, "cannot open file image (%s)", msg);
    return f;
}

static hid_t open_file(Rd *r) {
    if (r->image) return open_image(r);
    struct stat st;
    if (stat(r->path, &st) < 0) return rfail(r, "cannot open (no such file or not readable)");
    if (!S_ISREG(st.st_mode)) return rfail(r, "not a regular file");
    r->file_size = (long long)st.st_size;
    int fd = open(r->path, O_RDONLY);
    if (fd < 0) {
        r->unreadable = 1;
        return rfail(r, "cannot open (%s)", strerror(errno));
    }
    close(fd);
    hid_t fapl = h5_fapl_nolock();
    /* closing the file closes every object still open in it, so error paths need no bookkeeping */
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fopen(r->path, H5F_ACC_RDONLY, fapl);
    char msg[512] = "";
    if (f < 0) snprintf(msg, sizeof msg, "%s", h5_last_error()); /* before any other call clears the stack */
    const int locked = f < 0 && h5_last_error_locked();
    H5Pclose(fapl);
    if (locked) { /* our reads ask for no lock; the variable overrides that */
        const char *v = getenv("HDF5_USE_FILE_LOCKING");
        r->unreadable = 1;
        return rfail(r, "locked by another process that has it open for writing (HDF5_USE_FILE_LOCKING=%s makes HDF5 "
                        "honour file locks; wait for that writer, or unset the variable)", v ? v : "");
    }
    if (f < 0) {
        htri_t is = H5Fis_hdf5(r->path);
        H5Eclear2(H5E_DEFAULT);
        if (is <= 0) return rfail(r, "not an HDF5 file");
        return rfail(r, "damaged HDF5 file (%s)", msg[0] ? msg : "cannot open");
    }
    return f;
}

/* ---------------------------------------------------------------- metadata */

static int get_int(Rd *r, hid_t loc, const char *where, const char *name, int64_t lo, int64_t hi, int64_t *out,
                   int required) {
    int64_t v = 0;
    int rc = h5_get_i64(loc, name, &v);
    if (rc == 1) {
        if (required) return rfail(r, "%s: attribute '%s' is missing", where, name);
        return 0;
    }
    if (rc < 0) return rfail(r, "%s: attribute '%s' is not an integer", where, name);
    if (v < lo || v > hi) return rfail(r, "%s: attribute '%s' = %lld is out of range", where, name, (long long)v);
    *out = v;
    return 0;
}

static int get_str(Rd *r, hid_t loc, const char *where, const char *name, char *buf, size_t cap, int required) {
    char *s = NULL;
    int rc = h5_get_str_alloc(loc, name, 1 << 20, &s);
    if (rc == 1) {
        buf[0] = 0;
        return required ? rfail(r, "%s: attribute '%s' is missing", where, name) : 0;
    }
    if (rc < 0) return rfail(r, "%s: attribute '%s' is not a string", where, name);
    size_t n = strlen(s);
    int too_long = n >= cap;
    if (!too_long) memcpy(buf, s, n + 1);
    free(s);
    if (too_long) return rfail(r, "%s: attribute '%s' is too long (%zu bytes)", where, name, n);
    return 0;
}

static int read_format(Rd *r, hid_t root, CkptMeta *m) {
    char fmt[64];
    if (get_str(r, root, "/", "format", fmt, sizeof fmt, 0) < 0) return -1;
    if (strcmp(fmt, CKPT_FORMAT_NAME))
        return rfail(r, "not a swap checkpoint (root attribute format is '%s', expected '%s')", fmt,
                     CKPT_FORMAT_NAME);
    if (get_str(r, root, "/", "format_version", m->format_version, sizeof m->format_version, 1) < 0) return -1;
    int major = -1, minor = -1, used = 0;
    if (sscanf(m->format_version, "%d.%d%n", &major, &minor, &used) != 2 || m->format_version[used] || major < 0 ||
        minor < 0)
        return rfail(r, "format_version '%s' is not MAJOR.MINOR", m->format_version);
    if (major != CKPT_FORMAT_MAJOR)
        return rfail(r, "checkpoint format version %s is not supported (this build reads %d.x)", m->format_version,
                     CKPT_FORMAT_MAJOR);
    return 0;
}

/* Phase and progress: epoch, step, samples, seed, worker and world. */
static int read_progress(Rd *r, hid_t root, CkptMeta *m) {
    int64_t v;
    const int64_t BIG = INT64_MAX;
    if (get_str(r, root, "/", "phase", m->phase, sizeof m->phase, 1) < 0) return -1;
    if (get_int(r, root, "/", "epoch", -1, BIG, &m->epoch, 1) < 0) return -1;
    if (get_int(r, root, "/", "step", -1, BIG, &m->step, 1) < 0) return -1;
    if (get_int(r, root, "/", "samples_seen", -1, BIG, &m->samples_seen, 1) < 0) return -1;
    if (h5_get_u64(root, "seed", &m->seed) < 0) return rfail(r, "/: attribute 'seed' is not an integer");
    v = 0;
    if (get_int(r, root, "/", "worker", -1, 1 << 24, &v, 1) < 0) return -1;
    m->worker = (int)v;
    v = 1;
    if (get_int(r, root, "/", "n_workers", 0, 1 << 24, &v, 1) < 0) return -1;
    m->n_workers = (int)v;
    v = 1;
    if (get_int(r, root, "/", "world_size", 0, 1 << 24, &v, 1) < 0) return -1;
    m->world_size = (int)v;
    return 0;
}

/* The validation split (absent in files written before it existed: none) and a soup's members. */
static int read_split_and_soup(Rd *r, hid_t root, CkptMeta *m) {
    const int64_t BIG = INT64_MAX;
    if (get_int(r, root, "/", "val_split", 0, INT32_MAX, &m->val_split, 0) < 0) return -1;
    if (get_int(r, root, "/", "val_seed", 0, BIG, &m->val_seed, 0) < 0) return -1;
    if (get_str(r, root, "/", "val_hash", m->val_hash, sizeof m->val_hash, 0) < 0) return -1;
    if (m->val_hash[0] && !ckpt_is_hash(m->val_hash)) return rfail(r, "val_hash '%s' is not 32 hex digits", m->val_hash);
    if (get_str(r, root, "/", "soup", m->soup, sizeof m->soup, 0) < 0) return -1;
    if (m->soup[0]) {
        enum { MAX_MEMBERS = 1 << 16 };
        int64_t *mem = xMalloc(MAX_MEMBERS * sizeof *mem);
        size_t n = 0;
        int rc = h5_get_i64s(root, "soup_members", mem, MAX_MEMBERS, &n);
        if (rc == 0) ckpt_meta_set_soup(m, m->soup, mem, (int)n);
        free(mem);
        if (rc != 0) return rfail(r, "attribute 'soup_members' is missing or not a list of at most %d integers", MAX_MEMBERS);
    }
    return 0;
}

/* Identity hashes and provenance (build, libraries, host, Slurm job). */
static int read_provenance(Rd *r, hid_t root, CkptMeta *m) {
    int64_t v;
    if (get_str(r, root, "/", "content_hash", m->content_hash, sizeof m->content_hash, 1) < 0) return -1;
    if (!ckpt_is_hash(m->content_hash)) return rfail(r, "content_hash '%s' is not 32 hex digits", m->content_hash);
    if (get_str(r, root, "/", "momentum_hash", m->momentum_hash, sizeof m->momentum_hash, 0) < 0) return -1;
    if (get_str(r, root, "/", "config_hash", m->config_hash, sizeof m->config_hash, 0) < 0) return -1;
    if (get_str(r, root, "/", "created_utc", m->created_utc, sizeof m->created_utc, 0) < 0) return -1;
    if (get_str(r, root, "/", "git_commit", m->git_commit, sizeof m->git_commit, 0) < 0) return -1;
    v = 0;
    if (get_int(r, root, "/", "git_dirty", 0, 1, &v, 0) < 0) return -1;
    m->git_dirty = (int)v;
    struct {
        const char *name;
        char *buf;
        size_t cap;
    } strs[] = {{"compiler", m->compiler, sizeof m->compiler},
                {"cflags", m->cflags, sizeof m->cflags},
                {"build_type", m->build_type, sizeof m->build_type},
                {"blas", m->blas, sizeof m->blas},
                {"hdf5_version", m->hdf5_version, sizeof m->hdf5_version},
                {"mpi_version", m->mpi_version, sizeof m->mpi_version},
                {"conv", m->conv, sizeof m->conv},
                {"host", m->host, sizeof m->host},
                {"cpu", m->cpu, sizeof m->cpu},
                {"slurm_job_id", m->slurm_job_id, sizeof m->slurm_job_id},
                {"slurm_array_job_id", m->slurm_array_job_id, sizeof m->slurm_array_job_id},
                {"slurm_array_task_id", m->slurm_array_task_id, sizeof m->slurm_array_task_id}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (get_str(r, root, "/", strs[i].name, strs[i].buf, strs[i].cap, 0) < 0) return -1;
    /* files from before 2026-12-05 have no precision: everything then ran in fp32 */
    if (get_str(r, root, "/", "precision", m->precision, sizeof m->precision, 0) < 0) return -1;
    if (!m->precision[0]) snprintf(m->precision, sizeof m->precision, "fp32");
    if (strcmp(m->precision, "fp32") && strcmp(m->precision, "bf16"))
        return rfail(r, "attribute 'precision' is '%s', expected fp32 or bf16", m->precision);

    return 0;
}

static int read_parents(Rd *r, hid_t root, CkptMeta *m) {
    char **hashes = NULL, **paths = NULL;
    size_t nh = 0, np = 0;
    int rc = h5_get_strs(root, "parents", CKPT_MAX_PARENTS, &hashes, &nh);
    if (rc < 0) return rfail(r, "attribute 'parents' is not a list of at most %d strings", CKPT_MAX_PARENTS);
    if (rc == 0) {
        int rp = h5_get_strs(root, "parent_paths", CKPT_MAX_PARENTS, &paths, &np);
        if (rp < 0) {
            h5_free_strs(hashes);
            return rfail(r, "attribute 'parent_paths' is not a list of strings");
        }
        for (size_t i = 0; i < nh; i++) {
            if (!ckpt_is_hash(hashes[i])) {
                rfail(r, "parent %zu hash '%.40s' is not 32 hex digits", i, hashes[i]);
                h5_free_strs(hashes);
                h5_free_strs(paths);
                return -1;
            }
            snprintf(m->parents[i].hash, sizeof m->parents[i].hash, "%s", hashes[i]);
            m->parents[i].path = xStrdup(i < np ? paths[i] : "");
            m->n_parents = (int)i + 1;
        }
        h5_free_strs(hashes);
        h5_free_strs(paths);
    }
    return 0;
}

static int read_root(Rd *r, hid_t f, CkptMeta *m) {
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0) return rfail(r, "cannot open the root group (%s)", h5_last_error());
    if (read_format(r, root, m) < 0 || read_progress(r, root, m) < 0 || read_split_and_soup(r, root, m) < 0 ||
        read_provenance(r, root, m) < 0)
        return -1;
    return read_parents(r, root, m);
}

static int read_config(Rd *r, hid_t f, CkptMeta *m) {
    const char *names[2] = {"/config/source", "/config/resolved"};
    char **dst[2] = {&m->config_source, &m->config_resolved};
    for (int i = 0; i < 2; i++) {
        int rc = h5_read_dataset_str(f, names[i], MAX_TEXT, dst[i]);
        if (rc < 0) return rfail(r, "%s: not a readable text dataset (%s)", names[i], h5_last_error());
        if (rc == 1) *dst[i] = xStrdup("");
    }
    return 0;
}

static int read_model_attrs(Rd *r, hid_t f, CkptMeta *m) {
    if (H5Lexists(f, "/model", H5P_DEFAULT) <= 0) return rfail(r, "group /model is missing");
    hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
    if (g < 0) return rfail(r, "/model is not a group");
    if (get_str(r, g, "/model", "model", m->model, sizeof m->model, 1) < 0) return -1;
    char *arch = NULL;
    const int arc = h5_get_str_alloc(g, "model_config", 1 << 20, &arch);
    if (arc < 0) return rfail(r, "/model: attribute 'model_config' is not a string");
    m->arch = arch; /* NULL before format 1.2: the preset `model` at `width` */
    int64_t v[6] = {0};
    const char *names[6] = {"width", "in_c", "in_h", "in_w", "classes", "param_count"};
    for (int i = 0; i < 6; i++)
        if (get_int(r, g, "/model", names[i], 0, INT32_MAX, &v[i], 1) < 0) return -1;
    m->spec.width = (int)v[0];
    m->spec.in_c = (int)v[1];
    m->spec.in_h = (int)v[2];
    m->spec.in_w = (int)v[3];
    m->spec.classes = (int)v[4];
    m->param_count = v[5];
    if (get_int(r, g, "/model", "buffer_count", 0, INT32_MAX, &m->buffer_count, 0) < 0) return -1;
    double ls = 0;
    if (h5_get_f64(g, "label_smoothing", &ls) < 0 || !(ls >= 0 && ls < 1))
        return rfail(r, "/model: attribute 'label_smoothing' is not a number in [0, 1)");
    m->spec.label_smoothing = (float)ls;
    if (get_str(r, g, "/model", "dataset", m->dataset, sizeof m->dataset, 0) < 0) return -1;
    if (get_str(r, g, "/model", "data_file", m->data_file, sizeof m->data_file, 0) < 0) return -1;
    if (get_str(r, g, "/model", "data_hash", m->data_hash, sizeof m->data_hash, 0) < 0) return -1;
    char **cn = NULL;
    size_t n_cn = 0;
    const int cnc = h5_get_strs(g, "class_names", 1000000, &cn, &n_cn);
    if (cnc < 0) return rfail(r, "/model: attribute 'class_names' is not a list of strings");
    if (cnc == 0) {
        const int ok = n_cn == (size_t)m->spec.classes;
        if (ok) ckpt_meta_set_class_names(m, cn, (int)n_cn);
        h5_free_strs(cn);
        if (!ok) return rfail(r, "/model: attribute 'class_names' holds %zu names for %d classes", n_cn, m->spec.classes);
    }
    size_t nm = 0, ns = 0;
    int a = h5_get_f64s(g, "norm_mean", m->norm_mean, 4, &nm), b = h5_get_f64s(g, "norm_std", m->norm_std, 4, &ns);
    if (a < 0 || b < 0 || nm != ns) return rfail(r, "/model: norm_mean/norm_std are not two lists of <= 4 numbers");
    m->norm_channels = a == 0 ? (int)nm : 0;
    char **tn = NULL;
    size_t nt = 0;
    int rc = h5_get_strs(g, "tensor_names", MAX_NAMES, &tn, &nt);
    if (rc != 0) return rfail(r, "/model: attribute 'tensor_names' is missing or not a list of strings");
    h5_free_strs(tn);
    m->n_tensors = (int64_t)nt;
    m->has_momentum = H5Lexists(f, "/optimizer", H5P_DEFAULT) > 0 &&
                      H5Lexists(f, "/optimizer/momentum", H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    return 0;
}

/* Names of the children of a group, allocated, NULL-terminated. */
static int list_children(Rd *r, hid_t g, const char *where, char ***out, size_t *n_out) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) return rfail(r, "%s: cannot list (%s)", where, h5_last_error());
    if (info.nlinks > MAX_LINKS) return rfail(r, "%s: %llu entries (too many)", where, (unsigned long long)info.nlinks);
    char **names = xCalloc((size_t)info.nlinks + 1, sizeof *names);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char buf[256];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof buf) {
            h5_free_strs(names);
            return rfail(r, "%s: entry %llu has an unreadable or overlong name", where, (unsigned long long)i);
        }
        names[i] = xStrdup(buf);
    }
    *out = names;
    *n_out = (size_t)info.nlinks;
    return 0;
}

/* A dataset's element count must fit the file: a corrupt extent must not make us allocate terabytes. */
static int check_extent(Rd *r, hid_t d, const char *what, size_t elem, hsize_t *n_out) {
    hid_t sp = H5Dget_space(d);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (n < 0) return rfail(r, "%s: unreadable dataspace", what);
    if ((long double)n * elem > (long double)r->file_size)
        return rfail(r, "%s: %lld elements cannot fit in a %lld-byte file", what, (long long)n, r->file_size);
    *n_out = (hsize_t)n;
    return 0;
}

static int kind_of(hid_t t, CkptKind *kind) {
    H5T_class_t c = H5Tget_class(t);
    size_t s = H5Tget_size(t);
    if (c == H5T_INTEGER && s == 8) *kind = H5Tget_sign(t) == H5T_SGN_NONE ? CKPT_U64 : CKPT_I64;
    else if (c == H5T_INTEGER && s == 4 && H5Tget_sign(t) != H5T_SGN_NONE) *kind = CKPT_I32;
    else if (c == H5T_FLOAT && s == 8) *kind = CKPT_F64;
    else if (c == H5T_FLOAT && s == 4) *kind = CKPT_F32;
    else return -1;
    return 0;
}

static hid_t native_of(CkptKind k) {
    switch (k) {
    case CKPT_U64: return H5T_NATIVE_UINT64;
    case CKPT_I64: return H5T_NATIVE_INT64;
    case CKPT_I32: return H5T_NATIVE_INT32;
    case CKPT_F64: return H5T_NATIVE_DOUBLE;
    case CKPT_F32: return H5T_NATIVE_FLOAT;
    }
    return H5T_NATIVE_UINT8;
}

static int read_state(Rd *r, hid_t f, CkptMeta *m) {
    if (H5Lexists(f, "/state", H5P_DEFAULT) <= 0) return rfail(r, "group /state is missing");
    hid_t g = H5Gopen2(f, "/state", H5P_DEFAULT);
    if (g < 0) return rfail(r, "/state is not a group");
    if (get_int(r, g, "/state", "cursor_epoch", -1, INT64_MAX, &m->cursor_epoch, 0) < 0) return -1;
    if (get_int(r, g, "/state", "cursor_step", -1, INT64_MAX, &m->cursor_step, 0) < 0) return -1;
    for (int pass = 0; pass < 2; pass++) {
        const char *sub = pass ? "/state/extra" : "/state/rng";
        if (H5Lexists(f, sub, H5P_DEFAULT) <= 0) continue;
        hid_t s = H5Gopen2(f, sub, H5P_DEFAULT);
        char **names;
        size_t n;
        if (s < 0) return rfail(r, "%s is not a group", sub);
        if (list_children(r, s, sub, &names, &n) < 0) return -1;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            char what[512];
            snprintf(what, sizeof what, "%s/%s", sub, names[i]);
            hid_t d = ckpt_valid_name(names[i]) ? H5Dopen2(s, names[i], H5P_DEFAULT) : -1;
            if (d < 0) {
                rc = rfail(r, "%s: not a dataset with a valid name", what);
                break;
            }
            hid_t t = H5Dget_type(d);
            CkptKind kind = CKPT_U64;
            hsize_t cnt = 0;
            if (t < 0 || kind_of(t, &kind) < 0) rc = rfail(r, "%s: unsupported element type", what);
            if (t >= 0) H5Tclose(t);
            if (rc == 0) rc = check_extent(r, d, what, ckpt_kind_size(kind), &cnt);
            if (rc == 0 && pass == 0 && (kind != CKPT_U64 || cnt != 4))
                rc = rfail(r, "%s: an RNG state is 4 uint64 values", what);
            if (rc == 0) {
                void *buf = xMalloc((size_t)cnt * ckpt_kind_size(kind));
                if (cnt && H5Dread(d, native_of(kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
                    rc = rfail(r, "%s: cannot read (%s)", what, h5_last_error());
                else if (pass == 0) {
                    Rng rng;
                    memcpy(rng.s, buf, sizeof rng.s);
                    ckpt_meta_put_rng(m, names[i], &rng);
                } else {
                    ckpt_meta_put(m, names[i], kind, buf, (size_t)cnt);
                }
                free(buf);
            }
            H5Dclose(d);
        }
        h5_free_strs(names);
        H5Gclose(s);
        if (rc < 0) return -1;
    }
    H5Gclose(g);
    return 0;
}

static int read_history(Rd *r, hid_t f, CkptMeta *m) {
    const char *where = "/metrics/history";
    if (H5Lexists(f, "/metrics", H5P_DEFAULT) <= 0 || H5Lexists(f, where, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return rfail(r, "%s is missing", where);
    }
    hid_t d = H5Dopen2(f, where, H5P_DEFAULT);
    if (d < 0) return rfail(r, "%s is not a dataset", where);
    hid_t ft = H5Dget_type(d);
    if (ft < 0 || H5Tget_class(ft) != H5T_COMPOUND) return rfail(r, "%s is not a compound table", where);
    /* the first 7 fields are required; val_loss/val_acc (added later) are read when present, else NaN */
    const char *names[9] = {"epoch",     "time_s",    "lr",       "train_loss", "train_acc",
                            "test_loss", "test_acc", "val_loss", "val_acc"};
    const size_t offs[9] = {offsetof(EpochRecord, epoch),     offsetof(EpochRecord, time_s),
                            offsetof(EpochRecord, lr),        offsetof(EpochRecord, train_loss),
                            offsetof(EpochRecord, train_acc), offsetof(EpochRecord, test_loss),
                            offsetof(EpochRecord, test_acc),  offsetof(EpochRecord, val_loss),
                            offsetof(EpochRecord, val_acc)};
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(EpochRecord));
    int rc = 0, has_val = 1;
    for (int i = 0; i < 9 && rc == 0; i++) {
        int idx = H5Tget_member_index(ft, names[i]);
        H5T_class_t c = idx >= 0 ? H5Tget_member_class(ft, (unsigned)idx) : H5T_NO_CLASS;
        if (i >= 7 && c == H5T_NO_CLASS) {
            H5Eclear2(H5E_DEFAULT);
            has_val = 0;
            continue;
        }
        if (c != (i == 0 ? H5T_INTEGER : H5T_FLOAT))
            rc = rfail(r, "%s: field '%s' is missing or of the wrong type", where, names[i]);
        else
            H5Tinsert(mt, names[i], offs[i], i == 0 ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE);
    }
    H5Tclose(ft);
    hsize_t n = 0;
    if (rc == 0) {
        hid_t sp = H5Dget_space(d);
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        H5Sclose(sp);
        if (nd != 1) rc = rfail(r, "%s: not a 1-D table", where);
    }
    if (rc == 0) rc = check_extent(r, d, where, 4 + 6 * 8, &n);
    if (rc == 0 && n > MAX_HISTORY) rc = rfail(r, "%s: %llu records (too many)", where, (unsigned long long)n);
    if (rc == 0 && n > 0) {
        m->history = xCalloc((size_t)n, sizeof *m->history);
        if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->history) < 0)
            rc = rfail(r, "%s: cannot read (%s)", where, h5_last_error());
        else
            m->n_history = (int)n;
        for (hsize_t i = 0; i < n && !has_val; i++) m->history[i].val_loss = m->history[i].val_acc = NAN;
    }
    H5Tclose(mt);
    H5Dclose(d);
    return rc;
}

static int read_meta(Rd *r, hid_t f, CkptMeta *m) {
    if (read_root(r, f, m) < 0 || read_config(r, f, m) < 0 || read_model_attrs(r, f, m) < 0) return -1;
    if (read_state(r, f, m) < 0 || read_history(r, f, m) < 0) return -1;
    return 0;
}

/* ---------------------------------------------------------------- tensors */

typedef struct {
    char *name, *path;
    hid_t d; /* kept open from listing to reading */
    int used;
} FileTensor;

static void free_tensors(FileTensor *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].path);
        H5Dclose(t[i].d);
    }
    free(t);
}

/* Every dataset under root/<layer group>/, keyed by its "name" attribute. */
static int list_tensors(Rd *r, hid_t f, const char *root, FileTensor **out, size_t *n_out) {
    hid_t g = H5Gopen2(f, root, H5P_DEFAULT);
    if (g < 0) return rfail(r, "group %s is missing", root);
    char **groups;
    size_t ng;
    if (list_children(r, g, root, &groups, &ng) < 0) return -1;
    FileTensor *t = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < ng && rc == 0; i++) {
        char gpath[512];
        snprintf(gpath, sizeof gpath, "%s/%s", root, groups[i]);
        hid_t lg = H5Gopen2(f, gpath, H5P_DEFAULT);
        if (lg < 0) {
            rc = rfail(r, "%s: not a layer group", gpath);
            break;
        }
        char **leaves;
        size_t nl;
        if (list_children(r, lg, gpath, &leaves, &nl) < 0) {
            rc = -1;
            break;
        }
        for (size_t j = 0; j < nl && rc == 0; j++) {
            char dpath[1024], name[PS_NAME_LEN];
            snprintf(dpath, sizeof dpath, "%s/%s", gpath, leaves[j]);
            hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
            if (d < 0) {
                rc = rfail(r, "%s: not a dataset", dpath);
                break;
            }
            if (get_str(r, d, dpath, "name", name, sizeof name, 1) < 0) rc = -1;
            for (size_t k = 0; k < n && rc == 0; k++)
                if (!strcmp(t[k].name, name)) rc = rfail(r, "tensor '%s' is stored twice (%s, %s)", name, t[k].path, dpath);
            if (rc < 0) {
                H5Dclose(d);
                break;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                t = xRealloc(t, cap * sizeof *t);
            }
            t[n].name = xStrdup(name);
            t[n].path = xStrdup(dpath);
            t[n].d = d;
            t[n].used = 0;
            n++;
        }
        h5_free_strs(leaves);
        H5Gclose(lg);
    }
    h5_free_strs(groups);
    H5Gclose(g);
    if (rc < 0) {
        free_tensors(t, n);
        return -1;
    }
    *out = t;
    *n_out = n;
    return 0;
}

static const char *dtype_name(hid_t t, char *buf, size_t n) {
    H5T_class_t c = H5Tget_class(t);
    size_t s = H5Tget_size(t);
    if (c == H5T_FLOAT) snprintf(buf, n, "float%zu", 8 * s);
    else if (c == H5T_INTEGER) snprintf(buf, n, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * s);
    else if (c == H5T_STRING) snprintf(buf, n, "string");
    else if (c == H5T_COMPOUND) snprintf(buf, n, "compound");
    else snprintf(buf, n, "type class %d", (int)c);
    return buf;
}

static void dims_str(char *buf, size_t n, int nd, const hsize_t *d) {
    size_t u = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && u < n; i++) u += (size_t)snprintf(buf + u, n - u, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (u < n) snprintf(buf + u, n - u, "]");
}

/* Digest of the data and its count of NaN/Inf (exponent bits all ones), in one pass over cache-sized blocks:
 * tensors are larger than the caches, and as separate passes the two checks cost as much as the read. The
 * integer test with 32-bit block counters vectorizes; an isfinite() loop did not. */
static size_t digest_and_scan(const float *x, size_t n, CkptDigest *dig) {
    const uint32_t *u = (const uint32_t *)(const void *)x;
    const size_t block = 16384;
    CkptStream *st = ckpt_stream_new();
    size_t bad = 0;
    for (size_t i = 0; i < n; i += block) {
        size_t len = n - i < block ? n - i : block;
        ckpt_stream_update(st, x + i, len * sizeof(float));
        uint32_t c = 0;
        for (size_t j = 0; j < len; j++) c += (u[i + j] & 0x7f800000u) == 0x7f800000u;
        bad += c;
    }
    *dig = ckpt_stream_done(st);
    return bad;
}

/* Read one tensor into dst after checking its dtype, shape and (unless allowed) finiteness. */
static int read_tensor(Rd *r, hid_t d, const char *dpath, const TensorView *v, const char *kind, float *dst,
                       int flags, CkptDigest *dig) {
    hid_t t = H5Dget_type(d);
    char tn[64];
    if (t < 0 || H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4)
        return rfail(r, "%s '%s': dtype %s, expected float32", kind, v->name, t < 0 ? "?" : dtype_name(t, tn, sizeof tn));
    H5Tclose(t);
    hid_t sp = H5Dget_space(d);
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[H5S_MAX_RANK];
    if (nd < 0 || nd > H5S_MAX_RANK || H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        return rfail(r, "%s '%s': unreadable dataspace", kind, v->name);
    H5Sclose(sp);
    int same = nd == v->ndim;
    for (int i = 0; i < nd && same; i++) same = dims[i] == (hsize_t)v->shape[i];
    if (!same) {
        char want[64], got[256];
        ps_shape_str(v, want, sizeof want);
        dims_str(got, sizeof got, nd, dims);
        return rfail(r, "%s '%s': shape %s in file, model expects %s", kind, v->name, got, want);
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        return rfail(r, "%s '%s': cannot read data (%s)", kind, v->name, h5_last_error());
    char want[64], got[CKPT_HASH_HEX];
    if (get_str(r, d, dpath, "xxh3_128", want, sizeof want, 1) < 0) return -1;
    size_t bad = digest_and_scan(dst, v->numel, dig);
    ckpt_digest_hex(got, *dig);
    if (strcmp(want, got) && !(flags & CKPT_LOAD_ALLOW_BAD_HASH))
        return rfail(r, "%s '%s': checksum mismatch (stored %s, data %s): corrupted data", kind, v->name, want, got);
    if (bad && !(flags & CKPT_LOAD_ALLOW_NONFINITE)) return rfail(r, "%s '%s': %zu NaN/Inf values", kind, v->name, bad);
    return 0;
}

/* Strict name matching both ways, then read each tensor of the model (trainable only for momentum). */
static int read_tensor_group(Rd *r, hid_t f, const char *root, Model *m, int momentum, int flags,
                             CkptDigest *digs) {
    FileTensor *t;
    size_t n;
    if (list_tensors(r, f, root, &t, &n) < 0) return -1;
    const char *kind = momentum ? "momentum" : "tensor";
    int rc = 0;
    for (int i = 0; i < m->ps.n_views && rc == 0; i++) {
        const TensorView *v = &m->ps.views[i];
        if (momentum && !v->trainable) continue;
        size_t k = 0;
        while (k < n && strcmp(t[k].name, v->name)) k++;
        if (k == n) {
            char shape[64];
            ps_shape_str(v, shape, sizeof shape);
            rc = rfail(r, "missing %s '%s' (model %s expects shape %s)", kind, v->name, m->name, shape);
            break;
        }
        t[k].used = 1;
        float *dst = momentum ? m->ps.mom + v->offset : ps_tensor(&m->ps, i);
        rc = read_tensor(r, t[k].d, t[k].path, v, kind, dst, flags, &digs[i]);
    }
    for (size_t k = 0; k < n && rc == 0; k++)
        if (!t[k].used) rc = rfail(r, "unexpected %s '%s' at %s (not in model %s)", kind, t[k].name, t[k].path, m->name);
    free_tensors(t, n);
    return rc;
}

/* Hash in the file's tensor_names order, which must list exactly the model's tensors. */
static int check_hashes(Rd *r, hid_t f, const Model *m, const CkptMeta *meta, int with_momentum, int flags,
                        const CkptDigest *dig, const CkptDigest *mdig, int *hash_ok) {
    char **names = NULL;
    size_t n = 0;
    hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
    if (g < 0 || h5_get_strs(g, "tensor_names", MAX_NAMES, &names, &n) != 0)
        return rfail(r, "/model: attribute 'tensor_names' is unreadable");
    H5Gclose(g);
    int rc = 0;
    if (n != (size_t)m->ps.n_views) rc = rfail(r, "/model: tensor_names lists %zu tensors, the file holds %d", n, m->ps.n_views);
    CkptHasher *h = ckpt_hasher_new(), *hm = ckpt_hasher_new();
    for (size_t i = 0; i < n && rc == 0; i++) {
        int vi = ps_find(&m->ps, names[i]);
        if (vi < 0) {
            rc = rfail(r, "/model: tensor_names lists '%s', which the file does not hold", names[i]);
            break;
        }
        const TensorView *v = &m->ps.views[vi];
        ckpt_hasher_tensor(h, v->name, v->ndim, v->shape, dig[vi]);
        if (v->trainable) ckpt_hasher_tensor(hm, v->name, v->ndim, v->shape, mdig[vi]);
    }
    h5_free_strs(names);
    char got[CKPT_HASH_HEX], gotm[CKPT_HASH_HEX];
    ckpt_hasher_done(h, got);
    ckpt_hasher_done(hm, gotm);
    if (rc < 0) return -1;
    int ok = strcmp(got, meta->content_hash) == 0;
    if (ok && with_momentum && meta->momentum_hash[0]) ok = strcmp(gotm, meta->momentum_hash) == 0;
    if (hash_ok) *hash_ok = ok;
    if (!ok && !(flags & CKPT_LOAD_ALLOW_BAD_HASH)) {
        if (strcmp(got, meta->content_hash))
            return rfail(r, "content hash mismatch: file records %s, tensor data hashes to %s (corrupted data)",
                         meta->content_hash, got);
        return rfail(r, "momentum hash mismatch: file records %s, data hashes to %s (corrupted data)",
                     meta->momentum_hash, gotm);
    }
    return 0;
}

/* The network the file describes, built for its stored input shape and classes, or NULL after rfail. A spec
 * from an untrusted file must not make us exit or allocate absurd amounts: the builder refuses networks with
 * more values than the file could hold (its float32 tensors are stored uncompressed). Files from before format
 * 1.2 name a preset, expanded at the stored width. */
static Model *build_from_meta(Rd *r, CkptMeta *meta) {
    const ModelSpec *s = &meta->spec;
    if (s->in_c < 1 || s->in_c > 4096 || s->in_h < 1 || s->in_h > 65536 || s->in_w < 1 || s->in_w > 65536 ||
        s->classes < 2 || s->classes > 1000000) {
        rfail(r, "/model: implausible input %dx%dx%d or class count %d", s->in_c, s->in_h, s->in_w, s->classes);
        return NULL;
    }
    char err[1024];
    if (!meta->arch) {
        meta->arch = preset_json(meta->model, s, err, sizeof err);
        if (!meta->arch) {
            rfail(r, "/model: %s", err);
            return NULL;
        }
    }
    Model *m = model_build(meta->arch, s, (double)r->file_size / 4.0, err, sizeof err);
    if (!m) rfail(r, "/model: model_config: %s", err);
    else if (strcmp(m->name, meta->model)) {
        rfail(r, "/model: attribute 'model' is '%s' but model_config names '%s'", meta->model, m->name);
        model_free(m);
        m = NULL;
    }
    return m;
}

static int load(Rd *r, Model **m_io, CkptMeta *meta_out, int with_momentum, int flags, int *hash_ok,
                int meta_only) {
    h5_quiet();
    CkptMeta meta;
    ckpt_meta_init(&meta);
    Model *built = NULL;
    hid_t f = open_file(r);
    if (f < 0) return r->unreadable ? CKPT_UNREADABLE : -1;
    int rc = read_meta(r, f, &meta);
    if (rc == 0 && !meta_only) {
        Model *m = *m_io;
        if (!m) {
            m = built = build_from_meta(r, &meta);
            if (!m) rc = -1;
        } else if (strcmp(m->name, meta.model)) {
            rc = rfail(r, "/model: file holds a '%s' model, loading into a '%s' model", meta.model, m->name);
        }
        if (rc == 0 && with_momentum && !meta.has_momentum)
            rc = rfail(r, "no momentum stored (/optimizer/momentum is missing)");
        CkptDigest *dig = NULL, *mdig = NULL;
        if (rc == 0) {
            dig = xCalloc((size_t)m->ps.n_views + 1, sizeof *dig);
            mdig = xCalloc((size_t)m->ps.n_views + 1, sizeof *mdig);
            rc = read_tensor_group(r, f, "/model", m, 0, flags, dig);
        }
        if (rc == 0 && with_momentum) rc = read_tensor_group(r, f, "/optimizer/momentum", m, 1, flags, mdig);
        /* the same tensors can belong to another network (layers without tensors count too); checked after the
         * tensors so that a tensor mismatch gets its own, more specific message */
        if (rc == 0 && !built && meta.arch && m->arch && strcmp(meta.arch, m->arch))
            rc = rfail(r, "/model: the file's '%s' network (model_config) differs from the one loading it", meta.model);
        if (rc == 0 && (int64_t)m->ps.n_params != meta.param_count)
            rc = rfail(r, "/model: param_count %lld, tensors hold %zu", (long long)meta.param_count, m->ps.n_params);
        if (rc == 0) rc = check_hashes(r, f, m, &meta, with_momentum, flags, dig, mdig, hash_ok);
        free(dig);
        free(mdig);
        if (rc == 0) *m_io = m;
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (rc < 0) {
        model_free(built);
        ckpt_meta_free(&meta);
        return r->unreadable ? CKPT_UNREADABLE : -1;
    }
    if (meta_out) *meta_out = meta;
    else ckpt_meta_free(&meta);
    return 0;
}

int ckpt_try_load(const char *path, Model **m_io, CkptMeta *meta_out, int with_momentum, int flags, int *hash_ok,
                  char *err, size_t errlen) {
    Rd r = {.path = path, .err = err, .errlen = errlen};
    if (hash_ok) *hash_ok = 0;
    return load(&r, m_io, meta_out, with_momentum, flags, hash_ok, 0);
}

int ckpt_try_read_meta(const char *path, CkptMeta *meta_out, char *err, size_t errlen) {
    Rd r = {.path = path, .err = err, .errlen = errlen};
    return load(&r, NULL, meta_out, 0, 0, NULL, 1);
}

Model *ckpt_load_model(const char *path, CkptMeta *meta_out, int with_momentum) {
    char err[1024];
    Model *m = NULL;
    if (ckpt_try_load(path, &m, meta_out, with_momentum, 0, NULL, err, sizeof err) < 0) swap_fail("%s", err);
    return m;
}

void ckpt_load_into(const char *path, Model *m, CkptMeta *meta_out, int with_momentum) {
    char err[1024];
    if (ckpt_try_load(path, &m, meta_out, with_momentum, 0, NULL, err, sizeof err) < 0) swap_fail("%s", err);
}

int ckpt_verify(const char *path, char *err, size_t errlen) {
    Model *m = NULL;
    CkptMeta meta;
    /* momentum is verified too when the file has it */
    int rc = ckpt_try_read_meta(path, &meta, err, errlen);
    if (rc < 0) return rc;
    int mom = meta.has_momentum;
    ckpt_meta_free(&meta);
    if ((rc = ckpt_try_load(path, &m, NULL, mom, 0, NULL, err, errlen)) < 0) return rc;
    model_free(m);
    return 0;
}

int ckpt_try_load_image(const char *name, const void *buf, size_t n, Model **m_io, CkptMeta *meta_out,
                        int with_momentum, int flags, char *err, size_t errlen) {
    Rd r = {.path = name, .err = err, .errlen = errlen, .image = buf, .image_size = n};
    return load(&r, m_io, meta_out, with_momentum, flags, NULL, 0);
}
