#include "phases/wash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"

typedef struct WashState WashState;
struct WashState {
    int papa;
    double p;            /* WASH base probability */
    int scale_by_w, layer_decay, shuffle_mom, p_linear;
    int every;           /* PAPA */
    double alpha, lr0;
    int lr_scaled;
    int W, rank;
    uint64_t seed;
    /* scratch, sized once */
    uint32_t *pick;      /* flat index of each picked entry */
    int *src;            /* member whose value this rank receives for each pick */
    int *dst;            /* member that receives this rank's value for each pick */
    int *counts, *displs, *rcounts, *rdispls, *fill;
    float *send, *recv;
    double *mean;
    size_t cap;
    /* accounting */
    double bytes_sent, steps, picks;
};

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* Walk this step's picks (identical on every rank). perm is a bijection, so for each pick this rank sends its
 * value to exactly one member (dst: perm[dst] == rank) and receives from exactly one (src = perm[rank]). */
static size_t wash_picks(WashState *w, const ParamStore *ps, long step, double p) {
    Rng r;
    rng_stream(&r, w->seed, RNG_WASH, (uint64_t)step, 0);
    int L = 0;
    for (int t = 0; t < ps->n_views; t++) L += ps->views[t].trainable;
    uint32_t perm[256];
    size_t np = 0;
    int l = 0;
    for (int t = 0; t < ps->n_views; t++) {
        const TensorView *v = &ps->views[t];
        if (!v->trainable) continue;
        const double pl = clamp01(w->layer_decay && L > 1 ? p * (1.0 - (double)l / (L - 1)) : p);
        l++;
        if (pl <= 0) continue;
        /* geometric skips: the same picks as independent Bernoulli(pl) draws, in O(picks) */
        const double lq = log1p(-pl);
        for (size_t i = 0;; i++) {
            if (pl < 1) {
                double skip = floor(log1p(-rng_uniform_double(&r)) / lq);
                if (skip >= (double)(v->numel - i)) break;
                i += (size_t)skip;
            }
            if (i >= v->numel) break;
            rng_permutation(&r, perm, (size_t)w->W);
            w->pick[np] = (uint32_t)(v->offset + i);
            w->src[np] = (int)perm[w->rank];
            for (int m = 0; m < w->W; m++)
                if ((int)perm[m] == w->rank) w->dst[np] = m;
            np++;
        }
    }
    return np;
}

static void wash_step(TrainJob *j, long step, double lr) {
    WashState *w = j->hook;
    ParamStore *ps = &j->m->ps;
    (void)lr;
    double p = w->p;
    if (w->p_linear) {
        const double total = (double)j->epochs * (j->p->train->n / j->global_batch);
        p *= clamp01(1.0 - (double)(step - 1) / total);
    }
    if (w->scale_by_w && w->W > 1) p /= 1.0 - 1.0 / w->W;
    const size_t np = wash_picks(w, ps, step, p);
    const int nbuf = w->shuffle_mom ? 2 : 1;
    memset(w->counts, 0, (size_t)w->W * sizeof(int));
    memset(w->rcounts, 0, (size_t)w->W * sizeof(int));
    for (size_t k = 0; k < np; k++) {
        w->counts[w->dst[k]]++;
        w->rcounts[w->src[k]]++;
    }
    for (int m = 0, off = 0, roff = 0; m < w->W; m++) {
        w->displs[m] = off;
        off += w->counts[m];
        w->rdispls[m] = roff;
        roff += w->rcounts[m];
    }
    for (int b = 0; b < nbuf; b++) {
        float *vals = b == 0 ? ps->data : ps->mom;
        float *send = w->send + (size_t)b * w->cap, *recv = w->recv + (size_t)b * w->cap;
        for (int m = 0; m < w->W; m++) w->fill[m] = w->displs[m];
        for (size_t k = 0; k < np; k++) send[w->fill[w->dst[k]]++] = vals[w->pick[k]];
        comm_alltoallv_floats(send, w->counts, w->displs, recv, w->rcounts, w->rdispls);
        /* values from one source arrive in pick order, matching the order we walk them */
        for (int m = 0; m < w->W; m++) w->fill[m] = w->rdispls[m];
        for (size_t k = 0; k < np; k++) vals[w->pick[k]] = recv[w->fill[w->src[k]]++];
    }
    long sent = 0;
    for (int m = 0; m < w->W; m++)
        if (m != w->rank) sent += w->counts[m];
    w->picks += (double)np;
    w->bytes_sent += (double)sent * sizeof(float) * nbuf;
    w->steps++;
}

