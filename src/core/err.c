#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *g_prog = "swap";
static swap_exit_hook g_hook;
static char g_ctx[1200];

void swap_set_progname(const char *name) {
    const char *slash = strrchr(name, '/');
    g_prog = slash ? slash + 1 : name;
}
const char *swap_progname(void) { return g_prog; }
void swap_set_exit_hook(swap_exit_hook hook) { g_hook = hook; }

static _Noreturn void vfail(int code, const char *fmt, va_list ap) {
    fflush(stdout);
    fprintf(stderr, "%s: error: %s", g_prog, g_ctx);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    if (g_hook) g_hook(code);
    exit(code);
}

void swap_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(SWAP_EXIT_ERROR, fmt, ap);
}

void swap_fail_code(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(code, fmt, ap);
}

void swap_fail_context(const char *ctx) { snprintf(g_ctx, sizeof g_ctx, "%s", ctx ? ctx : ""); }

void swap_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: warning: ", g_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void swap_check_failed(const char *file, int line, const char *expr, const char *msg) {
    swap_fail("internal check failed at %s:%d: %s (%s)", file, line, expr, msg ? msg : "");
}

void *xMalloc_(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) swap_fail("out of memory allocating %zu bytes at %s:%d", n, file, line);
    return p;
}

void *xCalloc_(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) swap_fail("out of memory allocating %zu x %zu bytes at %s:%d", count, size, file, line);
    return p;
}

void *xRealloc_(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) swap_fail("out of memory reallocating %zu bytes at %s:%d", n, file, line);
    return q;
}

char *xStrdup_(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = xMalloc_(n, file, line);
    memcpy(p, s, n);
    return p;
}

FILE *xFopen_(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) {
        (void)file; (void)line;
        swap_fail("%s: cannot open (%s)", path, strerror(errno));
    }
    return f;
}
