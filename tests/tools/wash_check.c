/* Run under mpiexec -n W with an experiment file: checks WASH's shuffle on members with distinct weights.
 *  - every entry's W values are a permutation of the values before the step (multiset unchanged, so the
 *    member sum is unchanged exactly);
 *  - the bytes a member reports equal 4 x the entries whose value it exchanged (values are distinct across
 *    members, so an entry changes exactly when it came from another member);
 *  - the number of picks matches p_l = p (1 - l/(L-1)) / (1 - 1/W) within 5 standard deviations;
 *  - PAPA with alpha = 0 leaves every member at the exact mean.
 * Exit 0 on success; failures print one line each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/presets.h"
#include "core/err.h"
#include "phases/wash.h"

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* all[r*n + i] = member r's value i */
static float *gather(const Phase *p, const float *v, size_t n) {
    float *all = xCalloc((size_t)p->comm.size * n, sizeof(float));
    memcpy(all + (size_t)p->comm.rank * n, v, n * sizeof(float));
    comm_sum_floats(all, (size_t)p->comm.size * n);
    return all;
}

int main(int argc, char **argv) {
    Phase p;
    phase_start(&p, argc, argv, "EXPERIMENT.lua [--set key=value]...", "phase2.threads");
    const int W = p.comm.size, rank = p.comm.rank;
    ModelSpec spec = {.in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    Model *m = model_create("mlp", &spec);
    /* distinct values in every entry across members, exactly representable */
    for (size_t i = 0; i < m->ps.n_params; i++) m->ps.data[i] = (float)((i % 4000000) * W + rank) * 0x1p-20f;
    Dataset fake = {.n = 6400};
    p.train = &fake; /* wash reads the epoch length for its p schedule */
    TrainJob j;
    memset(&j, 0, sizeof j);
    j.p = &p;
    j.m = m;
    j.epochs = 1;
    j.global_batch = 64;
    j.sched.base_lr = 0.1;
    wash_attach(&j, "wash");
    const size_t n = m->ps.n_params;
    int fails = 0;
    long changed_total = 0;
    const int steps = 5;
    for (int s = 1; s <= steps; s++) {
        float *before = gather(&p, m->ps.data, n);
        long changed = 0;
        j.post_step(&j, s, 0.1);
        for (size_t i = 0; i < n; i++) changed += m->ps.data[i] != before[(size_t)rank * n + i];
        float *after = gather(&p, m->ps.data, n);
        for (size_t i = 0; i < n && fails < 5; i++) {
            float a[64], b[64];
            for (int r = 0; r < W; r++) {
                a[r] = before[(size_t)r * n + i];
                b[r] = after[(size_t)r * n + i];
            }
            qsort(a, (size_t)W, sizeof(float), cmpf);
            qsort(b, (size_t)W, sizeof(float), cmpf);
            if (memcmp(a, b, (size_t)W * sizeof(float))) {
                fprintf(stderr, "FAIL rank %d: entry %zu: values are not a permutation of the previous ones\n", rank, i);
                fails++;
            }
        }
        changed_total += changed;
        free(before);
        free(after);
    }
    double bytes, picks, hooks;
    wash_counters(&j, &bytes, &picks, &hooks);
    if (bytes != 4.0 * changed_total) {
        fprintf(stderr, "FAIL rank %d: reported %.0f bytes sent, but %ld entries were exchanged (%ld bytes)\n", rank,
                bytes, changed_total, 4 * changed_total);
        fails++;
    }
    /* expected picks: sum over trainable tensors of p_l * numel, scaled by 1/(1 - 1/W) */
    double pe = 0, var = 0;
    int L = 0, l = 0;
    for (int t = 0; t < m->ps.n_views; t++) L += m->ps.views[t].trainable;
    const double pw = cfg_num(p.cfg, "phase2.wash.p") / (cfg_bool(p.cfg, "phase2.wash.scale_by_w") ? 1.0 - 1.0 / W : 1.0);
    for (int t = 0; t < m->ps.n_views; t++) {
        const TensorView *v = &m->ps.views[t];
        if (!v->trainable) continue;
        double pl = cfg_bool(p.cfg, "phase2.wash.layer_decay") ? pw * (1.0 - (double)l / (L - 1)) : pw;
        l++;
        pe += pl * v->numel;
        var += pl * (1 - pl) * v->numel;
    }
    pe *= steps;
    var *= steps;
    if (fabs(picks - pe) > 5 * sqrt(var) + 1) {
        fprintf(stderr, "FAIL rank %d: %.0f picks in %d steps, expected %.0f +- %.0f\n", rank, picks, steps, pe, sqrt(var));
        fails++;
    }
    if (rank == 0)
        printf("wash_check: W=%d %d steps: %.0f picks (expected %.0f), %.0f bytes sent by rank 0\n", W, steps, picks, pe,
               bytes);
    wash_report(&j);

    /* PAPA alpha = 0: everyone lands on the exact mean of the members */
    TrainJob k = j;
    k.hook = NULL;
    float *before = gather(&p, m->ps.data, n);
    wash_attach(&k, "papa");
    const int every = (int)cfg_int(p.cfg, "phase2.papa.every");
    k.post_step(&k, every, 0.1);
    for (size_t i = 0; i < n && fails < 10; i++) {
        double mean = 0;
        for (int r = 0; r < W; r++) mean += before[(size_t)r * n + i];
        mean /= W;
        if (m->ps.data[i] != (float)mean) {
            fprintf(stderr, "FAIL rank %d: PAPA alpha=0 entry %zu is %g, mean %g\n", rank, i, m->ps.data[i], mean);
            fails++;
        }
    }
    free(before);
    wash_report(&k);
    fails = comm_max_int(fails);
    model_free(m);
    p.train = NULL;
    phase_finish(&p);
    return fails ? 1 : 0;
}
