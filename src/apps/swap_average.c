/* Phase 3: average the workers' weights (uniform, accumulated in double), recompute BN statistics on
 * training data, and evaluate the phase-1 model, every worker, the average before and after BN recompute, and
 * the workers' output ensemble (test and, with data.val_split, validation accuracy). phase3.soup = "greedy"
 * then builds a greedy soup on the validation split. Writes phase3/model.h5 (the chosen soup, its members in
 * attributes soup/soup_members), summary.json (key "soup") and the plots (results/<name>/plots). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/fileio.h"
#include "phases/summary.h"
#include "phases/trainer.h"
#include "report/report.h"

typedef struct {
    double loss, acc;
} Score;

static Score evaluate(Phase *p, Model *m, int batch, float *probs) {
    double ev[3];
    eval_dataset(m, p->test, batch, 0, 1, &ev[0], &ev[1], &ev[2], probs);
    Score s = {ev[0] / ev[2], ev[1] / ev[2]};
    return s;
}

/* On the validation split (data.val_split); NaN without one. */
static Score evaluate_val(Phase *p, Model *m, int batch, float *probs) {
    Score s = {NAN, NAN};
    if (!p->val) return s;
    double ev[3];
    eval_dataset(m, p->val, batch, 0, 1, &ev[0], &ev[1], &ev[2], probs);
    s.loss = ev[0] / ev[2];
    s.acc = ev[1] / ev[2];
    return s;
}

/* A JSON number, or null for NaN (no validation split). */
static const char *jnum(char *buf, size_t n, double v) {
    if (isnan(v)) snprintf(buf, n, "null");
    else snprintf(buf, n, "%.6f", v);
    return buf;
}

typedef struct {
    int worker;
    double val_acc; /* of the soup with this worker added, BN recomputed */
    int kept;
} SoupStep;

typedef struct {
    int batch, bn_batch, bn_batches;
    uint64_t bn_seed;
    const Augment *bn_aug; /* NULL: plain images */
} SoupEval;

static void worker_path(Phase *p, char *path, size_t n, int worker) {
    char sub[64];
    snprintf(sub, sizeof sub, "phase2/worker-%d.h5", worker);
    phase_path(p, path, n, sub, 0);
}

/* Greedy soup (Wortsman et al. 2022, as in PAPA's code): workers sorted by validation accuracy, best first
 * (ties: lower index first); each joins only if the soup's validation accuracy does not drop (ties kept). Every
 * candidate soup gets its BN statistics recomputed exactly as the uniform soup does, so candidates compare like
 * for like. Workers are re-read one at a time (memory: two double copies of the model, whatever W). Leaves m
 * holding the soup with BN recomputed; returns the number of members (written to members[], ascending). */
