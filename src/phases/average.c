#include "phases/average.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/layout.h"
#include "phases/drift.h"
#include "phases/soup.h"
#include "phases/summary.h"
#include "phases/trainer.h"

/* One row of the printed table; the validation column only when there is a split. */
static void row(const char *name, Score test, Score val) {
    printf("%-28s %9.2f%% %10.4f", name, 100 * test.acc, test.loss);
    if (!isnan(val.acc)) printf(" %9.2f%%", 100 * val.acc);
    printf("\n");
}

static double last_time(const CkptMeta *m) { return m->n_history ? m->history[m->n_history - 1].time_s : 0.0; }

/* Everything phase 3 reads, measures and writes, so that each step below is a function of it. */
struct Avg {
    Phase *p;
    const Config *cfg;
    int W, n_have, eval_batch, greedy, k, nval;
    size_t ntot;
    char p1_path[1024], missing[4096];
    int *have;
    CkptMeta p1meta, out;
    Model *m;
    /* per worker: test and validation scores, phase-2 time, content hash, WASH/PAPA traffic */
    Score *ws, *wv;
    double *wtime;
    char (*whash)[CKPT_HASH_HEX];
    double (*comm)[3];
    /* sums over the workers: weights, test and validation softmax outputs */
    double *avg, *ens, *ens_val;
    float *probs, *probs_val;
    Score s_p1, v_p1, s_avg_raw, s_avg, v_avg, s_ens, v_ens, s_soup, v_soup;
    Augment bn_aug;
    SoupEval se;
    int *members, n_members, n_steps;
    SoupStep *steps;
    double t1, tmax, t3;
    int lock;
};

/* Which workers finished (a checkpoint that verifies); fails below the quorum. */
static void find_workers(Avg *a) {
    int need = a->p->args.min_workers >= 0 ? a->p->args.min_workers : (int)cfg_int(a->cfg, "phase3.min_workers");
    if (need <= 0 || need > a->W) need = a->W;
    a->have = xCalloc((size_t)a->W, sizeof *a->have);
    for (int i = 0; i < a->W; i++) {
        char path[1024], err[512];
        soup_worker_path(a->p, path, sizeof path, i);
        if (file_exists(path) && ckpt_verify(path, err, sizeof err) == 0) {
            drift_require(a->cfg, path, DRIFT_PHASE2, NULL);
            a->have[i] = 1;
            a->n_have++;
        } else {
            size_t l = strlen(a->missing);
            snprintf(a->missing + l, sizeof a->missing - l, "%s%d", l ? ", " : "", i);
            if (file_exists(path)) swap_warn("%s", err);
        }
    }
    if (a->n_have < need)
        swap_fail("%s/phase2: %d of %d workers finished (missing: %s); need %d (use --min-workers to go on with fewer)",
                  a->p->dir, a->n_have, a->W, a->missing, need);
    if (a->n_have < a->W) swap_warn("going on with %d of %d workers; missing: %s", a->n_have, a->W, a->missing);
}

