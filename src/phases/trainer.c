#include "phases/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/rng.h"

uint64_t phase_seed(uint64_t seed, uint64_t phase, uint64_t worker) {
    Rng r;
    rng_stream(&r, seed, RNG_SHUFFLE, phase, worker);
    return rng_u64(&r);
}

static char *key(char *buf, size_t n, const char *section, const char *leaf) {
    snprintf(buf, n, "%s.%s", section, leaf);
    return buf;
}

Schedule schedule_from_config(const Config *cfg, const char *section, double lr, int epochs) {
    char k[96];
    Schedule s;
    memset(&s, 0, sizeof s);
    const char *name = cfg_str(cfg, key(k, sizeof k, section, "schedule"));
    int kind = sched_kind_from_name(name);
    if (kind < 0) swap_fail("%s: unknown schedule '%s'", k, name);
    s.kind = (SchedKind)kind;
    s.base_lr = lr;
    s.total = epochs;
    s.warmup = cfg_num(cfg, key(k, sizeof k, section, "warmup")) * epochs;
    s.final_frac = cfg_num(cfg, key(k, sizeof k, section, "final_lr_frac"));
    if (s.kind == SCHED_STEP) {
        s.step_every = cfg_num(cfg, key(k, sizeof k, section, "step_every"));
        s.gamma = cfg_num(cfg, key(k, sizeof k, section, "gamma"));
        if (s.step_every <= 0) swap_fail("%s.step_every: must be > 0 for the step schedule", section);
    }
    if (s.kind == SCHED_KNOTS) {
        key(k, sizeof k, section, "knots");
        size_t n = cfg_len(cfg, k);
        if (n < 2 || n % 2 || n / 2 > SCHED_MAX_KNOTS)
            swap_fail("%s: expected 1..%d {epoch, multiplier} pairs for the knots schedule", k, SCHED_MAX_KNOTS);
        s.n_knots = (int)(n / 2);
        for (int i = 0; i < s.n_knots; i++) {
            s.knot_t[i] = cfg_num_at(cfg, k, 2 * (size_t)i);
            s.knot_v[i] = cfg_num_at(cfg, k, 2 * (size_t)i + 1);
            if (i && s.knot_t[i] <= s.knot_t[i - 1]) swap_fail("%s: knot epochs must increase", k);
        }
    }
    return s;
}

SgdConfig sgd_from_config(const Config *cfg) {
    SgdConfig c = {.momentum = (float)cfg_num(cfg, "optim.momentum"),
                   .nesterov = cfg_bool(cfg, "optim.nesterov"),
                   .weight_decay = (float)cfg_num(cfg, "optim.weight_decay"),
                   .decay_bn_and_bias = cfg_bool(cfg, "optim.decay_bn_bias")};
    return c;
}

Augment augment_from_config(const Config *cfg) {
    Augment a = {.crop_pad = (int)cfg_int(cfg, "augment.crop_pad"),
                 .flip = cfg_bool(cfg, "augment.flip"),
                 .cutout = (int)cfg_int(cfg, "augment.cutout")};
    return a;
}

static const Augment *active(Augment *a) { return a->crop_pad || a->flip || a->cutout ? a : NULL; }

const Augment *bn_augment_from_config(const Config *cfg, Augment *buf) {
    if (!cfg_bool(cfg, "phase3.bn_augment")) return NULL;
    *buf = augment_from_config(cfg);
    return active(buf);
}

const Augment *bn_augment_from_meta(const CkptMeta *meta, Augment *buf) {
    char v[64];
    if (!ckpt_meta_config_value(meta, "phase3.bn_augment", v, sizeof v) || strcmp(v, "true")) return NULL;
    ckpt_meta_config_value(meta, "augment.crop_pad", v, sizeof v);
    buf->crop_pad = atoi(v);
    ckpt_meta_config_value(meta, "augment.flip", v, sizeof v);
    buf->flip = !strcmp(v, "true");
    ckpt_meta_config_value(meta, "augment.cutout", v, sizeof v);
    buf->cutout = atoi(v);
    return active(buf);
}

/* Resumable state beyond tensors: cursor and the running sums of the current epoch. */
typedef struct {
    long epoch, step_in_epoch, global_step, samples;
    double loss_sum, correct, count, elapsed;
} Cursor;

