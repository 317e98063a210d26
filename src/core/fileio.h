/* Small file helpers. Everything a user may keep is written atomically: temp file in the same directory,
 * fsync, rename, fsync of the directory — a crash leaves the old file or the new one, never half of one. */
#ifndef SWAP_FILEIO_H
#define SWAP_FILEIO_H
#include <stddef.h>

/* Where a write to path must land: path itself, or, when path is a symbolic link, the file it points to (followed to
 * the end of a chain), so that an output kept elsewhere through a link is written through, not replaced by a
 * file. The result is path or buf. */
const char *output_target(const char *path, char *buf, size_t n);
/* Write len bytes to path atomically (through a symbolic link, see output_target); swap_fail on error (the temp file is removed). */
void write_file_atomic(const char *path, const void *data, size_t len);
/* fsync the directory holding path (after a rename). Returns 0 on success. */
int fsync_parent_dir(const char *path);
/* "<dir>/.<base>.tmp.<pid>" for path */
void temp_path_for(char *buf, size_t n, const char *path);
/* Whether anything exists at path (stat: a path to a file we may not read still counts). */
int file_exists(const char *path);
/* Read a whole file (NUL-terminated); swap_fail on error. */
char *read_file(const char *path, size_t *len);

#endif