static void setup(Avg *a) {
    const Config *cfg = a->cfg;
    if (a->p->comm.size > 1) swap_fail("swap-average runs on one rank (got %d)", a->p->comm.size);
    a->W = (int)cfg_int(cfg, "phase2.workers");
    a->eval_batch = (int)cfg_int(cfg, "phase3.eval_batch");
    int bn_batch = (int)cfg_int(cfg, "phase3.bn_batch");
    if (bn_batch <= 0) bn_batch = (int)cfg_int(cfg, "phase2.batch");
    a->se = (SoupEval){.batch = a->eval_batch, .bn_batch = bn_batch, .bn_batches = (int)cfg_int(cfg, "phase3.bn_batches"),
                       .bn_seed = phase_seed((uint64_t)cfg_int(cfg, "seed"), 4, 0)};
    phase_path(a->p, a->p1_path, sizeof a->p1_path, LAYOUT_PHASE1_MODEL, 0);
    if (!file_exists(a->p1_path)) swap_fail("%s: phase-1 model not found (run swap-train first)", a->p1_path);
    drift_require(cfg, a->p1_path, DRIFT_PHASE1, NULL);
    char p3[1024];
    phase_path(a->p, p3, sizeof p3, LAYOUT_PHASE3_MODEL, 1);
    a->lock = lock_output(p3); /* released at exit */
    if (file_exists(p3)) drift_require(cfg, p3, DRIFT_PHASE3, NULL); /* replaced only by the same recipe's */
    find_workers(a);
    phase_load_data(a->p, 1, 1);
    a->m = ckpt_load_model(a->p1_path, &a->p1meta, 0);
    phase_check_val_split(a->p, &a->p1meta, a->p1_path);
    phase_check_precision(a->p, &a->p1meta, a->p1_path);
    a->k = a->m->spec.classes;
    a->ntot = a->m->ps.n_total;
    a->nval = a->p->val ? a->p->val->n : 0;
    a->s_p1 = soup_score_test(a->p, a->m, a->eval_batch, NULL);
    a->v_p1 = soup_score_val(a->p, a->m, a->eval_batch, NULL);
    const size_t W = (size_t)a->W, nk = (size_t)a->p->test->n * a->k, nvk = (size_t)a->nval * a->k;
    a->avg = xCalloc(a->ntot, sizeof *a->avg);
    a->ens = xCalloc(nk, sizeof *a->ens);
    a->probs = xMalloc(nk * sizeof *a->probs);
    a->ws = xCalloc(W, sizeof *a->ws);
    a->wv = xCalloc(W, sizeof *a->wv);
    a->ens_val = xCalloc(nvk + 1, sizeof *a->ens_val);
    a->probs_val = xMalloc((nvk + 1) * sizeof *a->probs_val);
    a->wtime = xCalloc(W, sizeof *a->wtime);
    a->whash = xCalloc(W, sizeof *a->whash);
    a->comm = xCalloc(W, sizeof *a->comm);
    a->greedy = !strcmp(cfg_str(cfg, "phase3.soup"), "greedy");
    if (a->greedy && !a->p->val)
        swap_fail("phase3.soup = \"greedy\" picks workers by validation accuracy: it needs data.val_split > 0");
    phase_meta(a->p, &a->out, "average", -1, a->W);
}

/* Worker i into the sums: weights, test and validation outputs; its scores, time, hash and traffic. */
static void add_worker(Avg *a, int i) {
    char path[1024];
    soup_worker_path(a->p, path, sizeof path, i);
    CkptMeta wm;
    Model *m = a->m;
    ckpt_load_into(path, m, &wm, 0); /* strict names and shapes: a different architecture is an error */
    phase_check_val_split(a->p, &wm, path);
    phase_check_precision(a->p, &wm, path);
    if (wm.n_parents < 1 || strcmp(wm.parents[0].hash, a->p1meta.content_hash))
        swap_fail("%s: trained from a different phase-1 model (parent %s, expected %s from %s)", path,
                  wm.n_parents ? wm.parents[0].hash : "none", a->p1meta.content_hash, a->p1_path);
    for (size_t j = 0; j < a->ntot; j++) a->avg[j] += m->ps.data[j];
    a->ws[i] = soup_score_test(a->p, m, a->eval_batch, a->probs);
    for (size_t j = 0; j < (size_t)a->p->test->n * a->k; j++) a->ens[j] += a->probs[j];
    a->wv[i] = soup_score_val(a->p, m, a->eval_batch, a->probs_val);
    for (size_t j = 0; j < (size_t)a->nval * a->k; j++) a->ens_val[j] += a->probs_val[j];
    a->wtime[i] = last_time(&wm);
    snprintf(a->whash[i], sizeof a->whash[i], "%s", wm.content_hash);
    size_t nc = 0;
    const double *cb = ckpt_meta_get(&wm, "comm_bytes", CKPT_F64, &nc);
    if (cb && nc == 3) memcpy(a->comm[i], cb, sizeof a->comm[i]);
    ckpt_meta_free(&wm);
}