static void save_checkpoint(TrainJob *j, const char *path, const Cursor *c, const EpochRecord *hist, int n_hist,
                            int final, const float *rank_bn) {
    CkptMeta meta;
    phase_meta(j->p, &meta, j->phase_name, j->worker, j->n_workers);
    meta.epoch = (int)c->epoch;
    meta.step = c->global_step;
    meta.samples_seen = c->samples;
    meta.seed = j->seed;
    meta.cursor_epoch = c->epoch;
    meta.cursor_step = c->step_in_epoch;
    for (int i = 0; i < n_hist; i++) ckpt_meta_add_epoch(&meta, &hist[i]);
    if (j->parent) ckpt_meta_add_parent(&meta, j->parent->content_hash, j->parent_path);
    int64_t cur[4] = {c->epoch, c->step_in_epoch, c->global_step, c->samples};
    double acc[4] = {c->loss_sum, c->correct, c->count, c->elapsed};
    int64_t complete = final;
    ckpt_meta_put(&meta, "cursor", CKPT_I64, cur, 4);
    ckpt_meta_put(&meta, "epoch_sums", CKPT_F64, acc, 4);
    ckpt_meta_put(&meta, "complete", CKPT_I64, &complete, 1);
    if (rank_bn)
        ckpt_meta_put(&meta, "rank_bn_buffers", CKPT_F32, rank_bn,
                      (size_t)j->p->comm.size * (j->m->ps.n_total - j->m->ps.n_params));
    if (j->state) j->state(j, &meta, 1);
    ckpt_save(path, j->m, &meta, 1);
    ckpt_meta_free(&meta);
}

static int load_resume(TrainJob *j, Cursor *c, EpochRecord **hist, int *n_hist) {
    if (!file_exists(j->resume_path)) return 0;
    ckpt_clean_temps(j->resume_path);
    CkptMeta meta;
    ckpt_load_into(j->resume_path, j->m, &meta, 1);
    size_t ncur = 0, nacc = 0;
    const int64_t *cur = ckpt_meta_get(&meta, "cursor", CKPT_I64, &ncur);
    const double *acc = ckpt_meta_get(&meta, "epoch_sums", CKPT_F64, &nacc);
    if (!cur || !acc || ncur != 4 || nacc != 4)
        swap_fail("%s: not a resumable checkpoint (no state/extra/cursor)", j->resume_path);
    c->epoch = cur[0]; c->step_in_epoch = cur[1]; c->global_step = cur[2]; c->samples = cur[3];
    c->loss_sum = acc[0]; c->correct = acc[1]; c->count = acc[2]; c->elapsed = acc[3];
    *n_hist = meta.n_history;
    *hist = xCalloc((size_t)j->epochs + 1, sizeof **hist);
    memcpy(*hist, meta.history, (size_t)meta.n_history * sizeof **hist);
    /* mid-epoch, data-parallel: every rank continues with its own BN running statistics */
    size_t nbn = 0;
    const float *rbn = ckpt_meta_get(&meta, "rank_bn_buffers", CKPT_F32, &nbn);
    const size_t per = j->m->ps.n_total - j->m->ps.n_params;
    if (rbn && j->data_parallel) {
        if (nbn != (size_t)j->p->comm.size * per)
            swap_fail("%s: written by a %zu-rank job; resume it with the same number of ranks", j->resume_path,
                      per ? nbn / per : 0);
        memcpy(j->m->ps.data + j->m->ps.n_params, rbn + (size_t)j->p->comm.rank * per, per * sizeof(float));
    }
    if (j->state) j->state(j, &meta, 0);
    ckpt_meta_free(&meta);
    return 1;
}

/* Keep the last keep_checkpoints periodic checkpoints as epoch-NNNN.h5 beside the resume checkpoint: a hard
 * link to the file just written costs nothing, and the next atomic rename leaves it untouched. */
