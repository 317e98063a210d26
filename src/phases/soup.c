#include "phases/soup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/layout.h"
#include "phases/trainer.h"

Score soup_score_test(Phase *p, Model *m, int batch, float *probs) {
    double ev[3];
    eval_dataset(m, p->test, batch, 0, 1, phase_tta_flip(p), &ev[0], &ev[1], &ev[2], probs);
    Score s = {ev[0] / ev[2], ev[1] / ev[2]};
    return s;
}

Score soup_score_val(Phase *p, Model *m, int batch, float *probs) {
    Score s = {NAN, NAN};
    if (!p->val) return s;
    double ev[3];
    eval_dataset(m, p->val, batch, 0, 1, phase_tta_flip(p), &ev[0], &ev[1], &ev[2], probs);
    s.loss = ev[0] / ev[2];
    s.acc = ev[1] / ev[2];
    return s;
}

void soup_worker_path(Phase *p, char *path, size_t n, int worker) {
    char sub[64];
    snprintf(sub, sizeof sub, LAYOUT_WORKER_MODEL, worker);
    phase_path(p, path, n, sub, 0);
}

/* Greedy soup (Wortsman et al. 2022, as in PAPA's code): workers sorted by validation accuracy, best first
 * (ties: lower index first); each joins only if the soup's validation accuracy does not drop (ties kept). Every
 * candidate soup gets its BN statistics recomputed exactly as the uniform soup does, so candidates compare like
 * for like. Workers are re-read one at a time (memory: two double copies of the model, whatever W). Leaves m
 * holding the soup with BN recomputed; returns the number of members (written to members[], ascending). */
int soup_greedy(Phase *p, Model *m, const int *have, const Score *wv, int W, const SoupEval *e,
                       int *members, SoupStep *steps, int *n_steps, double *soup_val) {
    const size_t ntot = m->ps.n_total;
    int *order = xMalloc((size_t)W * sizeof *order), n = 0;
    for (int i = 0; i < W; i++)
        if (have[i]) order[n++] = i;
    for (int a = 1; a < n; a++) /* insertion sort: stable, so ties keep worker order */
        for (int b = a; b > 0 && wv[order[b]].acc > wv[order[b - 1]].acc; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    double *sum = xCalloc(ntot, sizeof *sum), *trial = xMalloc(ntot * sizeof *trial);
    int k = 0;
    double best = -1.0;
    for (int t = 0; t < n; t++) {
        char path[1024];
        soup_worker_path(p, path, sizeof path, order[t]);
        ckpt_load_into(path, m, NULL, 0);
        for (size_t j = 0; j < ntot; j++) {
            trial[j] = sum[j] + m->ps.data[j];
            m->ps.data[j] = (float)(trial[j] / (k + 1));
        }
        bn_recompute(m, p->train, e->bn_batch, e->bn_batches, e->bn_seed, e->bn_aug);
        Score v = soup_score_val(p, m, e->batch, NULL);
        steps[t] = (SoupStep){.worker = order[t], .val_acc = v.acc, .kept = v.acc >= best};
        if (steps[t].kept) {
            double *x = sum;
            sum = trial;
            trial = x;
            k++;
            best = v.acc;
        }
    }
    /* the soup itself: recomputed from the kept sum (the same numbers as its accepted candidate) */
    for (size_t j = 0; j < ntot; j++) m->ps.data[j] = (float)(sum[j] / k);
    bn_recompute(m, p->train, e->bn_batch, e->bn_batches, e->bn_seed, e->bn_aug);
    int nm = 0;
    for (int i = 0; i < W; i++)
        for (int t = 0; t < n; t++)
            if (steps[t].worker == i && steps[t].kept) members[nm++] = i;
    *n_steps = n;
    *soup_val = best;
    free(sum);
    free(trial);
    free(order);
    return nm;
}

Score soup_ensemble_score(const double *sum_probs, const Dataset *d, int k, int members) {
    double correct = 0, loss = 0;
    for (int i = 0; i < d->n; i++) {
        const double *pr = sum_probs + (size_t)i * k;
        int arg = 0;
        for (int j = 1; j < k; j++)
            if (pr[j] > pr[arg]) arg = j;
        correct += arg == d->labels[i];
        double pl = pr[d->labels[i]] / members;
        loss -= log(pl > 1e-30 ? pl : 1e-30);
    }
    Score s = {loss / d->n, correct / d->n};
    return s;
}
