#include "optim/schedule.h"

#include <math.h>
#include <string.h>

const char *const sched_names[] = {"constant", "linear", "cosine", "knots", "step", 0};

int sched_kind_from_name(const char *name) {
    for (int i = 0; sched_names[i]; i++)
        if (!strcmp(name, sched_names[i])) return i;
    return -1;
}

double sched_scale_lr(double lr, int batch, int base_batch) {
    return base_batch > 0 ? lr * (double)batch / (double)base_batch : lr;
}

static double knots(const Schedule *s, double t) {
    if (s->n_knots == 0) return 1.0;
    if (t <= s->knot_t[0]) return s->knot_v[0];
    for (int i = 1; i < s->n_knots; i++)
        if (t <= s->knot_t[i]) {
            double a = (t - s->knot_t[i - 1]) / (s->knot_t[i] - s->knot_t[i - 1]);
            return s->knot_v[i - 1] + a * (s->knot_v[i] - s->knot_v[i - 1]);
        }
    return s->knot_v[s->n_knots - 1];
}

double sched_lr(const Schedule *s, double t) {
    const double base = s->base_lr;
    if (s->kind == SCHED_KNOTS) return base * knots(s, t);
    if (s->kind == SCHED_STEP) return base * pow(s->gamma, floor(t / s->step_every));
    if (s->warmup > 0 && t < s->warmup) return base * (t + 1e-3) / (s->warmup + 1e-3);
    if (s->kind == SCHED_CONSTANT) return base;
    double span = s->total - s->warmup;
    double a = span > 0 ? (t - s->warmup) / span : 1.0;
    if (a > 1) a = 1;
    if (a < 0) a = 0;
    const double lo = s->final_frac;
    if (s->kind == SCHED_LINEAR) return base * (1.0 - (1.0 - lo) * a);
    return base * (lo + (1.0 - lo) * 0.5 * (1.0 + cos(3.141592653589793 * a)));
}
