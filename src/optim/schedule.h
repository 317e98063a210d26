/* Learning-rate schedules as a function of training progress t in (fractional) epochs. */
#ifndef SWAP_SCHEDULE_H
#define SWAP_SCHEDULE_H

typedef enum { SCHED_CONSTANT, SCHED_LINEAR, SCHED_COSINE, SCHED_KNOTS, SCHED_STEP } SchedKind;

#define SCHED_MAX_KNOTS 32

typedef struct {
    SchedKind kind;
    double base_lr;
    double total;       /* epochs over which linear/cosine decay runs */
    double warmup;      /* epochs of linear warm-up from ~0 to base_lr (linear, cosine, constant) */
    double final_frac;  /* lr at the end as a fraction of base_lr (linear, cosine) */
    int n_knots;        /* piecewise-linear (epoch, multiplier) knots, DAWNBench style */
    double knot_t[SCHED_MAX_KNOTS], knot_v[SCHED_MAX_KNOTS];
    double step_every, gamma; /* step decay: base * gamma^floor(t/step_every) */
} Schedule;

extern const char *const sched_names[]; /* "constant", "linear", "cosine", "knots", "step" */
/* Returns -1 if unknown. */
int sched_kind_from_name(const char *name);
double sched_lr(const Schedule *s, double t);
/* Linear scaling rule (Goyal et al.): lr for `batch` given lr tuned at `base_batch`. */
double sched_scale_lr(double lr, int batch, int base_batch);

#endif
