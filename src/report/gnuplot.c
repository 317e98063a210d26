#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fileio.h"
#include "report/report.h"

void sb_printf(StrBuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        xCheck(k >= 0, "format error");
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        b->cap = 2 * (b->cap + (size_t)k + 64);
        b->s = xRealloc(b->s, b->cap);
        b->s[b->len] = 0;
    }
}

void sb_num(StrBuf *b, double v, const char *sep) {
    if (isnan(v) || isinf(v)) sb_printf(b, "nan%s", sep);
    else sb_printf(b, "%.9g%s", v, sep);
}

void sb_free(StrBuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

int sb_write(const StrBuf *b, const char *dir, const char *name) {
    char path[PATH_MAX + 256], tmp[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    temp_path_for(tmp, sizeof tmp, path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        swap_warn("%s: cannot write (%s)", path, strerror(errno));
        return -1;
    }
    int bad = b->len && fwrite(b->s, 1, b->len, f) != b->len;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        swap_warn("%s: cannot write (%s)", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_parent_dir(path);
    return 0;
}

void gp_quote(char *out, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        /* the terminals run noenhanced, so only the string syntax itself needs escapes */
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
        }
        out[o++] = *s;
    }
    out[o] = 0;
}

void gp_begin(StrBuf *b, const char *png_name, int w, int h) {
    sb_printf(b,
              "# written by swap (src/report); run: gnuplot %.*s.gp\n"
              "set datafile separator ','\n"
              "set datafile missing 'nan'\n"
              "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
              "  set terminal pngcairo size %d,%d font 'sans,10' noenhanced\n"
              "} else {\n"
              "  set terminal png size %d,%d noenhanced\n"
              "}\n"
              "set output '.%s.tmp'\n"
              "set grid\n",
              (int)(strlen(png_name) - 4), png_name, w, h, w, h, png_name);
}

int gnuplot_find(char *buf, size_t n) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(buf, n, "%.*s/gnuplot", (int)(len ? len : 1), len ? path : ".");
        if (access(buf, X_OK) == 0) return 1;
        path += len + (path[len] == ':');
    }
    return 0;
}

/* gnuplot exits 0 after writing a PNG it could not finish (a full disk): a PNG is published only when it ends
 * with its IEND chunk and reached the disk. */
static int png_complete(const char *path) {
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    unsigned char tail[12];
    struct stat st;
    int ok = fstat(fd, &st) == 0 && st.st_size >= 8 + 12 && pread(fd, tail, 12, st.st_size - 12) == 12 &&
             !memcmp(tail, iend, 12) && fsync(fd) == 0;
    close(fd);
    return ok;
}

int gnuplot_run(const char *dir, const char *script, const char *const *pngs, int n_pngs) {
    char exe[PATH_MAX];
    if (!gnuplot_find(exe, sizeof exe)) {
        fprintf(stderr, "%s: %s\n", swap_progname(), REPORT_NO_GNUPLOT_MSG);
        return REPORT_NO_GNUPLOT;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        swap_warn("cannot start gnuplot (%s)", strerror(errno));
        return REPORT_FAILED;
    }
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        execl(exe, "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            swap_warn("waiting for gnuplot failed (%s)", strerror(errno));
            return REPORT_FAILED;
        }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        swap_warn("%s/%s: gnuplot failed (status %d)", dir, script, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return REPORT_FAILED;
    }
    int rc = REPORT_OK;
    for (int i = 0; i < n_pngs; i++) {
        char from[PATH_MAX + 300], to[PATH_MAX + 300];
        snprintf(from, sizeof from, "%s/.%s.tmp", dir, pngs[i]);
        snprintf(to, sizeof to, "%s/%s", dir, pngs[i]);
        if (access(from, F_OK) == 0 && !png_complete(from)) {
            swap_warn("%s: gnuplot left it incomplete (disk full?); not published", to);
            unlink(from);
            rc = REPORT_FAILED;
        } else if (rename(from, to) != 0) {
            swap_warn("%s: gnuplot did not write it (%s)", to, strerror(errno));
            rc = REPORT_FAILED;
        } else fsync_parent_dir(to);
    }
    return rc;
}