static int greedy_soup(Phase *p, Model *m, const int *have, const Score *wv, int W, const SoupEval *e,
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
        worker_path(p, path, sizeof path, order[t]);
        ckpt_load_into(path, m, NULL, 0);
        for (size_t j = 0; j < ntot; j++) {
            trial[j] = sum[j] + m->ps.data[j];
            m->ps.data[j] = (float)(trial[j] / (k + 1));
        }
        bn_recompute(m, p->train, e->bn_batch, e->bn_batches, e->bn_seed, e->bn_aug);
        Score v = evaluate_val(p, m, e->batch, NULL);
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

/* One row of the printed table; the validation column only when there is a split. */
static void row(const char *name, Score test, Score val) {
    printf("%-28s %9.2f%% %10.4f", name, 100 * test.acc, test.loss);
    if (!isnan(val.acc)) printf(" %9.2f%%", 100 * val.acc);
    printf("\n");
}

static double last_time(const CkptMeta *m) { return m->n_history ? m->history[m->n_history - 1].time_s : 0.0; }

/* WASH/PAPA traffic from the members' checkpoints (state/extra/comm_bytes: bytes sent, steps, picks) as the
 * summary's "communication" object: bytes each member sent, steps, what averaging all parameters every step
 * would have sent, and the ratio. Nothing for independent workers (their checkpoints carry no comm_bytes). */
static size_t comm_json(char *js, size_t cap, const double (*comm)[3], const int *have, int W, size_t n_params) {
    double sum = 0, steps = 0;
    int n = 0;
    for (int i = 0; i < W; i++)
        if (have[i] && comm[i][1] > 0) {
            sum += comm[i][0];
            steps = comm[i][1] > steps ? comm[i][1] : steps;
            n++;
        }
    if (!n) return 0;
    const double mean = sum / n, full = (double)n_params * sizeof(float) * steps;
    size_t len = (size_t)snprintf(js, cap, "  \"communication\": {\"bytes_sent\": [");
    for (int i = 0, first = 1; i < W; i++)
        if (have[i] && comm[i][1] > 0) {
            len += (size_t)snprintf(js + len, cap - len, "%s%.0f", first ? "" : ", ", comm[i][0]);
            first = 0;
        }
    len += (size_t)snprintf(js + len, cap - len,
                            "], \"bytes_sent_mean\": %.0f, \"steps\": %.0f, \"every_step_average_bytes\": %.0f, "
                            "\"ratio\": %.6g},\n",
                            mean, steps, full, full > 0 ? mean / full : 0.0);
    return len;
}

/* Ensemble accuracy: mean of the members' softmax outputs. */
static Score ensemble_score(const double *sum_probs, const Dataset *d, int k, int members) {
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

int main(int argc, char **argv) {
    Phase p;
    phase_start(&p, argc, argv, "EXPERIMENT.lua [--min-workers K] [--set key=value]...", "threads");
    const double t0 = wall_seconds();
    const Config *cfg = p.cfg;
    if (p.comm.size > 1) swap_fail("swap-average runs on one rank (got %d)", p.comm.size);
    const int W = (int)cfg_int(cfg, "phase2.workers");
    int need = p.args.min_workers >= 0 ? p.args.min_workers : (int)cfg_int(cfg, "phase3.min_workers");
    if (need <= 0 || need > W) need = W;
    const int eval_batch = (int)cfg_int(cfg, "phase3.eval_batch");
    int bn_batch = (int)cfg_int(cfg, "phase3.bn_batch");
    if (bn_batch <= 0) bn_batch = (int)cfg_int(cfg, "phase2.batch");
    const int bn_batches = (int)cfg_int(cfg, "phase3.bn_batches");

    char p1_path[1024];
    phase_path(&p, p1_path, sizeof p1_path, "phase1/model.h5", 0);
    if (!file_exists(p1_path)) swap_fail("%s: phase-1 model not found (run swap-train first)", p1_path);

    /* which workers finished */
    int *have = xCalloc((size_t)W, sizeof *have);
    int n_have = 0;
    char missing[4096] = "";
    for (int i = 0; i < W; i++) {
        char sub[64], path[1024], err[512];
        snprintf(sub, sizeof sub, "phase2/worker-%d.h5", i);
        phase_path(&p, path, sizeof path, sub, 0);
        if (file_exists(path) && ckpt_verify(path, err, sizeof err) == 0) {
            have[i] = 1;
            n_have++;
        } else {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%d", l ? ", " : "", i);
            if (file_exists(path)) swap_warn("%s", err);
        }
    }
    if (n_have < need)
        swap_fail("%s/phase2: %d of %d workers finished (missing: %s); need %d (use --min-workers to go on with fewer)",
                  p.dir, n_have, W, missing, need);
    if (n_have < W) swap_warn("going on with %d of %d workers; missing: %s", n_have, W, missing);

    phase_load_data(&p, 1, 1);
    CkptMeta p1meta;
    Model *m = ckpt_load_model(p1_path, &p1meta, 0);
    phase_check_val_split(&p, &p1meta, p1_path);
    const int k = m->spec.classes;
    const size_t ntot = m->ps.n_total;
    const int nval = p.val ? p.val->n : 0;
    Score s_p1 = evaluate(&p, m, eval_batch, NULL);
    Score v_p1 = evaluate_val(&p, m, eval_batch, NULL);

    double *avg = xCalloc(ntot, sizeof *avg);
    double *ens = xCalloc((size_t)p.test->n * k, sizeof *ens);
    float *probs = xMalloc((size_t)p.test->n * k * sizeof *probs);
    Score *ws = xCalloc((size_t)W, sizeof *ws);
    Score *wv = xCalloc((size_t)W, sizeof *wv);
    double *ens_val = xCalloc((size_t)nval * k + 1, sizeof *ens_val);
    float *probs_val = xMalloc(((size_t)nval * k + 1) * sizeof *probs_val);
    double *wtime = xCalloc((size_t)W, sizeof *wtime);
    char (*whash)[CKPT_HASH_HEX] = xCalloc((size_t)W, sizeof *whash);
    const int greedy = !strcmp(cfg_str(cfg, "phase3.soup"), "greedy");
    if (greedy && !p.val)
        swap_fail("phase3.soup = \"greedy\" picks workers by validation accuracy: it needs data.val_split > 0");
    double (*comm)[3] = xCalloc((size_t)W, sizeof *comm);
    CkptMeta out;
    phase_meta(&p, &out, "average", -1, W);
    for (int i = 0; i < W; i++) {
        if (signals_pending()) { /* nothing written yet: the same command simply starts over */
            printf("%s: signal received before any output was written; run the same command again\n", swap_progname());
            return SWAP_EXIT_PREEMPTED;
        }
        if (!have[i]) continue;
        char sub[64], path[1024];
        snprintf(sub, sizeof sub, "phase2/worker-%d.h5", i);
        phase_path(&p, path, sizeof path, sub, 0);
        CkptMeta wm;
        ckpt_load_into(path, m, &wm, 0); /* strict names and shapes: a different architecture is an error */
        phase_check_val_split(&p, &wm, path);
        if (wm.n_parents < 1 || strcmp(wm.parents[0].hash, p1meta.content_hash))
            swap_fail("%s: trained from a different phase-1 model (parent %s, expected %s from %s)", path,
                      wm.n_parents ? wm.parents[0].hash : "none", p1meta.content_hash, p1_path);
        for (size_t j = 0; j < ntot; j++) avg[j] += m->ps.data[j];
        ws[i] = evaluate(&p, m, eval_batch, probs);
        for (size_t j = 0; j < (size_t)p.test->n * k; j++) ens[j] += probs[j];
        wv[i] = evaluate_val(&p, m, eval_batch, probs_val);
        for (size_t j = 0; j < (size_t)nval * k; j++) ens_val[j] += probs_val[j];
        wtime[i] = last_time(&wm);
        snprintf(whash[i], sizeof whash[i], "%s", wm.content_hash);
        size_t nc = 0;
        const double *cb = ckpt_meta_get(&wm, "comm_bytes", CKPT_F64, &nc);
        if (cb && nc == 3) memcpy(comm[i], cb, sizeof comm[i]);
        ckpt_meta_free(&wm);
    }
    for (size_t j = 0; j < ntot; j++) m->ps.data[j] = (float)(avg[j] / n_have);
    Score s_avg_raw = evaluate(&p, m, eval_batch, NULL);
    Augment bn_aug;
    const SoupEval se = {.batch = eval_batch, .bn_batch = bn_batch, .bn_batches = bn_batches,
                         .bn_seed = phase_seed((uint64_t)cfg_int(cfg, "seed"), 4, 0),
                         .bn_aug = bn_augment_from_config(cfg, &bn_aug)};
    bn_recompute(m, p.train, bn_batch, bn_batches, se.bn_seed, se.bn_aug);
    Score s_avg = evaluate(&p, m, eval_batch, NULL);
    Score v_avg = evaluate_val(&p, m, eval_batch, NULL);
    Score s_ens = ensemble_score(ens, p.test, k, n_have);
    Score v_ens = p.val ? ensemble_score(ens_val, p.val, k, n_have) : v_avg;

    /* the output model: the uniform soup above, or the greedy one */
    int *members = xMalloc((size_t)W * sizeof *members), n_members = 0, n_steps = 0;
    SoupStep *steps = xCalloc((size_t)W, sizeof *steps);
    Score s_soup = s_avg, v_soup = v_avg;
    if (greedy) {
        double vacc;
        n_members = greedy_soup(&p, m, have, wv, W, &se, members, steps, &n_steps, &vacc);
        s_soup = evaluate(&p, m, eval_batch, NULL);
        v_soup = evaluate_val(&p, m, eval_batch, NULL);
    } else {
        for (int i = 0; i < W; i++)
            if (have[i]) members[n_members++] = i;
    }
    int64_t *mem64 = xMalloc(((size_t)n_members + 1) * sizeof *mem64);
    for (int i = 0; i < n_members; i++) {
        char path[1024];
        worker_path(&p, path, sizeof path, members[i]);
        ckpt_meta_add_parent(&out, whash[members[i]], path);
        mem64[i] = members[i];
    }
    ckpt_meta_set_soup(&out, greedy ? "greedy" : "uniform", mem64, n_members);
    const double t3 = wall_seconds() - t0;

    char out_path[1024], sum_path[1024];
    phase_path(&p, out_path, sizeof out_path, "phase3/model.h5", 1);
    phase_path(&p, sum_path, sizeof sum_path, "summary.json", 0);
    EpochRecord rec = ckpt_epoch_record(0);
    rec.time_s = t3;
    rec.test_loss = s_soup.loss;
    rec.test_acc = s_soup.acc;
    rec.val_loss = v_soup.loss;
    rec.val_acc = v_soup.acc;
    ckpt_meta_add_epoch(&out, &rec);
    out.seed = (uint64_t)cfg_int(cfg, "seed");
    ckpt_save(out_path, m, &out, 0);

    /* summary: the numbers every tool (collect, plots, tests) reads */
    const double t1 = last_time(&p1meta);
    double tmax = 0;
    for (int i = 0; i < W; i++)
        if (have[i] && wtime[i] > tmax) tmax = wtime[i];
    size_t cap = 8192 + (size_t)W * 280, len = 0;
    char *js = xMalloc(cap);
    char vb[32];
#define J(...) len += (size_t)snprintf(js + len, cap - len, __VA_ARGS__)
    J("{\n  \"name\": \"%s\",\n  \"model\": \"%s\",\n  \"dataset\": \"%s\",\n  \"test_samples\": %d,\n", cfg_str(cfg, "name"),
      m->name, p.test->name, p.test->n);
    J("  \"val_samples\": %d,\n", nval);
    J("  \"phase1\": {\"test_acc\": %.6f, \"test_loss\": %.6f, \"epochs\": %d, \"train_acc\": %.6f, \"time_s\": %.3f, "
      "\"hash\": \"%s\", \"val_acc\": %s},\n",
      s_p1.acc, s_p1.loss, p1meta.n_history,
      p1meta.n_history ? p1meta.history[p1meta.n_history - 1].train_acc : 0.0, t1, p1meta.content_hash,
      jnum(vb, sizeof vb, v_p1.acc));
    J("  \"workers\": [");
    int first = 1;
    for (int i = 0; i < W; i++) {
        if (!have[i]) continue;
        J("%s\n    {\"worker\": %d, \"test_acc\": %.6f, \"test_loss\": %.6f, \"time_s\": %.3f, \"val_acc\": %s}",
          first ? "" : ",", i, ws[i].acc, ws[i].loss, wtime[i], jnum(vb, sizeof vb, wv[i].acc));
        first = 0;
    }
    J("\n  ],\n  \"missing_workers\": [%s],\n", missing);
    J("  \"average\": {\"test_acc_before_bn\": %.6f, \"test_loss_before_bn\": %.6f, \"test_acc\": %.6f, "
      "\"test_loss\": %.6f, \"bn_batches\": %d, \"bn_batch\": %d, \"bn_augment\": %s, \"val_acc\": %s},\n",
      s_avg_raw.acc, s_avg_raw.loss, s_avg.acc, s_avg.loss, bn_batches, bn_batch, se.bn_aug ? "true" : "false",
      jnum(vb, sizeof vb, v_avg.acc));
    J("  \"soup\": {\"kind\": \"%s\", \"members\": [", greedy ? "greedy" : "uniform");
    for (int i = 0; i < n_members; i++) J("%s%d", i ? ", " : "", members[i]);
    J("], \"val_acc\": %s, \"test_acc\": %.6f, \"test_loss\": %.6f, \"steps\": [", jnum(vb, sizeof vb, v_soup.acc),
      s_soup.acc, s_soup.loss);
    for (int t = 0; t < n_steps; t++)
        J("%s{\"worker\": %d, \"val_acc\": %.6f, \"kept\": %s}", t ? ", " : "", steps[t].worker, steps[t].val_acc,
          steps[t].kept ? "true" : "false");
    J("]},\n");
    J("  \"ensemble\": {\"test_acc\": %.6f, \"test_loss\": %.6f, \"val_acc\": %s},\n", s_ens.acc, s_ens.loss,
      jnum(vb, sizeof vb, v_ens.acc));
    J("  \"phase2\": {\"mode\": \"%s\", \"workers\": %d, \"time_s\": %.3f},\n", cfg_str(cfg, "phase2.mode"), n_have, tmax);
    len += comm_json(js + len, cap - len, (const double(*)[3])comm, have, W, m->ps.n_params);
    J("  \"phase3\": {\"time_s\": %.3f},\n  \"critical_path_s\": %.3f\n}\n", t3, t1 + tmax + t3);
#undef J
    xCheck(len < cap, "summary buffer");
    summary_write(&p, js, len); /* adds the baselines' rows and the critical path, under the summary lock */

    printf("\n%-28s %10s %10s%s\n", "model", "test acc", "test loss", p.val ? "    val acc" : "");
    row("phase 1", s_p1, v_p1);
    for (int i = 0; i < W; i++)
        if (have[i]) {
            char nm[32];
            snprintf(nm, sizeof nm, "worker %d", i);
            row(nm, ws[i], wv[i]);
        }
    Score none = {NAN, NAN};
    row("average (before BN update)", s_avg_raw, none);
    row(greedy ? "average (uniform soup)" : "average (SWAP)", s_avg, v_avg);
    if (greedy) {
        char nm[48];
        snprintf(nm, sizeof nm, "greedy soup (%d of %d)", n_members, n_have);
        row(nm, s_soup, v_soup);
    }
    row("ensemble of workers", s_ens, v_ens);
    if (greedy) {
        printf("greedy soup: workers best-first by validation accuracy; each kept if the soup's val acc does not drop\n");
        for (int t = 0; t < n_steps; t++)
            printf("  + worker %-4d soup val %6.2f%%  %s\n", steps[t].worker, 100 * steps[t].val_acc,
                   steps[t].kept ? "kept" : "left out");
    }
    printf("times: phase 1 %.1f s, phase 2 %.1f s (slowest worker), phase 3 %.1f s\n", t1, tmax, t3);
    printf("%s: wrote %s and %s\n", swap_progname(), out_path, sum_path);
    fflush(stdout);
    /* pictures next to the numbers; a plotting problem (or no gnuplot) is only a warning */
    char p1_log[1024];
    phase_path(&p, p1_log, sizeof p1_log, "phase1/log.jsonl", 0);
    if (report_experiment_plots(p.dir, p1_log) == REPORT_OK) printf("%s: wrote %s/plots\n", swap_progname(), p.dir);

    free(js);
    free(avg);
    free(ens);
    free(probs);
    free(ws);
    free(wv);
    free(whash);
    free(members);
    free(steps);
    free(mem64);
    free(ens_val);
    free(probs_val);
    free(wtime);
    free(comm);
    free(have);
    ckpt_meta_free(&out);
    ckpt_meta_free(&p1meta);
    model_free(m);
    phase_finish(&p);
    return 0;
}
