/* File-level safety: atomic replacement (a crash leaves the old file or the new one, never half of one),
 * rotation of periodic checkpoints and cleanup of temp files left by killed writers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "ckpt/ckpt_internal.h"

/* Split path into directory ("." if none) and base name. */
static void split_path(const char *path, char *dir, size_t dn, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dn, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dn, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dn, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

void ckpt_temp_path(char *buf, size_t n, const char *path) {
    char dir[4096];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    int w = snprintf(buf, n, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
    if (w < 0 || (size_t)w >= n) swap_fail("%s: path too long", path);
}

static int fsync_path(const char *p, int dir) {
    int fd = open(p, O_RDONLY | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int rc = fsync(fd);
    /* some file systems cannot fsync a directory; the rename is still atomic there */
    if (rc < 0 && dir && (errno == EINVAL || errno == EBADF)) rc = 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int ckpt_publish(const char *tmp, const char *path) {
    char dir[4096];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    if (fsync_path(tmp, 0) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return fsync_path(dir, 1);
}

void ckpt_group_path(char *buf, size_t n, const char *root, const TensorView *v) {
    snprintf(buf, n, "%s/L%03d_%s", root, v->layer_index, v->layer);
}

/* Pattern "pre%0Ndsuf": the base name's prefix and suffix around the one integer conversion. */
static int parse_pattern(const char *pattern, char *dir, size_t dn, char *pre, char *suf, size_t cap) {
    const char *base;
    split_path(pattern, dir, dn, &base);
    const char *pc = strchr(base, '%');
    if (!pc) return -1;
    const char *q = pc + 1;
    while (*q >= '0' && *q <= '9') q++;
    if (*q != 'd' || strchr(q + 1, '%') || strchr(base, '/')) return -1;
    if ((size_t)(pc - base) >= cap || strlen(q + 1) >= cap) return -1;
    snprintf(pre, cap, "%.*s", (int)(pc - base), base);
    snprintf(suf, cap, "%s", q + 1);
    return 0;
}

typedef struct {
    long num;
    char *name;
} Entry;

static int by_num(const void *a, const void *b) {
    long x = ((const Entry *)a)->num, y = ((const Entry *)b)->num;
    return (x > y) - (x < y);
}

int ckpt_rotate(const char *pattern, int keep) {
    char dir[4096], pre[1024], suf[1024];
    if (parse_pattern(pattern, dir, sizeof dir, pre, suf, sizeof pre) < 0)
        swap_fail("checkpoint rotation: pattern '%s' needs exactly one %%d or %%0Nd in the file name", pattern);
    if (keep <= 0) return 0;
    DIR *d = opendir(dir);
    if (!d) swap_fail("%s: cannot list directory (%s)", dir, strerror(errno));
    Entry *list = NULL;
    size_t n = 0, cap = 0, lp = strlen(pre), ls = strlen(suf);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= lp + ls || strncmp(e->d_name, pre, lp) || strcmp(e->d_name + l - ls, suf)) continue;
        const char *p = e->d_name + lp;
        size_t digits = l - lp - ls;
        int ok = digits < 18;
        for (size_t i = 0; i < digits && ok; i++) ok = p[i] >= '0' && p[i] <= '9';
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            list = xRealloc(list, cap * sizeof *list);
        }
        list[n].num = strtol(p, NULL, 10);
        list[n].name = xStrdup(e->d_name);
        n++;
    }
    closedir(d);
    qsort(list, n, sizeof *list, by_num);
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + (size_t)keep < n) {
            char full[8192];
            snprintf(full, sizeof full, "%s/%s", dir, list[i].name);
            if (unlink(full) == 0) removed++;
            else if (errno != ENOENT) swap_warn("%s: cannot remove old checkpoint (%s)", full, strerror(errno));
        }
        free(list[i].name);
    }
    free(list);
    if (removed) fsync_path(dir, 1);
    return removed;
}

int ckpt_clean_temps(const char *path) {
    char dir[4096], pre[1024];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    int w = snprintf(pre, sizeof pre, ".%s.tmp.", base);
    if (w < 0 || (size_t)w >= sizeof pre) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, pre, (size_t)w)) continue;
        const char *p = e->d_name + w;
        char *end;
        long pid = strtol(p, &end, 10);
        if (!*p || *end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* writer still alive */
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (unlink(full) == 0) removed++;
    }
    closedir(d);
    return removed;
}