/* The uniform average (scored before and after the BN update) and the ensemble. */
static void average(Avg *a) {
    Model *m = a->m;
    for (size_t j = 0; j < a->ntot; j++) m->ps.data[j] = (float)(a->avg[j] / a->n_have);
    a->s_avg_raw = soup_score_test(a->p, m, a->eval_batch, NULL);
    a->se.bn_aug = bn_augment_from_config(a->cfg, &a->bn_aug);
    bn_recompute(m, a->p->train, a->se.bn_batch, a->se.bn_batches, a->se.bn_seed, a->se.bn_aug);
    a->s_avg = soup_score_test(a->p, m, a->eval_batch, NULL);
    a->v_avg = soup_score_val(a->p, m, a->eval_batch, NULL);
    a->s_ens = soup_ensemble_score(a->ens, a->p->test, a->k, a->n_have);
    a->v_ens = a->p->val ? soup_ensemble_score(a->ens_val, a->p->val, a->k, a->n_have) : a->v_avg;
}

/* The output model: the uniform soup above, or the greedy one; its members become its parents. */
static void choose_soup(Avg *a) {
    a->members = xMalloc((size_t)a->W * sizeof *a->members);
    a->steps = xCalloc((size_t)a->W, sizeof *a->steps);
    a->s_soup = a->s_avg, a->v_soup = a->v_avg;
    if (a->greedy) {
        double vacc;
        a->n_members = soup_greedy(a->p, a->m, a->have, a->wv, a->W, &a->se, a->members, a->steps, &a->n_steps, &vacc);
        a->s_soup = soup_score_test(a->p, a->m, a->eval_batch, NULL);
        a->v_soup = soup_score_val(a->p, a->m, a->eval_batch, NULL);
    } else {
        for (int i = 0; i < a->W; i++)
            if (a->have[i]) a->members[a->n_members++] = i;
    }
    int64_t *mem64 = xMalloc(((size_t)a->n_members + 1) * sizeof *mem64);
    for (int i = 0; i < a->n_members; i++) {
        char path[1024];
        soup_worker_path(a->p, path, sizeof path, a->members[i]);
        ckpt_meta_add_parent(&a->out, a->whash[a->members[i]], path);
        mem64[i] = a->members[i];
    }
    ckpt_meta_set_soup(&a->out, a->greedy ? "greedy" : "uniform", mem64, a->n_members);
    free(mem64);
}

static void save_model(Avg *a, const char *out_path) {
    EpochRecord rec = ckpt_epoch_record(0);
    rec.time_s = a->t3;
    rec.test_loss = a->s_soup.loss;
    rec.test_acc = a->s_soup.acc;
    rec.val_loss = a->v_soup.loss;
    rec.val_acc = a->v_soup.acc;
    ckpt_meta_add_epoch(&a->out, &rec);
    a->out.seed = (uint64_t)cfg_int(a->cfg, "seed");
    model_conv_kernels(a->m, a->out.conv, sizeof a->out.conv);
    ckpt_save(out_path, a->m, &a->out, 0);
}

/* ---------------------------------------------------------------- summary.json */

#define F6(v) json_number_as((v), "%.6f")
#define F3(v) json_number_as((v), "%.3f")

static cJSON *phase1_json(const Avg *a) {
    const CkptMeta *pm = &a->p1meta;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "test_acc", F6(a->s_p1.acc));
    cJSON_AddItemToObject(o, "test_loss", F6(a->s_p1.loss));
    cJSON_AddNumberToObject(o, "epochs", pm->n_history);
    cJSON_AddItemToObject(o, "train_acc", F6(pm->n_history ? pm->history[pm->n_history - 1].train_acc : 0.0));
    cJSON_AddItemToObject(o, "time_s", F3(a->t1));
    cJSON_AddStringToObject(o, "hash", pm->content_hash);
    cJSON_AddItemToObject(o, "val_acc", F6(a->v_p1.acc));
    return o;
}

static cJSON *workers_json(const Avg *a) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < a->W; i++) {
        if (!a->have[i]) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "worker", i);
        cJSON_AddItemToObject(o, "test_acc", F6(a->ws[i].acc));
        cJSON_AddItemToObject(o, "test_loss", F6(a->ws[i].loss));
        cJSON_AddItemToObject(o, "time_s", F3(a->wtime[i]));
        cJSON_AddItemToObject(o, "val_acc", F6(a->wv[i].acc));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *missing_json(const Avg *a) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < a->W; i++)
        if (!a->have[i]) cJSON_AddItemToArray(arr, cJSON_CreateNumber(i));
    return arr;
}