static void papa_step(TrainJob *j, long step, double lr) {
    WashState *w = j->hook;
    ParamStore *ps = &j->m->ps;
    w->steps++;
    if (step % w->every) return;
    double a = w->alpha;
    if (w->lr_scaled && w->lr0 > 0) a = 1.0 - (1.0 - a) * lr / w->lr0;
    const size_t n = ps->n_params;
    for (size_t i = 0; i < n; i++) w->mean[i] = ps->data[i];
    comm_sum_doubles(w->mean, n);
    const double inv = 1.0 / w->W;
    /* a = 1 keeps every weight bit for bit (the blend would turn -0.0 into +0.0) */
    if (a != 1.0)
        for (size_t i = 0; i < n; i++) ps->data[i] = (float)(a * ps->data[i] + (1.0 - a) * (w->mean[i] * inv));
    w->bytes_sent += (double)n * sizeof(double);
}

static void wash_state(TrainJob *j, CkptMeta *meta, int save) {
    WashState *w = j->hook;
    double v[3] = {w->bytes_sent, w->steps, w->picks};
    size_t n = 0;
    const double *got;
    if (save) ckpt_meta_put(meta, "comm_bytes", CKPT_F64, v, 3);
    else if ((got = ckpt_meta_get(meta, "comm_bytes", CKPT_F64, &n)) && n == 3) {
        w->bytes_sent = got[0];
        w->steps = got[1];
        w->picks = got[2];
    }
}

void wash_attach(TrainJob *j, const char *mode) {
    const Config *cfg = j->p->cfg;
    WashState *w = xCalloc(1, sizeof *w);
    w->papa = !strcmp(mode, "papa");
    w->W = j->p->comm.size;
    w->rank = j->p->comm.rank;
    if (w->W > 256) swap_fail("phase2.workers: at most 256 members for %s", mode);
    w->seed = phase_seed((uint64_t)cfg_int(cfg, "seed"), 3, 0); /* shared by all members */
    w->p = cfg_num(cfg, "phase2.wash.p");
    w->scale_by_w = cfg_bool(cfg, "phase2.wash.scale_by_w");
    w->layer_decay = cfg_bool(cfg, "phase2.wash.layer_decay");
    w->shuffle_mom = cfg_bool(cfg, "phase2.wash.shuffle_momentum");
    w->p_linear = !strcmp(cfg_str(cfg, "phase2.wash.p_schedule"), "linear");
    w->every = (int)cfg_int(cfg, "phase2.papa.every");
    w->alpha = cfg_num(cfg, "phase2.papa.alpha");
    w->lr_scaled = cfg_bool(cfg, "phase2.papa.lr_scaled");
    w->lr0 = j->sched.base_lr;
    const size_t n = j->m->ps.n_params;
    w->cap = n;
    w->counts = xCalloc((size_t)w->W * 5, sizeof(int));
    w->displs = w->counts + w->W;
    w->rcounts = w->counts + 2 * w->W;
    w->rdispls = w->counts + 3 * w->W;
    w->fill = w->counts + 4 * w->W;
    if (w->papa) {
        w->mean = xMalloc(n * sizeof(double));
        j->post_step = papa_step;
    } else {
        w->pick = xMalloc(n * sizeof *w->pick);
        w->src = xMalloc(n * sizeof *w->src);
        w->dst = xMalloc(n * sizeof *w->dst);
        w->send = xMalloc(2 * n * sizeof(float));
        w->recv = xMalloc(2 * n * sizeof(float));
        j->post_step = wash_step;
    }
    j->state = wash_state;
    j->hook = w;
}

void wash_counters(const TrainJob *j, double *bytes_sent, double *picks, double *steps) {
    const WashState *w = j->hook;
    *bytes_sent = w->bytes_sent;
    *picks = w->picks;
    *steps = w->steps;
}

void wash_report(TrainJob *j) {
    WashState *w = j->hook;
    const double full = (double)j->m->ps.n_params * sizeof(float) * w->steps;
    double tot[2] = {w->bytes_sent, full};
    comm_sum_doubles(tot, 2);
    if (j->p->comm.rank == 0)
        printf("%s: communication per member: %.0f bytes sent in %.0f steps (%.1f KB/step, %.0f entries picked); "
               "averaging all parameters every step would send %.0f bytes (ratio %.5f)\n",
               w->papa ? "papa" : "wash", tot[0] / w->W, w->steps, tot[0] / w->W / 1e3 / (w->steps ? w->steps : 1),
               w->picks, tot[1] / w->W, tot[1] > 0 ? tot[0] / tot[1] : 0.0);
    free(w->counts);
    free(w->pick);
    free(w->src);
    free(w->dst);
    free(w->send);
    free(w->recv);
    free(w->mean);
    free(w);
    j->hook = NULL;
}
