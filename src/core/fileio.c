#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

void temp_path_for(char *buf, size_t n, const char *path) {
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    int len = snprintf(buf, n, "%.*s.%s.tmp.%d", dirlen, path, base, (int)getpid());
    if (len < 0 || (size_t)len >= n) swap_fail("%s: path too long", path);
}

int fsync_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

const char *output_target(const char *path, char *buf, size_t n) {
    char cur[4096], link[4096], next[8200];
    snprintf(cur, sizeof cur, "%s", path);
    int hops = 0;
    for (;;) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) break;
        if (++hops > 40) swap_fail("%s: too many levels of symbolic links", path);
        ssize_t len = readlink(cur, link, sizeof link - 1);
        if (len <= 0) break;
        link[len] = 0;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) snprintf(next, sizeof next, "%s", link);
        else snprintf(next, sizeof next, "%.*s/%s", (int)(slash - cur), cur, link);
        if (strlen(next) >= sizeof cur) swap_fail("%s: symbolic link target too long", path);
        memcpy(cur, next, strlen(next) + 1);
    }
    if (!hops) return path;
    if (strlen(cur) >= n) swap_fail("%s: symbolic link target too long", path);
    memcpy(buf, cur, strlen(cur) + 1);
    return buf;
}

void write_file_atomic(const char *path_in, const void *data, size_t len) {
    char tmp[4096], target[4096];
    const char *path = output_target(path_in, target, sizeof target);
    temp_path_for(tmp, sizeof tmp, path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) swap_fail("%s: cannot create (%s)", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            swap_fail("%s: write failed (%s)", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        swap_fail("%s: fsync failed (%s)", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        swap_fail("%s: rename failed (%s)", path, strerror(e));
    }
    fsync_parent_dir(path);
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) swap_fail("%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xMalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xRealloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        swap_fail("%s: read error", path);
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