static cJSON *average_json(const Avg *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "test_acc_before_bn", F6(a->s_avg_raw.acc));
    cJSON_AddItemToObject(o, "test_loss_before_bn", F6(a->s_avg_raw.loss));
    cJSON_AddItemToObject(o, "test_acc", F6(a->s_avg.acc));
    cJSON_AddItemToObject(o, "test_loss", F6(a->s_avg.loss));
    cJSON_AddNumberToObject(o, "bn_batches", a->se.bn_batches);
    cJSON_AddNumberToObject(o, "bn_batch", a->se.bn_batch);
    cJSON_AddBoolToObject(o, "bn_augment", a->se.bn_aug != NULL);
    cJSON_AddItemToObject(o, "val_acc", F6(a->v_avg.acc));
    return o;
}

static cJSON *soup_json(const Avg *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", a->greedy ? "greedy" : "uniform");
    cJSON_AddItemToObject(o, "members", cJSON_CreateIntArray(a->members, a->n_members));
    cJSON_AddItemToObject(o, "val_acc", F6(a->v_soup.acc));
    cJSON_AddItemToObject(o, "test_acc", F6(a->s_soup.acc));
    cJSON_AddItemToObject(o, "test_loss", F6(a->s_soup.loss));
    cJSON *steps = cJSON_AddArrayToObject(o, "steps");
    for (int t = 0; t < a->n_steps; t++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "worker", a->steps[t].worker);
        cJSON_AddItemToObject(s, "val_acc", F6(a->steps[t].val_acc));
        cJSON_AddBoolToObject(s, "kept", a->steps[t].kept);
        cJSON_AddItemToArray(steps, s);
    }
    return o;
}

/* WASH/PAPA traffic from the members' checkpoints (state/extra/comm_bytes: bytes sent, steps, picks): bytes each
 * member sent, steps, what averaging all parameters every step would have sent, and the ratio. NULL for
 * independent workers (their checkpoints carry no comm_bytes). */
static cJSON *communication_json(const Avg *a) {
    double sum = 0, steps = 0;
    int n = 0;
    cJSON *sent = cJSON_CreateArray();
    for (int i = 0; i < a->W; i++)
        if (a->have[i] && a->comm[i][1] > 0) {
            sum += a->comm[i][0];
            steps = a->comm[i][1] > steps ? a->comm[i][1] : steps;
            n++;
            cJSON_AddItemToArray(sent, json_number_as(a->comm[i][0], "%.0f"));
        }
    if (!n) {
        cJSON_Delete(sent);
        return NULL;
    }
    const double mean = sum / n, full = (double)a->m->ps.n_params * sizeof(float) * steps;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "bytes_sent", sent);
    cJSON_AddItemToObject(o, "bytes_sent_mean", json_number_as(mean, "%.0f"));
    cJSON_AddItemToObject(o, "steps", json_number_as(steps, "%.0f"));
    cJSON_AddItemToObject(o, "every_step_average_bytes", json_number_as(full, "%.0f"));
    cJSON_AddItemToObject(o, "ratio", json_number_as(full > 0 ? mean / full : 0.0, "%.6g"));
    return o;
}

/* The numbers every tool (collect, plots, tests) reads, in the order readers have always seen them. */
static cJSON *summary_of(const Avg *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", cfg_str(a->cfg, "name"));
    cJSON_AddStringToObject(o, "model", a->m->name);
    cJSON_AddStringToObject(o, "dataset", a->p->test->name);
    cJSON_AddNumberToObject(o, "test_samples", a->p->test->n);
    cJSON_AddNumberToObject(o, "val_samples", a->nval);
    cJSON_AddItemToObject(o, "phase1", phase1_json(a));
    cJSON_AddItemToObject(o, "workers", workers_json(a));
    cJSON_AddItemToObject(o, "missing_workers", missing_json(a));
    cJSON_AddItemToObject(o, "average", average_json(a));
    cJSON_AddItemToObject(o, "soup", soup_json(a));
    cJSON *ens = cJSON_AddObjectToObject(o, "ensemble");
    cJSON_AddItemToObject(ens, "test_acc", F6(a->s_ens.acc));
    cJSON_AddItemToObject(ens, "test_loss", F6(a->s_ens.loss));
    cJSON_AddItemToObject(ens, "val_acc", F6(a->v_ens.acc));
    cJSON *p2 = cJSON_AddObjectToObject(o, "phase2");
    cJSON_AddStringToObject(p2, "mode", cfg_str(a->cfg, "phase2.mode"));
    cJSON_AddNumberToObject(p2, "workers", a->n_have);
    cJSON_AddItemToObject(p2, "time_s", F3(a->tmax));
    cJSON *comm = communication_json(a);
    if (comm) cJSON_AddItemToObject(o, "communication", comm);
    cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "phase3"), "time_s", F3(a->t3));
    cJSON_AddItemToObject(o, "critical_path_s", F3(a->t1 + a->tmax + a->t3));
    return o;
}

