/* sgd_step against a direct double-precision transcription of torch.optim.SGD (dampening 0), over momentum,
 * Nesterov, weight decay and the BN/bias exemption; learning-rate schedules against their closed forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "testlib.h"

static Rng R;

/* A store shaped like a small network: conv weight (decayed), conv bias and BN affine (exempt), BN buffers. */
static void make_store(ParamStore *ps) {
    ps_init(ps);
    int w[4] = {4, 3, 3, 3}, c[1] = {4};
    ps_add(ps, "conv", "weight", "conv2d", "OIHW", 0, 1, 0, 27, 4, w);
    ps_add(ps, "conv", "bias", "conv2d", "O", 0, 1, 1, 27, 1, c);
    ps_add(ps, "bn", "weight", "batchnorm2d", "C", 1, 1, 1, 0, 1, c);
    ps_add(ps, "bn", "bias", "batchnorm2d", "C", 1, 1, 1, 0, 1, c);
    ps_add(ps, "bn", "running_mean", "batchnorm2d", "C", 1, 0, 1, 0, 1, c);
    ps_add(ps, "bn", "running_var", "batchnorm2d", "C", 1, 0, 1, 0, 1, c);
    ps_finalize(ps);
    for (size_t i = 0; i < ps->n_total; i++) ps->data[i] = rng_normal(&R);
}

static void test_sgd(float mu, int nesterov, float wd, int decay_all) {
    ParamStore ps;
    make_store(&ps);
    const size_t np = ps.n_params, nt = ps.n_total;
    double *p = malloc(nt * sizeof *p), *buf = calloc(np, sizeof *buf);
    int *decayed = malloc(np * sizeof *decayed);
    for (size_t i = 0; i < nt; i++) p[i] = ps.data[i];
    for (int t = 0; t < ps.n_views; t++)
        for (size_t i = 0; i < ps.views[t].numel && ps.views[t].trainable; i++)
            decayed[ps.views[t].offset + i] = decay_all || !ps.views[t].no_decay;
    SgdConfig cfg = {.momentum = mu, .nesterov = nesterov, .weight_decay = wd, .decay_bn_and_bias = decay_all};
    const float lrs[4] = {0.1f, 0.05f, 0.2f, 0.01f};
    for (int step = 0; step < 4; step++) {
        sgd_zero_grad(&ps);
        for (size_t i = 0; i < np; i++) T_CHECK(ps.grad[i] == 0.0f, "sgd_zero_grad left grad[%zu]", i);
        for (size_t i = 0; i < np; i++) ps.grad[i] = rng_normal(&R);
        sgd_step(&ps, &cfg, lrs[step]);
        /* torch.optim.SGD.step: d = g + wd*p; buf = d at the first step, else mu*buf + d;
         * d = nesterov ? d + mu*buf : buf; p -= lr*d */
        for (size_t i = 0; i < np; i++) {
            double d = ps.grad[i] + (decayed[i] ? (double)wd * p[i] : 0.0);
            if (mu != 0.0f) {
                buf[i] = step == 0 ? d : mu * buf[i] + d;
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] -= lrs[step] * d;
        }
    }
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < np; i++) {
        err = fmax(err, fabs(ps.data[i] - p[i]));
        scale = fmax(scale, fabs(p[i]));
    }
    T_CHECK(err <= 1e-6 * scale, "sgd mu=%g nesterov=%d wd=%g decay_all=%d: max err %g", mu, nesterov, wd, decay_all,
            err);
    for (size_t i = np; i < nt; i++) T_CHECK(ps.data[i] == (float)p[i], "sgd touched a BN running statistic");
    if (mu != 0.0f) {
        double merr = 0.0;
        for (size_t i = 0; i < np; i++) merr = fmax(merr, fabs(ps.mom[i] - buf[i]));
        T_CHECK(merr <= 1e-5, "sgd momentum buffer differs from torch's by %g", merr);
    }
    printf("  sgd mu=%.1f nesterov=%d wd=%g decay_bn_and_bias=%d: max err %.2e\n", mu, nesterov, wd, decay_all, err);
    free(p);
    free(buf);
    free(decayed);
    ps_free(&ps);
}

/* The exemption must actually hold: with zero gradients and no momentum only decayed tensors move. */
static void test_decay_exemption(void) {
    ParamStore ps;
    make_store(&ps);
    float *before = malloc(ps.n_total * sizeof *before);
    memcpy(before, ps.data, ps.n_total * sizeof(float));
    sgd_zero_grad(&ps);
    SgdConfig cfg = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 0.1f};
    sgd_step(&ps, &cfg, 1.0f);
    for (int t = 0; t < ps.n_views; t++) {
        const TensorView *v = &ps.views[t];
        int moved = 0;
        for (size_t i = 0; i < v->numel; i++) moved |= ps.data[v->offset + i] != before[v->offset + i];
        const int should = v->trainable && !v->no_decay;
        T_CHECK(moved == should, "weight decay %s %s", should ? "did not move" : "moved", v->name);
    }
    free(before);
    ps_free(&ps);
}

static int near(double a, double b) { return fabs(a - b) <= 1e-12 + 1e-12 * fabs(b); }

