/* Error reporting: every failure is one line naming where and what, then a non-zero exit.
 * Library code reports user-facing problems with swap_fail(); programming errors use xCheck. */
#ifndef SWAP_ERR_H
#define SWAP_ERR_H
#include <stddef.h>
#include <stdio.h>

/* Exit codes are part of the interface (documented in README). */
enum {
    SWAP_EXIT_OK = 0,
    SWAP_EXIT_ERROR = 1,     /* bad input, I/O failure, invalid config */
    SWAP_EXIT_USAGE = 2,     /* bad command line */
    SWAP_EXIT_PREEMPTED = 3, /* stopped by SIGTERM/SIGUSR1 after writing a resumable checkpoint */
};

/* Program name shown as the message prefix ("swap-train: ..."). */
void swap_set_progname(const char *name);
const char *swap_progname(void);

/* Print "prog: message" and exit(SWAP_EXIT_ERROR). Hooks run first (e.g. MPI_Abort, temp-file cleanup). */
_Noreturn void swap_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void swap_fail_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text put before the message of every swap_fail until cleared (NULL): lets a caller name the input a lower
 * layer's complaint is about (the data file whose images a model cannot take). Copied. */
void swap_fail_context(const char *ctx);
void swap_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A single exit hook lets the MPI layer turn a rank's failure into MPI_Abort without the core knowing MPI. */
typedef void (*swap_exit_hook)(int code);
void swap_set_exit_hook(swap_exit_hook hook);

/* Internal invariant checks (llm.c style): report file:line and exit non-zero. */
_Noreturn void swap_check_failed(const char *file, int line, const char *expr, const char *msg);
#define xCheck(cond, msg) \
    do { if (!(cond)) swap_check_failed(__FILE__, __LINE__, #cond, (msg)); } while (0)

void *xMalloc_(size_t n, const char *file, int line);
void *xCalloc_(size_t count, size_t size, const char *file, int line);
void *xRealloc_(void *p, size_t n, const char *file, int line);
char *xStrdup_(const char *s, const char *file, int line);
#define xMalloc(n) xMalloc_((n), __FILE__, __LINE__)
#define xCalloc(c, s) xCalloc_((c), (s), __FILE__, __LINE__)
#define xRealloc(p, n) xRealloc_((p), (n), __FILE__, __LINE__)
#define xStrdup(s) xStrdup_((s), __FILE__, __LINE__)

FILE *xFopen_(const char *path, const char *mode, const char *file, int line);
#define xFopen(path, mode) xFopen_((path), (mode), __FILE__, __LINE__)

#endif
