/* Minimal test harness: checks record failures and keep going; t_exit() returns non-zero if any failed. */
#ifndef SWAP_TESTLIB_H
#define SWAP_TESTLIB_H
#include <stddef.h>

extern int t_failures, t_checks;
void t_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define T_CHECK(cond, ...) \
    do { t_checks++; if (!(cond)) t_fail_at(__FILE__, __LINE__, __VA_ARGS__); } while (0)
/* |a-b| <= atol + rtol*|b| */
int t_close(double a, double b, double rtol, double atol);
/* Max relative error over arrays, relative to max(|b|) (robust for near-zero entries). */
double t_max_rel_err(const float *a, const float *b, size_t n);
/* A fresh per-test scratch directory (under $SWAP_TEST_TMP or /tmp); returns its path. */
const char *t_tmpdir(const char *test_name);
int t_exit(const char *test_name);

#endif