static void test_schedules(void) {
    const double pi = 3.141592653589793;
    for (int i = 0; sched_names[i]; i++)
        T_CHECK(sched_kind_from_name(sched_names[i]) == i, "schedule name %s does not round-trip", sched_names[i]);
    T_CHECK(sched_kind_from_name("cosin") == -1 && sched_kind_from_name("") == -1, "unknown schedule accepted");

    Schedule s = {.kind = SCHED_CONSTANT, .base_lr = 0.4};
    for (double t = 0; t < 10; t += 0.7) T_CHECK(sched_lr(&s, t) == 0.4, "constant lr at t=%g", t);

    /* linear and cosine decay from base (after warm-up) to final_frac*base at `total`, then flat */
    const double base = 0.8, warm = 2.0, total = 12.0, ff = 0.05;
    for (int kind = SCHED_CONSTANT; kind <= SCHED_COSINE; kind++) {
        s = (Schedule){.kind = kind, .base_lr = base, .warmup = warm, .total = total, .final_frac = ff};
        double prev = -1;
        for (double t = 0; t < warm; t += 0.25) {
            const double lr = sched_lr(&s, t);
            T_CHECK(lr > prev && lr < base, "%s warm-up not rising below base at t=%g: %g", sched_names[kind], t, lr);
            T_CHECK(fabs(lr - base * t / warm) <= 1e-3 * base, "%s warm-up not linear at t=%g", sched_names[kind], t);
            prev = lr;
        }
        T_CHECK(sched_lr(&s, 0) > 0 && sched_lr(&s, 0) < 1e-3 * base, "%s warm-up must start near 0",
                sched_names[kind]);
        T_CHECK(fabs(sched_lr(&s, warm - 1e-9) - base) < 1e-6, "%s lr jumps at the end of warm-up",
                sched_names[kind]);
        for (double t = warm; t <= total + 3; t += 0.5) {
            const double a = fmin(1.0, (t - warm) / (total - warm));
            const double want = kind == SCHED_CONSTANT ? base
                                : kind == SCHED_LINEAR ? base * (1.0 - (1.0 - ff) * a)
                                                       : base * (ff + (1.0 - ff) * 0.5 * (1.0 + cos(pi * a)));
            T_CHECK(near(sched_lr(&s, t), want), "%s lr at t=%g: %g, want %g", sched_names[kind], t,
                    sched_lr(&s, t), want);
        }
    }
    s = (Schedule){.kind = SCHED_COSINE, .base_lr = base, .total = total, .final_frac = ff};
    T_CHECK(near(sched_lr(&s, 0), base) && near(sched_lr(&s, total), base * ff), "cosine end points");
    T_CHECK(near(sched_lr(&s, total / 2), base * (1 + ff) / 2), "cosine midpoint");
    s.kind = SCHED_LINEAR;
    T_CHECK(near(sched_lr(&s, total / 4), base * (1 - 0.25 * (1 - ff))), "linear quarter point");

    /* knots: piecewise linear in (epoch, multiplier), flat outside */
    s = (Schedule){.kind = SCHED_KNOTS, .base_lr = 2.0, .n_knots = 3, .knot_t = {1, 5, 24}, .knot_v = {0.1, 0.4, 0}};
    T_CHECK(near(sched_lr(&s, 0), 0.2) && near(sched_lr(&s, 1), 0.2), "knots before the first knot");
    T_CHECK(near(sched_lr(&s, 3), 2.0 * 0.25), "knots interpolate (t=3)");
    T_CHECK(near(sched_lr(&s, 5), 0.8), "knots at a knot");
    T_CHECK(near(sched_lr(&s, 14.5), 2.0 * 0.2), "knots interpolate (t=14.5)");
    T_CHECK(near(sched_lr(&s, 24), 0) && near(sched_lr(&s, 40), 0), "knots after the last knot");
    s.n_knots = 0;
    T_CHECK(near(sched_lr(&s, 3), 2.0), "no knots means the base lr");

    /* step decay */
    s = (Schedule){.kind = SCHED_STEP, .base_lr = 0.1, .step_every = 30, .gamma = 0.1};
    T_CHECK(near(sched_lr(&s, 0), 0.1) && near(sched_lr(&s, 29.99), 0.1), "step before the first drop");
    T_CHECK(near(sched_lr(&s, 30), 0.01) && near(sched_lr(&s, 75), 0.001), "step drops");

    /* linear scaling rule */
    T_CHECK(near(sched_scale_lr(0.1, 4096, 256), 1.6), "scale_lr 0.1 @256 -> 4096");
    T_CHECK(near(sched_scale_lr(0.1, 128, 256), 0.05), "scale_lr down");
    T_CHECK(near(sched_scale_lr(0.1, 512, 0), 0.1), "scale_lr without a base batch");
}

int main(void) {
    rng_seed(&R, 99);
    test_sgd(0.0f, 0, 0.0f, 0);
    test_sgd(0.0f, 0, 0.01f, 0);
    test_sgd(0.9f, 0, 0.0f, 0);
    test_sgd(0.9f, 0, 5e-4f, 0);
    test_sgd(0.9f, 1, 5e-4f, 0);
    test_sgd(0.9f, 1, 0.05f, 0);
    test_sgd(0.9f, 1, 0.05f, 1);
    test_sgd(0.5f, 1, 0.0f, 1);
    test_decay_exemption();
    test_schedules();
    return t_exit("test_optim");
}
