#include "ckpt/h5util.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* HDF5's exit-time cleanup closes the files still open, and a file whose H5Fclose failed (a full disk while
 * flushing) stays half-closed: HDF5 1.10's cleanup then crashes in H5F__close_cb (SIGSEGV after our one-line
 * error). Every file we open we close ourselves, so the library is told not to register that cleanup; this
 * must happen before its first call, hence a constructor. */
__attribute__((constructor)) static void h5_no_exit_cleanup(void) { H5dont_atexit(); }

static char g_h5_err[512];
static int g_h5_locked;

/* An HDF5 system-call failure reads "file write failed: time = ..., errno = 28, error message = 'No space left
 * on device', buf = ...": the quoted message is the part a user needs, and the text may hold newlines. */
static void system_message(char *out, size_t n, const char *desc) {
    const char *m = strstr(desc, "error message = '");
    if (m) {
        m += strlen("error message = '");
        const char *end = strchr(m, '\'');
        int len = end ? (int)(end - m) : (int)strlen(m);
        const char *colon = strchr(desc, ':');
        int head = colon && colon < m ? (int)(colon - desc) : 0;
        snprintf(out, n, "%.*s%s%.*s", head, desc, head ? ": " : "", len, m);
    } else {
        snprintf(out, n, "%s", desc);
    }
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
}

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    (void)data;
    /* walking downward, the last entry is where the error was first detected: the most specific */
    char minor[256] = "", desc[400] = "";
    if (e->desc && strstr(e->desc, "unable to lock file")) g_h5_locked = 1; /* "unable to lock file, errno = 11, ..." */
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0) minor[0] = 0;
    if (e->desc && e->desc[0]) system_message(desc, sizeof desc, e->desc);
    if (desc[0] && strstr(e->desc, "error message = '"))
        snprintf(g_h5_err, sizeof g_h5_err, "%s", desc);
    else if (desc[0]) {
        /* a long message is cut, which is fine for one line; the result is used so gcc sees the cut is meant */
        if (snprintf(g_h5_err, sizeof g_h5_err, "%s%s%s", desc, minor[0] ? " / " : "", minor) < 0) g_h5_err[0] = 0;
    }
    else if (minor[0])
        snprintf(g_h5_err, sizeof g_h5_err, "%s", minor);
    return 0;
}

int h5_last_error_locked(void) { return g_h5_locked; }

const char *h5_last_error(void) {
    g_h5_err[0] = 0;
    g_h5_locked = 0;
    hid_t st = H5Eget_current_stack();
    if (st >= 0) {
        H5Ewalk2(st, H5E_WALK_DOWNWARD, walk_cb, NULL);
        H5Eclose_stack(st);
    }
    H5Eclear2(H5E_DEFAULT);
    return g_h5_err;
}

hid_t h5_fapl_nolock(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1);
#else
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1); /* read by HDF5 at each open before 1.10.7 */
#endif
    return fapl;
}

/* ---- writers ---- */

static hid_t str_type(size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hid_t space, const void *buf) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Awrite(a, mtype, buf);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