#undef F6
#undef F3

static void print_table(const Avg *a) {
    printf("\n%-28s %10s %10s%s\n", "model", "test acc", "test loss", a->p->val ? "    val acc" : "");
    row("phase 1", a->s_p1, a->v_p1);
    for (int i = 0; i < a->W; i++)
        if (a->have[i]) {
            char nm[32];
            snprintf(nm, sizeof nm, "worker %d", i);
            row(nm, a->ws[i], a->wv[i]);
        }
    Score none = {NAN, NAN};
    row("average (before BN update)", a->s_avg_raw, none);
    row(a->greedy ? "average (uniform soup)" : "average (SWAP)", a->s_avg, a->v_avg);
    if (a->greedy) {
        char nm[48];
        snprintf(nm, sizeof nm, "greedy soup (%d of %d)", a->n_members, a->n_have);
        row(nm, a->s_soup, a->v_soup);
    }
    row("ensemble of workers", a->s_ens, a->v_ens);
    if (a->greedy) {
        printf("greedy soup: workers best-first by validation accuracy; each kept if the soup's val acc does not drop\n");
        for (int t = 0; t < a->n_steps; t++)
            printf("  + worker %-4d soup val %6.2f%%  %s\n", a->steps[t].worker, 100 * a->steps[t].val_acc,
                   a->steps[t].kept ? "kept" : "left out");
    }
    printf("times: phase 1 %.1f s, phase 2 %.1f s (slowest worker), phase 3 %.1f s\n", a->t1, a->tmax, a->t3);
}

void average_free(Avg *a) {
    void *bufs[] = {a->avg, a->ens, a->probs, a->ws, a->wv, a->whash, a->members, a->steps,
                    a->ens_val, a->probs_val, a->wtime, a->comm, a->have};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    ckpt_meta_free(&a->out);
    ckpt_meta_free(&a->p1meta);
    model_free(a->m);
    free(a);
}

void average_write(Avg *a, double t3) {
    char out_path[1024], sum_path[1024];
    a->t3 = t3;
    phase_path(a->p, out_path, sizeof out_path, LAYOUT_PHASE3_MODEL, 1);
    phase_path(a->p, sum_path, sizeof sum_path, LAYOUT_SUMMARY, 0);
    save_model(a, out_path);
    a->t1 = last_time(&a->p1meta);
    for (int i = 0; i < a->W; i++)
        if (a->have[i] && a->wtime[i] > a->tmax) a->tmax = a->wtime[i];
    cJSON *summary = summary_of(a);
    char *js = json_line(summary);
    cJSON_Delete(summary);
    summary_write(a->p, js, strlen(js));
    free(js);
    print_table(a);
    printf("%s: wrote %s and %s\n", swap_progname(), out_path, sum_path);
    fflush(stdout);
}

Avg *average_setup(Phase *p) {
    Avg *a = xCalloc(1, sizeof *a);
    a->p = p;
    a->cfg = p->cfg;
    setup(a);
    return a;
}

int average_add_workers(Avg *a) {
    for (int i = 0; i < a->W; i++) {
        if (signals_pending()) return SWAP_EXIT_PREEMPTED;
        if (a->have[i]) add_worker(a, i);
    }
    return SWAP_EXIT_OK;
}

void average_combine(Avg *a) {
    average(a);
    choose_soup(a);
}