static void keep_periodic(const TrainJob *j, int epoch) {
    if (j->keep_checkpoints <= 1) return;
    char pattern[1100], path[1100];
    snprintf(pattern, sizeof pattern, "%s", j->resume_path);
    char *slash = strrchr(pattern, '/');
    char prefix[64] = ""; /* workers share a directory */
    if (!strcmp(j->section, "phase2")) snprintf(prefix, sizeof prefix, "worker-%d.", j->worker);
    snprintf(slash ? slash + 1 : pattern, sizeof pattern - (size_t)(slash ? slash + 1 - pattern : 0),
             "%sepoch-%%04d.h5", prefix);
    snprintf(path, sizeof path, pattern, epoch);
    unlink(path);
    if (link(j->resume_path, path) != 0) {
        swap_warn("%s: cannot keep a periodic checkpoint (%s)", path, strerror(errno));
        return;
    }
    ckpt_rotate(pattern, j->keep_checkpoints);
}

/* Every rank's BN running statistics, concatenated (collective; NULL when there is one rank or no BN).
 * A sum over zero-padded slots is exact, so this is a gather built from the one reduction we have. */
static float *gather_rank_bn(TrainJob *j) {
    ParamStore *ps = &j->m->ps;
    const int R = j->p->comm.size;
    const size_t per = ps->n_total - ps->n_params;
    if (!j->data_parallel || R == 1 || per == 0) return NULL;
    float *all = xCalloc((size_t)R * per, sizeof(float));
    memcpy(all + (size_t)j->p->comm.rank * per, ps->data + ps->n_params, per * sizeof(float));
    comm_sum_floats(all, (size_t)R * per);
    return all;
}

static void sync_bn_buffers(TrainJob *j) {
    ParamStore *ps = &j->m->ps;
    const int R = j->p->comm.size;
    if (!j->data_parallel || R == 1 || ps->n_total == ps->n_params) return;
    float *buf = ps->data + ps->n_params;
    const size_t n = ps->n_total - ps->n_params;
    comm_sum_floats(buf, n);
    for (size_t i = 0; i < n; i++) buf[i] /= (float)R;
}

