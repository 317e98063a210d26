/* The fused and overwriting kernels the model planner substitutes give exactly what the plain kernels give:
 * BN+ReLU forward/backward vs batchnorm then relu, *_set backward vs zeroing then accumulating. Inputs include
 * ties inside pooling windows and exact zeros before the ReLU, where masks matter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/layers.h"
#include "testlib.h"

static float *randv(Rng *r, size_t n) {
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = rng_normal(r);
    return v;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }
static int same(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0; /* -0.0 == 0.0 here: a zeroed buffer plus -0.0 is +0.0 */
    return 1;
}

static void test_bn_relu(void) {
    Rng r;
    rng_seed(&r, 1);
    const int c = 5;
    const size_t m = 3 * 7 * 6 + 3; /* not a multiple of the vector width */
    const size_t n = (size_t)c * m;
    float *x = randv(&r, n), *dy = randv(&r, n), *gamma = randv(&r, c), *beta = randv(&r, c);
    for (size_t i = 0; i < n; i += 17) x[i] = 0.0f;
    float *y1 = zeros(n), *y2 = zeros(n), *t = zeros(n);
    float *sm1 = zeros(c), *sr1 = zeros(c), *sm2 = zeros(c), *sr2 = zeros(c);
    float *rm1 = zeros(c), *rv1 = zeros(c), *rm2 = zeros(c), *rv2 = zeros(c);
    batchnorm_forward_train(t, sm1, sr1, rm1, rv1, x, gamma, beta, c, m, 0.1f, 1e-5f);
    relu_forward(y1, t, n);
    batchnorm_relu_forward_train(y2, sm2, sr2, rm2, rv2, x, gamma, beta, c, m, 0.1f, 1e-5f);
    T_CHECK(same(y1, y2, n) && same(sm1, sm2, c) && same(sr1, sr2, c) && same(rm1, rm2, c) && same(rv1, rv2, c),
            "fused BN+ReLU train forward differs from BN then ReLU");

    /* eval outputs in their own buffer: the backward below masks with the train forward's output y2 */
    float *ye = zeros(n);
    batchnorm_forward_eval(t, x, gamma, beta, rm1, rv1, c, m, 1e-5f);
    relu_forward(y1, t, n);
    batchnorm_relu_forward_eval(ye, x, gamma, beta, rm1, rv1, c, m, 1e-5f);
    T_CHECK(same(y1, ye, n), "fused BN+ReLU eval forward differs from BN then ReLU");
    free(ye);

    /* backward: plain = relu_backward into zeros, then batchnorm_backward accumulating onto a nonzero din */
    float *dt = zeros(n), *dx1 = randv(&r, n), *dx2 = malloc(n * sizeof(float)), *dx3 = zeros(n);
    memcpy(dx2, dx1, n * sizeof(float));
    float *dg1 = zeros(c), *db1 = zeros(c), *dg2 = zeros(c), *db2 = zeros(c), *dg3 = zeros(c), *db3 = zeros(c);
    relu_backward(dt, dy, y2, n);
    batchnorm_backward(dx1, dg1, db1, dt, x, gamma, sm1, sr1, c, m);
    batchnorm_relu_backward(dx2, dg2, db2, dy, x, gamma, beta, sm2, sr2, c, m);
    T_CHECK(same(dx1, dx2, n) && same(dg1, dg2, c) && same(db1, db2, c),
            "fused BN+ReLU backward differs from ReLU then BN backward");
    float *dx4 = zeros(n);
    batchnorm_backward(dx4, dg3, db3, dt, x, gamma, sm1, sr1, c, m);
    for (size_t i = 0; i < n; i++) dx3[i] = 12345.0f; /* must be overwritten */
    memset(dg3, 0, c * sizeof(float));
    memset(db3, 0, c * sizeof(float));
    batchnorm_relu_backward_set(dx3, dg3, db3, dy, x, gamma, beta, sm2, sr2, c, m);
    T_CHECK(same(dx3, dx4, n) && same(dg3, dg1, c) && same(db3, db1, c),
            "batchnorm_relu_backward_set differs from backward into a zeroed buffer");
    /* the plain BN's _set (BN feeding a residual sum, not a ReLU) */
    for (size_t i = 0; i < n; i++) dx3[i] = 12345.0f;
    memset(dg3, 0, c * sizeof(float));
    memset(db3, 0, c * sizeof(float));
    batchnorm_backward_set(dx3, dg3, db3, dt, x, gamma, sm1, sr1, c, m);
    T_CHECK(same(dx3, dx4, n) && same(dg3, dg1, c) && same(db3, db1, c),
            "batchnorm_backward_set differs from backward into a zeroed buffer");
    free(x); free(dy); free(gamma); free(beta); free(y1); free(y2); free(t); free(sm1); free(sr1); free(sm2);
    free(sr2); free(rm1); free(rv1); free(rm2); free(rv2); free(dt); free(dx1); free(dx2); free(dx3); free(dx4);
    free(dg1); free(db1); free(dg2); free(db2); free(dg3); free(db3);
}

static void test_maxpool(void) {
    Rng r;
    rng_seed(&r, 2);
    const int h = 6, w = 22; /* wo = 11: vector body plus a scalar tail */
    const size_t planes = 7, n = planes * h * w, no = planes * (h / 2) * (w / 2);
    float *x = randv(&r, n), *dy = randv(&r, no), *y = zeros(no);
    /* ties: quantize so windows often hold equal maxima, and some all-equal windows */
    for (size_t i = 0; i < n; i++) x[i] = roundf(x[i] * 2.0f) / 2.0f;
    for (size_t i = 0; i < 2 * (size_t)w; i++) x[i] = 1.0f;
    maxpool2_forward(y, x, planes, h, w);
    float *ref = zeros(n), *acc = randv(&r, n), *acc2 = malloc(n * sizeof(float)), *set = malloc(n * sizeof(float));
    memcpy(acc2, acc, n * sizeof(float));
    /* reference: first maximum in scan order gets the gradient */
    for (size_t p = 0; p < planes; p++)
        for (int oy = 0; oy < h / 2; oy++)
            for (int ox = 0; ox < w / 2; ox++) {
                const size_t o = (p * (h / 2) + oy) * (w / 2) + ox, i00 = (p * h + 2 * oy) * w + 2 * ox;
                const size_t idx[4] = {i00, i00 + 1, i00 + w, i00 + w + 1};
                for (int j = 0; j < 4; j++)
                    if (x[idx[j]] == y[o]) {
                        ref[idx[j]] += dy[o];
                        break;
                    }
            }
    maxpool2_backward(acc, dy, x, y, planes, h, w);
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= acc[i] == acc2[i] + ref[i];
    T_CHECK(ok, "maxpool2_backward does not add the gradient to the first maximum of each window");
    for (size_t i = 0; i < n; i++) set[i] = 12345.0f;
    maxpool2_backward_set(set, dy, x, y, planes, h, w);
    T_CHECK(same(set, ref, n), "maxpool2_backward_set differs from backward into a zeroed buffer");
    free(x); free(dy); free(y); free(ref); free(acc); free(acc2); free(set);
}

int main(void) {
    test_bn_relu();
    test_maxpool();
    return t_exit("test_fused_kernels");
}