int h5_attr_str(hid_t loc, const char *name, const char *value) {
    if (!value) value = "";
    hid_t t = str_type(strlen(value) + 1), s = H5Screate(H5S_SCALAR);
    int rc = write_attr(loc, name, t, t, s, value);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int h5_attr_strs(hid_t loc, const char *name, const char *const *values, size_t n) {
    size_t w = 1;
    for (size_t i = 0; i < n; i++)
        if (strlen(values[i]) + 1 > w) w = strlen(values[i]) + 1;
    char *buf = xCalloc(n ? n : 1, w);
    for (size_t i = 0; i < n; i++) memcpy(buf + i * w, values[i], strlen(values[i]));
    hsize_t dim = n;
    hid_t t = str_type(w), s = H5Screate_simple(1, &dim, NULL);
    int rc = write_attr(loc, name, t, t, s, buf);
    H5Sclose(s);
    H5Tclose(t);
    free(buf);
    return rc;
}

static int attr_num(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v, size_t n, int scalar) {
    hsize_t dim = n;
    hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    int rc = write_attr(loc, name, ftype, mtype, s, v);
    H5Sclose(s);
    return rc;
}

int h5_attr_i64(hid_t loc, const char *name, int64_t value) {
    return attr_num(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, 1, 1);
}
int h5_attr_u64(hid_t loc, const char *name, uint64_t value) {
    return attr_num(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value, 1, 1);
}
int h5_attr_f64(hid_t loc, const char *name, double value) {
    return attr_num(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, 1, 1);
}
int h5_attr_f64s(hid_t loc, const char *name, const double *values, size_t n) {
    return attr_num(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values, n, 0);
}
int h5_attr_i64s(hid_t loc, const char *name, const int64_t *values, size_t n) {
    return attr_num(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values, n, 0);
}

int h5_dataset_str(hid_t loc, const char *name, const char *text) {
    if (!text) text = "";
    hid_t t = str_type(strlen(text) + 1), s = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        rc = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) < 0 ? -1 : 0;
        H5Dclose(d);
    }
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

/* ---- readers ---- */

static hid_t open_attr(hid_t loc, const char *name, int *absent) {
    *absent = 0;
    htri_t ex = H5Aexists(loc, name);
    if (ex == 0) {
        *absent = 1;
        return -1;
    }
    if (ex < 0) return -1;
    return H5Aopen(loc, name, H5P_DEFAULT);
}

/* Number of elements of a scalar or 1-D dataspace; -1 for anything else. */
typedef enum { STR_IN_DATASET, STR_IN_ATTR } StrHolder;
typedef enum { STR_ARRAY, STR_SCALAR } StrShape;

static hssize_t space_count(hid_t space, StrShape shape) {
    int want_scalar = shape == STR_SCALAR;
    if (space < 0) return -1;
    H5S_class_t c = H5Sget_simple_extent_type(space);
    if (c == H5S_SCALAR) return want_scalar ? 1 : -1;
    if (c != H5S_SIMPLE || H5Sget_simple_extent_ndims(space) != 1) return -1;
    if (want_scalar) return -1;
    return H5Sget_simple_extent_npoints(space);
}

