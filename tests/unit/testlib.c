#include "testlib.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int t_failures, t_checks;

void t_fail_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    t_failures++;
}

int t_close(double a, double b, double rtol, double atol) { return fabs(a - b) <= atol + rtol * fabs(b); }

double t_max_rel_err(const float *a, const float *b, size_t n) {
    double scale = 0.0, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
        if (fabs((double)a[i] - b[i]) > err) err = fabs((double)a[i] - b[i]);
    }
    return scale > 0 ? err / scale : err;
}

const char *t_tmpdir(const char *test_name) {
    static char path[4096];
    const char *base = getenv("SWAP_TEST_TMP");
    if (!base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(path, sizeof path, "%s/%s.%d", base, test_name, (int)getpid());
    mkdir(path, 0755);
    return path;
}

int t_exit(const char *test_name) {
    printf("%s: %d checks, %d failures\n", test_name, t_checks, t_failures);
    return t_failures ? 1 : 0;
}
