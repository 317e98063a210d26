/* Small HDF5 helpers for the checkpoint code: quiet error handling (one line instead of HDF5's stack dump),
 * typed attributes and string datasets. Writers return <0 on failure; readers return 0 when found and read,
 * 1 when absent, -1 when present but unreadable or of the wrong kind (see h5_last_error). */
#ifndef SWAP_H5UTIL_H
#define SWAP_H5UTIL_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* Turn off HDF5's automatic error printing (idempotent). */
void h5_quiet(void);
/* The most specific message on HDF5's error stack ("" if none), then clear the stack. */
const char *h5_last_error(void);
/* Whether the stack h5_last_error last read was a failure to take the file's lock (another process has it). */
int h5_last_error_locked(void);

/* A file access property list with file locking off (read-only archives, Lustre without flock). */
hid_t h5_fapl_nolock(void);

int h5_attr_str(hid_t loc, const char *name, const char *value);
int h5_attr_strs(hid_t loc, const char *name, const char *const *values, size_t n);
int h5_attr_i64(hid_t loc, const char *name, int64_t value);
int h5_attr_u64(hid_t loc, const char *name, uint64_t value);
int h5_attr_f64(hid_t loc, const char *name, double value);
int h5_attr_f64s(hid_t loc, const char *name, const double *values, size_t n);
int h5_attr_i64s(hid_t loc, const char *name, const int64_t *values, size_t n);
/* A scalar fixed-length string dataset. */
int h5_dataset_str(hid_t loc, const char *name, const char *text);

/* Allocated copy (free()), at most max_len bytes. */
int h5_get_str_alloc(hid_t loc, const char *name, size_t max_len, char **out);
/* A 1-D string array: *out is a NULL-terminated, individually allocated list (h5_free_strs). */
int h5_get_strs(hid_t loc, const char *name, size_t max_n, char ***out, size_t *n);
void h5_free_strs(char **list);
int h5_get_i64(hid_t loc, const char *name, int64_t *value);
int h5_get_u64(hid_t loc, const char *name, uint64_t *value);
int h5_get_f64(hid_t loc, const char *name, double *value);
/* Up to cap values of a 1-D numeric attribute; *n gets the stored count. */
int h5_get_f64s(hid_t loc, const char *name, double *values, size_t cap, size_t *n);
int h5_get_i64s(hid_t loc, const char *name, int64_t *values, size_t cap, size_t *n);
/* Text of a scalar string dataset (fixed or variable length), allocated. */
int h5_read_dataset_str(hid_t loc, const char *name, size_t max_len, char **out);

#endif