/* Read a string-typed attribute or dataset (scalar or 1-D, fixed or variable length) into allocated strings. */
static int read_strings(hid_t obj, StrHolder holder, StrShape shape, size_t max_n, size_t max_len, char ***out,
                        size_t *n_out) {
    int is_attr = holder == STR_IN_ATTR;
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    int rc = -1;
    hid_t mt = -1;
    hssize_t n = space_count(sp, shape);
    if (ft < 0 || n < 0 || (size_t)n > max_n || H5Tget_class(ft) != H5T_STRING) goto done;
    htri_t vlen = H5Tis_variable_str(ft);
    if (vlen < 0) goto done;
    char **list = xCalloc((size_t)n + 1, sizeof *list);
    mt = H5Tcopy(H5T_C_S1);
    /* HDF5 does not convert between character sets; read bytes as stored (ASCII is a subset of UTF-8) */
    H5T_cset_t cset = H5Tget_cset(ft);
    if (cset == H5T_CSET_ERROR || H5Tset_cset(mt, cset) < 0) {
        free(list);
        goto done;
    }
    if (vlen) {
        H5Tset_size(mt, H5T_VARIABLE);
        char **tmp = xCalloc((size_t)n + 1, sizeof *tmp);
        herr_t r = is_attr ? H5Aread(obj, mt, tmp) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
        if (r >= 0) {
            rc = 0;
            for (hssize_t i = 0; i < n; i++) {
                const char *s = tmp[i] ? tmp[i] : "";
                if (strlen(s) > max_len) rc = -1;
                list[i] = xStrdup(rc == 0 ? s : "");
            }
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
        }
        free(tmp);
    } else {
        size_t w = H5Tget_size(ft);
        if (w == 0 || w > max_len + 1) {
            free(list);
            goto done;
        }
        /* read the bytes with the file's own padding: converting a NULLPAD string of width w (h5py's fixed-length
         * strings) to NULLTERM of width w would drop its last character; each copy below gets its own NUL */
        H5T_str_t pad = H5Tget_strpad(ft);
        H5Tset_size(mt, w);
        H5Tset_strpad(mt, pad == H5T_STR_ERROR ? H5T_STR_NULLPAD : pad);
        char *buf = xCalloc((size_t)n + 1, w + 1);
        herr_t r = is_attr ? H5Aread(obj, mt, buf) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        if (r >= 0) {
            rc = 0;
            for (hssize_t i = 0; i < n; i++) {
                char *s = xCalloc(1, w + 1);
                memcpy(s, buf + (size_t)i * w, w);
                if (pad == H5T_STR_SPACEPAD)
                    for (size_t k = strlen(s); k > 0 && s[k - 1] == ' '; k--) s[k - 1] = 0;
                list[i] = s;
            }
        }
        free(buf);
    }
    if (rc == 0) {
        *out = list;
        *n_out = (size_t)n;
    } else {
        h5_free_strs(list);
    }
done:
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

void h5_free_strs(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}

int h5_get_str_alloc(hid_t loc, const char *name, size_t max_len, char **out) {
    int absent;
    hid_t a = open_attr(loc, name, &absent);
    if (absent) return 1;
    if (a < 0) return -1;
    char **list = NULL;
    size_t n = 0;
    int rc = read_strings(a, STR_IN_ATTR, STR_SCALAR, 1, max_len, &list, &n);
    H5Aclose(a);
    if (rc < 0) return -1;
    *out = list[0];
    free(list);
    return 0;
}

int h5_get_strs(hid_t loc, const char *name, size_t max_n, char ***out, size_t *n) {
    int absent;
    hid_t a = open_attr(loc, name, &absent);
    if (absent) return 1;
    if (a < 0) return -1;
    int rc = read_strings(a, STR_IN_ATTR, STR_ARRAY, max_n, 4096, out, n);
    H5Aclose(a);
    return rc;
}

static int get_num(hid_t loc, const char *name, hid_t mtype, H5T_class_t want, void *values, size_t cap,
                   size_t *n_out, int scalar) {
    int absent;
    hid_t a = open_attr(loc, name, &absent);
    if (absent) return 1;
    if (a < 0) return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    hssize_t n = space_count(sp, STR_ARRAY);
    if (n < 0) n = space_count(sp, STR_SCALAR);
    int ok_class = cls == want || (want == H5T_FLOAT && cls == H5T_INTEGER);
    if (ok_class && n >= 0 && (!scalar || n == 1) && (size_t)n <= cap) {
        rc = H5Aread(a, mtype, values) < 0 ? -1 : 0;
        if (n_out) *n_out = (size_t)n;
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

int h5_get_i64(hid_t loc, const char *name, int64_t *v) {
    return get_num(loc, name, H5T_NATIVE_INT64, H5T_INTEGER, v, 1, NULL, 1);
}
int h5_get_u64(hid_t loc, const char *name, uint64_t *v) {
    return get_num(loc, name, H5T_NATIVE_UINT64, H5T_INTEGER, v, 1, NULL, 1);
}
int h5_get_f64(hid_t loc, const char *name, double *v) {
    return get_num(loc, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, v, 1, NULL, 1);
}
int h5_get_f64s(hid_t loc, const char *name, double *values, size_t cap, size_t *n) {
    return get_num(loc, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, values, cap, n, 0);
}
int h5_get_i64s(hid_t loc, const char *name, int64_t *values, size_t cap, size_t *n) {
    return get_num(loc, name, H5T_NATIVE_INT64, H5T_INTEGER, values, cap, n, 0);
}

int h5_read_dataset_str(hid_t loc, const char *name, size_t max_len, char **out) {
    htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
    if (ex == 0) return 1;
    if (ex < 0) return -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    char **list = NULL;
    size_t n = 0;
    int rc = read_strings(d, STR_IN_DATASET, STR_SCALAR, 1, max_len, &list, &n);
    H5Dclose(d);
    if (rc < 0) return -1;
    *out = list[0];
    free(list);
    return 0;
}