static void fmt_hms(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void progress(const TrainJob *j, long step, long steps, double loss) {
    const int width = 30;
    int filled = (int)(width * (step + 1) / steps);
    fprintf(stderr, "\r%s w%d [", j->phase_name, j->worker);
    for (int i = 0; i < width; i++) fputc(i < filled ? '=' : ' ', stderr);
    fprintf(stderr, "] %ld/%ld loss %.4f ", step + 1, steps, loss);
    if (step + 1 == steps) fprintf(stderr, "\r%*s\r", width + 48, "");
    fflush(stderr);
}

/* lr_trace: the schedule's rate at 9 evenly spaced points of the epoch (the step nearest each eighth; the last is
 * "lr"), so a plot can draw warmup and decay within an epoch; computed from the schedule, not from training. */
static void append_log(const TrainJob *j, const EpochRecord *r, long epoch, long steps, double ips) {
    FILE *f = fopen(j->log_path, "a");
    if (!f) {
        swap_warn("%s: cannot append to the epoch log", j->log_path);
        return;
    }
    char tl[32] = "null", ta[32] = "null", vl[32] = "null", va[32] = "null";
    if (!isnan(r->test_loss)) snprintf(tl, sizeof tl, "%.6f", r->test_loss);
    if (!isnan(r->test_acc)) snprintf(ta, sizeof ta, "%.6f", r->test_acc);
    if (!isnan(r->val_loss)) snprintf(vl, sizeof vl, "%.6f", r->val_loss);
    if (!isnan(r->val_acc)) snprintf(va, sizeof va, "%.6f", r->val_acc);
    char trace[256];
    size_t tl_len = 0;
    for (int k = 0; k <= 8; k++) {
        long s = (k * steps + 4) / 8;
        if (s < 1) s = 1;
        tl_len += (size_t)snprintf(trace + tl_len, sizeof trace - tl_len, "%s%.6g", k ? "," : "",
                                   sched_lr(&j->sched, epoch + (double)s / steps));
    }
    fprintf(f,
            "{\"phase\":\"%s\",\"worker\":%d,\"epoch\":%d,\"time_s\":%.3f,\"lr\":%.6g,\"lr_trace\":[%s],\"train_loss\":%.6f,"
            "\"train_acc\":%.6f,\"test_loss\":%s,\"test_acc\":%s,\"val_loss\":%s,\"val_acc\":%s,\"images_per_s\":%.1f}\n",
            j->phase_name, j->worker, r->epoch, r->time_s, r->lr, trace, r->train_loss, r->train_acc, tl, ta, vl, va,
            ips);
    fclose(f);
}

static void grads_ready(void *ctx, size_t from) { comm_buckets_ready(ctx, from); }

int train_run(TrainJob *j) {
    Phase *p = j->p;
    Model *m = j->m;
    const Dataset *tr = p->train;
    const int R = j->data_parallel ? p->comm.size : 1;
    const int rank = j->data_parallel ? p->comm.rank : 0;
    const int writer = j->data_parallel ? p->comm.rank == 0 : 1;
    const int G = j->global_batch;
    if (G % R) swap_fail("%s.batch: %d is not divisible by %d ranks", j->section, G, R);
    if (G > tr->n) swap_fail("%s.batch: %d exceeds the %d training samples", j->section, G, tr->n);
    const long steps = tr->n / G;
    int lo, hi;
    dataset_shard(G, rank, R, &lo, &hi);
    const int nb = hi - lo;
    model_set_batch(m, nb);

    Cursor c;
    memset(&c, 0, sizeof c);
    EpochRecord *hist = NULL;
    int n_hist = 0;
    int resumed = load_resume(j, &c, &hist, &n_hist);
    if (!hist) hist = xCalloc((size_t)j->epochs + 1, sizeof *hist);
    if (resumed && writer)
        printf("%s: resuming %s at epoch %ld step %ld\n", swap_progname(), j->resume_path, c.epoch + 1,
               c.step_in_epoch);

    uint32_t *perm = xMalloc((size_t)tr->n * sizeof *perm);
    CommBuckets *buckets = NULL;
    if (R > 1) {
        buckets = comm_buckets_create(m->ps.grad, m->ps.n_params, j->bucket_floats);
        model_set_grad_ready(m, grads_ready, buckets);
        if (writer)
            printf("%s: gradient all-reduce of %zu floats in %d bucket(s)%s\n", j->phase_name, m->ps.n_params,
                   comm_buckets_count(buckets), comm_buckets_count(buckets) > 1 ? ", overlapped with backward" : "");
    }
    const int tty = writer && isatty(2);
    const double t_start = wall_seconds() - c.elapsed;
    int exit_code = SWAP_EXIT_OK;
    int stop = 0;
    double lr = 0.0;

    for (; c.epoch < j->epochs && !stop; c.epoch++) {
        dataset_epoch_order(perm, (size_t)tr->n, j->seed, (int)c.epoch, j->worker);
        const double t_epoch = wall_seconds();
        const long first_step = c.step_in_epoch;
        for (; c.step_in_epoch < steps; c.step_in_epoch++) {
            const long s = c.step_in_epoch;
            const size_t pos = (size_t)s * G + lo;
            lr = sched_lr(&j->sched, c.epoch + (double)(s + 1) / steps);
            dataset_fill_batch(model_input(m), model_labels(m), tr, perm + pos, nb, &j->aug, j->seed, (int)c.epoch,
                               j->worker, pos);
            sgd_zero_grad(&m->ps);
            float loss = model_forward(m, 1, 1);
            c.correct += model_count_correct(m);
            c.loss_sum += (double)loss * nb;
            c.count += nb;
            model_backward(m, 1.0f / (float)R);
            if (buckets) comm_buckets_finish(buckets);
            sgd_step(&m->ps, &j->sgd, (float)lr);
            c.global_step++;
            c.samples += G;
            if (j->post_step) j->post_step(j, c.global_step, lr);
            if (tty) progress(j, s, steps, loss);
            int sig = signals_pending();
            if (p->comm.size > 1) sig = comm_max_int(sig);
            if (sig) {
                c.step_in_epoch++;
                stop = 1;
                break;
            }
        }
        if (stop && c.step_in_epoch < steps) break; /* mid-epoch: checkpoint below, epoch not finished */
        /* epoch finished */
        double sums[3] = {c.loss_sum, c.correct, c.count};
        if (R > 1) comm_sum_doubles(sums, 3);
        EpochRecord r = {.epoch = (int)c.epoch + 1, .lr = lr, .train_loss = sums[0] / sums[2],
                         .train_acc = sums[1] / sums[2], .test_loss = NAN, .test_acc = NAN,
                         .val_loss = NAN, .val_acc = NAN};
        sync_bn_buffers(j);
        const int last = c.epoch + 1 == j->epochs;
        const int eval_now = (j->eval_every > 0 && (c.epoch + 1) % j->eval_every == 0) || last ||
                             r.train_acc >= j->stop_train_acc;
        if (p->test && eval_now) {
            double ev[3];
            eval_dataset(m, p->test, nb, rank, R, &ev[0], &ev[1], &ev[2], NULL);
            if (R > 1) comm_sum_doubles(ev, 3);
            r.test_loss = ev[0] / ev[2];
            r.test_acc = ev[1] / ev[2];
        }
        if (p->val && eval_now) {
            double ev[3];
            eval_dataset(m, p->val, nb, rank, R, &ev[0], &ev[1], &ev[2], NULL);
            if (R > 1) comm_sum_doubles(ev, 3);
            r.val_loss = ev[0] / ev[2];
            r.val_acc = ev[1] / ev[2];
        }
        r.time_s = wall_seconds() - t_start;
        const double ips = (double)(steps - first_step) * G / (wall_seconds() - t_epoch);
        hist[n_hist++] = r;
        c.loss_sum = c.correct = c.count = 0.0;
        c.step_in_epoch = 0;
        if (writer) {
            char el[32], eta[32], test[32] = "     -", val[40] = "";
            fmt_hms(el, sizeof el, r.time_s);
            fmt_hms(eta, sizeof eta, r.time_s / (c.epoch + 1) * (j->epochs - c.epoch - 1));
            if (!isnan(r.test_acc)) snprintf(test, sizeof test, "%6.2f%%", 100 * r.test_acc);
            if (p->val) {
                if (isnan(r.val_acc)) snprintf(val, sizeof val, "  val      -");
                else snprintf(val, sizeof val, "  val %6.2f%%", 100 * r.val_acc);
            }
            printf("%s w%d epoch %3d/%d  lr %.4f  loss %.4f  train %6.2f%%  test %s%s  %7.0f img/s  elapsed %s  eta %s\n",
                   j->phase_name, j->worker, r.epoch, j->epochs, lr, r.train_loss, 100 * r.train_acc, test, val, ips,
                   el, eta);
            fflush(stdout);
            append_log(j, &r, c.epoch, steps, ips);
        }
        j->final_train_acc = r.train_acc;
        j->final_test_acc = r.test_acc;
        if (r.train_acc >= j->stop_train_acc) {
            if (writer) printf("%s: training accuracy %.2f%% reached the threshold %.2f%%: stopping\n",
                               swap_progname(), 100 * r.train_acc, 100 * j->stop_train_acc);
            c.epoch++;
            break;
        }
        if (j->checkpoint_every > 0 && (c.epoch + 1) % j->checkpoint_every == 0 && !last && !stop) {
            Cursor next = c;
            next.epoch++;
            next.elapsed = wall_seconds() - t_start;
            if (writer) {
                save_checkpoint(j, j->resume_path, &next, hist, n_hist, 0, NULL);
                keep_periodic(j, (int)next.epoch);
            }
        }
    }
    c.elapsed = wall_seconds() - t_start;
    j->elapsed_s = c.elapsed;
    if (stop && (c.epoch < j->epochs)) {
        /* interrupted: everything needed to continue goes into the resume checkpoint */
        float *rank_bn = gather_rank_bn(j);
        if (writer) {
            save_checkpoint(j, j->resume_path, &c, hist, n_hist, 0, rank_bn);
            printf("%s: signal received: wrote %s; run the same command again to resume\n", swap_progname(),
                   j->resume_path);
        }
        free(rank_bn);
        exit_code = SWAP_EXIT_PREEMPTED;
    } else {
        if (writer) {
            save_checkpoint(j, j->out_path, &c, hist, n_hist, 1, NULL);
            if (file_exists(j->resume_path)) unlink(j->resume_path);
            printf("%s: wrote %s\n", swap_progname(), j->out_path);
        }
    }
    fflush(stdout);
    free(perm);
    if (buckets) {
        model_set_grad_ready(m, NULL, NULL);
        comm_buckets_free(buckets);
    }
    free(hist);
    return exit_code;
}
