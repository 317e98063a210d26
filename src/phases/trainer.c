#include "phases/trainer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/lockfile.h"
#include "core/rng.h"
#include "phases/drift.h"

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
            if (!isfinite(s.knot_t[i]) || !isfinite(s.knot_v[i]))
                swap_fail("%s: knot %d is not a pair of finite numbers", k, i + 1);
            if (i && s.knot_t[i] <= s.knot_t[i - 1]) swap_fail("%s: knot epochs must increase", k);
        }
    }
    const double vals[] = {s.base_lr, s.warmup, s.final_frac, s.step_every, s.gamma};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        if (!isfinite(vals[i])) swap_fail("%s: a learning-rate schedule value is not finite", section);
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

static int weights_finite(const Model *m) {
    int ok = 1;
    for (size_t i = 0; i < m->ps.n_total; i++) ok &= isfinite(m->ps.data[i]) != 0;
    return ok;
}

/* Resumable state beyond tensors: cursor and the running sums of the current epoch. */
typedef struct {
    long epoch, step_in_epoch, global_step, samples;
    double loss_sum, correct, count, elapsed;
} Cursor;

static void save_checkpoint(TrainJob *j, const char *path, const Cursor *c, const EpochRecord *hist, int n_hist,
                            int final, const float *rank_bn) {
    /* weights that became NaN/Inf without the loss showing it yet are never saved over a good checkpoint */
    if (!weights_finite(j->m))
        swap_fail("%s: the weights became non-finite by step %ld (epoch %ld); not writing %s; the last good "
                      "checkpoint is kept", j->section, c->global_step, c->epoch + 1, path);
    CkptMeta meta;
    phase_meta(j->p, &meta, j->phase_name, j->worker, j->n_workers);
    model_conv_kernels(j->m, meta.conv, sizeof meta.conv);
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
    phase_check_precision(j->p, &meta, j->resume_path);
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
static cJSON *log_record(const TrainJob *j, const EpochRecord *r, long epoch, long steps, double ips) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "phase", j->phase_name);
    cJSON_AddNumberToObject(o, "worker", j->worker);
    cJSON_AddNumberToObject(o, "epoch", r->epoch);
    cJSON_AddItemToObject(o, "time_s", json_number_as(r->time_s, "%.3f"));
    cJSON_AddItemToObject(o, "lr", json_number_as(r->lr, "%.6g"));
    cJSON *trace = cJSON_AddArrayToObject(o, "lr_trace");
    for (int k = 0; k <= 8; k++) {
        long s = (k * steps + 4) / 8;
        if (s < 1) s = 1;
        cJSON_AddItemToArray(trace, json_number_as(sched_lr(&j->sched, epoch + (double)s / steps), "%.6g"));
    }
    cJSON_AddItemToObject(o, "train_loss", json_number_as(r->train_loss, "%.6f"));
    cJSON_AddItemToObject(o, "train_acc", json_number_as(r->train_acc, "%.6f"));
    cJSON_AddItemToObject(o, "test_loss", json_number_as(r->test_loss, "%.6f"));
    cJSON_AddItemToObject(o, "test_acc", json_number_as(r->test_acc, "%.6f"));
    cJSON_AddItemToObject(o, "val_loss", json_number_as(r->val_loss, "%.6f"));
    cJSON_AddItemToObject(o, "val_acc", json_number_as(r->val_acc, "%.6f"));
    cJSON_AddItemToObject(o, "images_per_s", json_number_as(ips, "%.1f"));
    return o;
}

/* A record that cannot be appended whole is an error (a full disk: the next checkpoint would fail too), and the
 * file is cut back to where it was, so a rerun appends after complete lines only. */
static void append_log(const TrainJob *j, const EpochRecord *r, long epoch, long steps, double ips) {
    int fd = open(j->log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) swap_fail("%s: cannot append to the epoch log (%s)", j->log_path, strerror(errno));
    struct stat st;
    const off_t before = fstat(fd, &st) == 0 ? st.st_size : -1;
    cJSON *o = log_record(j, r, epoch, steps, ips);
    char *line = json_line(o); /* one record per line: a reader skips a line a killed writer left half-written */
    cJSON_Delete(o);
    const size_t len = strlen(line);
    size_t done = 0;
    int e = 0;
    while (done < len) {
        ssize_t w = write(fd, line + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            e = w < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    free(line);
    if (!e && close(fd) != 0) e = errno;
    else if (e) {
        if (before >= 0 && ftruncate(fd, before) != 0) { /* best effort: the reader skips a partial line anyway */
        }
        close(fd);
    }
    if (e) swap_fail("%s: cannot append to the epoch log (%s)", j->log_path, strerror(e));
}

static void grads_ready(void *ctx, size_t from) { comm_buckets_ready(ctx, from); }

/* One run of the loop: the job, how its batch is sharded over the ranks, where it stands and what it holds. */
typedef struct {
    TrainJob *j;
    Phase *p;
    Model *m;
    const Dataset *tr;
    int R, rank, writer, G, lo, nb, tty;
    long steps;
    Cursor c;
    EpochRecord *hist;
    int n_hist;
    uint32_t *perm;
    CommBuckets *buckets;
    double t_start, lr;
    int stop;
    int lock;          /* the writer's lock on its output (-1 elsewhere) */
    int diverged;      /* this rank's loss was NaN/Inf at the last step */
    double last_loss;  /* the last finite loss (NaN before the first) */
} Run;

int lock_output(const char *out_path) {
    char lock[1100];
    const char *slash = strrchr(out_path, '/');
    int dl = slash ? (int)(slash - out_path) + 1 : 0;
    snprintf(lock, sizeof lock, "%.*s.%s.lock", dl, out_path, slash ? slash + 1 : out_path);
    return lockfile_take(lock, out_path);
}

/* An existing output or resume checkpoint made from another configuration is neither resumed nor replaced. */
/* "baselines.NAME" -> "NAME", else NULL */
static const char *has_prefix_baselines(const char *section) {
    return !strncmp(section, "baselines.", 10) ? section + 10 : NULL;
}

static void check_drift(const TrainJob *j) {
    const char *bl = has_prefix_baselines(j->section);
    const DriftScope scope = bl ? DRIFT_BASELINE : !strcmp(j->section, "phase2") ? DRIFT_PHASE2 : DRIFT_PHASE1;
    const char *paths[2] = {j->resume_path, j->out_path};
    for (int i = 0; i < 2; i++)
        if (file_exists(paths[i])) drift_require(j->p->cfg, paths[i], scope, bl);
}

/* Batch sharding, the resume checkpoint if there is one, the overlapped gradient sum. */
static void run_start(Run *r, TrainJob *j) {
    memset(r, 0, sizeof *r);
    r->j = j, r->p = j->p, r->m = j->m, r->tr = j->p->train;
    r->R = j->data_parallel ? r->p->comm.size : 1;
    r->rank = j->data_parallel ? r->p->comm.rank : 0;
    r->writer = j->data_parallel ? r->p->comm.rank == 0 : 1;
    r->lock = -1;
    r->G = j->global_batch;
    if (r->G % r->R) swap_fail("%s.batch: %d is not divisible by %d ranks", j->section, r->G, r->R);
    if (r->G > r->tr->n) swap_fail("%s.batch: %d exceeds the %d training samples", j->section, r->G, r->tr->n);
    r->steps = r->tr->n / r->G;
    int hi;
    dataset_shard(r->G, r->rank, r->R, &r->lo, &hi);
    r->nb = hi - r->lo;
    model_set_batch(r->m, r->nb);
    if (r->writer) r->lock = lock_output(j->out_path);
    check_drift(j);
    int resumed = load_resume(j, &r->c, &r->hist, &r->n_hist);
    if (!r->hist) r->hist = xCalloc((size_t)j->epochs + 1, sizeof *r->hist);
    if (resumed && r->writer)
        printf("%s: resuming %s at epoch %ld step %ld\n", swap_progname(), j->resume_path, r->c.epoch + 1,
               r->c.step_in_epoch);
    r->perm = xMalloc((size_t)r->tr->n * sizeof *r->perm);
    if (r->R > 1) {
        r->buckets = comm_buckets_create(r->m->ps.grad, r->m->ps.n_params, j->bucket_floats);
        model_set_grad_ready(r->m, grads_ready, r->buckets);
        int nbk = comm_buckets_count(r->buckets);
        if (r->writer)
            printf("%s: gradient all-reduce of %zu floats in %d bucket(s)%s\n", j->phase_name, r->m->ps.n_params, nbk,
                   nbk > 1 ? ", overlapped with backward" : "");
    }
    r->tty = r->writer && isatty(2);
    r->t_start = wall_seconds() - r->c.elapsed;
    r->last_loss = NAN;
}

static void train_step(Run *r, long s) {
    TrainJob *j = r->j;
    Model *m = r->m;
    const size_t pos = (size_t)s * r->G + r->lo;
    r->lr = sched_lr(&j->sched, r->c.epoch + (double)(s + 1) / r->steps);
    dataset_fill_batch(model_input(m), model_labels(m), r->tr, r->perm + pos, r->nb, &j->aug, j->seed,
                       (int)r->c.epoch, j->worker, pos);
    sgd_zero_grad(&m->ps);
    float loss = model_forward(m, 1, 1);
    if (!isfinite(loss)) { /* no step on a non-finite loss: the weights stay those of the last good step */
        r->diverged = 1;
        return;
    }
    r->last_loss = loss;
    r->c.correct += model_count_correct(m);
    r->c.loss_sum += (double)loss * r->nb;
    r->c.count += r->nb;
    model_backward(m, 1.0f / (float)r->R);
    if (r->buckets) comm_buckets_finish(r->buckets);
    sgd_step(&m->ps, &j->sgd, (float)r->lr);
    r->c.global_step++;
    r->c.samples += r->G;
    if (j->post_step) j->post_step(j, r->c.global_step, r->lr);
    if (r->tty) progress(j, s, r->steps, loss);
}

/* A loss that became NaN/Inf (on any rank) ends the phase with exit 1; the last checkpoint written (resume or
 * periodic) is left as it was, so nothing diverged is ever saved. */
static _Noreturn void diverged(const Run *r) {
    const TrainJob *j = r->j;
    char last[32] = "none";
    if (isfinite(r->last_loss)) snprintf(last, sizeof last, "%.6g", r->last_loss);
    if (r->writer || r->diverged)
        swap_fail("%s: the training loss became non-finite at step %ld (epoch %ld, step %ld of it); last finite loss "
                  "%s; the last good checkpoint is kept%s%s", j->section, r->c.global_step + 1, r->c.epoch + 1,
                  r->c.step_in_epoch + 1, last, file_exists(j->resume_path) ? ": " : "",
                  file_exists(j->resume_path) ? j->resume_path : "");
    comm_barrier(); /* another rank diverged: its swap_fail aborts the job */
    exit(SWAP_EXIT_ERROR);
}

/* The rest of the current epoch's steps; a signal (on any rank) stops after the step it arrived in. */
static void run_steps(Run *r) {
    for (; r->c.step_in_epoch < r->steps; r->c.step_in_epoch++) {
        train_step(r, r->c.step_in_epoch);
        int sig = r->diverged ? 2 : signals_pending(); /* 2 wins the max: a divergence on any rank stops all */
        if (r->p->comm.size > 1) sig = comm_max_int(sig);
        if (sig == 2) diverged(r);
        if (sig) {
            r->c.step_in_epoch++;
            r->stop = 1;
            return;
        }
    }
}

/* Loss and accuracy on d, summed over the ranks that share the model. */
static void evaluate_on(const Run *r, const Dataset *d, double *loss, double *acc) {
    double ev[3];
    eval_dataset(r->m, d, r->nb, r->rank, r->R, phase_tta_flip(r->p), &ev[0], &ev[1], &ev[2], NULL);
    if (r->R > 1) comm_sum_doubles(ev, 3);
    *loss = ev[0] / ev[2];
    *acc = ev[1] / ev[2];
}

/* The finished epoch's record: training sums over the ranks, BN buffers in sync, test/validation when due. */
static EpochRecord epoch_record(Run *r, int last) {
    const TrainJob *j = r->j;
    double sums[3] = {r->c.loss_sum, r->c.correct, r->c.count};
    if (r->R > 1) comm_sum_doubles(sums, 3);
    EpochRecord rec = {.epoch = (int)r->c.epoch + 1, .lr = r->lr, .train_loss = sums[0] / sums[2],
                       .train_acc = sums[1] / sums[2], .test_loss = NAN, .test_acc = NAN,
                       .val_loss = NAN, .val_acc = NAN};
    sync_bn_buffers(r->j);
    const int eval_now = (j->eval_every > 0 && (r->c.epoch + 1) % j->eval_every == 0) || last ||
                         rec.train_acc >= j->stop_train_acc;
    if (r->p->test && eval_now) evaluate_on(r, r->p->test, &rec.test_loss, &rec.test_acc);
    if (r->p->val && eval_now) evaluate_on(r, r->p->val, &rec.val_loss, &rec.val_acc);
    rec.time_s = wall_seconds() - r->t_start;
    return rec;
}

static void print_epoch(const Run *r, const EpochRecord *rec, double ips) {
    const TrainJob *j = r->j;
    char el[32], eta[32], test[32] = "     -", val[40] = "";
    fmt_hms(el, sizeof el, rec->time_s);
    fmt_hms(eta, sizeof eta, rec->time_s / (r->c.epoch + 1) * (j->epochs - r->c.epoch - 1));
    if (!isnan(rec->test_acc)) snprintf(test, sizeof test, "%6.2f%%", 100 * rec->test_acc);
    if (r->p->val) {
        if (isnan(rec->val_acc)) snprintf(val, sizeof val, "  val      -");
        else snprintf(val, sizeof val, "  val %6.2f%%", 100 * rec->val_acc);
    }
    printf("%s w%d epoch %3d/%d  lr %.4f  loss %.4f  train %6.2f%%  test %s%s  %7.0f img/s  elapsed %s  eta %s\n",
           j->phase_name, j->worker, rec->epoch, j->epochs, r->lr, rec->train_loss, 100 * rec->train_acc, test, val,
           ips, el, eta);
    fflush(stdout);
    append_log(j, rec, r->c.epoch, r->steps, ips);
}

/* Checkpoint policy between epochs: every checkpoint_every epochs (not after the last, nor when stopping),
 * as the state at the start of the next epoch. */
static void periodic_checkpoint(Run *r, int last) {
    const TrainJob *j = r->j;
    if (j->checkpoint_every <= 0 || (r->c.epoch + 1) % j->checkpoint_every != 0 || last || r->stop) return;
    Cursor next = r->c;
    next.epoch++;
    next.elapsed = wall_seconds() - r->t_start;
    if (r->writer) {
        save_checkpoint(r->j, j->resume_path, &next, r->hist, r->n_hist, 0, NULL);
        keep_periodic(r->j, (int)next.epoch);
    }
}

/* One epoch from where the cursor stands. Returns 0 when the loop must end (a signal mid-epoch, or the
 * training-accuracy threshold reached). */
static int run_epoch(Run *r) {
    TrainJob *j = r->j;
    dataset_order(r->tr, r->perm, j->seed, (int)r->c.epoch, j->worker);
    const double t_epoch = wall_seconds();
    const long first_step = r->c.step_in_epoch;
    run_steps(r);
    if (r->stop && r->c.step_in_epoch < r->steps) return 0; /* mid-epoch: the caller checkpoints, epoch unfinished */
    r->diverged = !weights_finite(r->m); /* a finite loss can hide overflowing BN statistics */
    if ((r->p->comm.size > 1 ? comm_max_int(r->diverged) : r->diverged)) diverged(r);
    const int last = r->c.epoch + 1 == j->epochs;
    EpochRecord rec = epoch_record(r, last);
    const double ips = (double)(r->steps - first_step) * r->G / (wall_seconds() - t_epoch);
    r->hist[r->n_hist++] = rec;
    r->c.loss_sum = r->c.correct = r->c.count = 0.0;
    r->c.step_in_epoch = 0;
    if (r->writer) print_epoch(r, &rec, ips);
    j->final_train_acc = rec.train_acc;
    j->final_test_acc = rec.test_acc;
    if (rec.train_acc >= j->stop_train_acc) {
        if (r->writer)
            printf("%s: training accuracy %.2f%% reached the threshold %.2f%%: stopping\n", swap_progname(),
                   100 * rec.train_acc, 100 * j->stop_train_acc);
        r->c.epoch++;
        return 0;
    }
    periodic_checkpoint(r, last);
    return 1;
}

/* The final model, or (interrupted) everything needed to continue in the resume checkpoint. */
static int run_finish(Run *r) {
    TrainJob *j = r->j;
    int exit_code = SWAP_EXIT_OK;
    r->c.elapsed = wall_seconds() - r->t_start;
    j->elapsed_s = r->c.elapsed;
    if (r->stop && (r->c.epoch < j->epochs)) {
        float *rank_bn = gather_rank_bn(j);
        if (r->writer) {
            save_checkpoint(j, j->resume_path, &r->c, r->hist, r->n_hist, 0, rank_bn);
            printf("%s: signal received: wrote %s; run the same command again to resume\n", swap_progname(),
                   j->resume_path);
        }
        free(rank_bn);
        exit_code = SWAP_EXIT_PREEMPTED;
    } else if (r->writer) {
        save_checkpoint(j, j->out_path, &r->c, r->hist, r->n_hist, 1, NULL);
        if (file_exists(j->resume_path)) unlink(j->resume_path);
        printf("%s: wrote %s\n", swap_progname(), j->out_path);
    }
    fflush(stdout);
    free(r->perm);
    if (r->buckets) {
        model_set_grad_ready(r->m, NULL, NULL);
        comm_buckets_free(r->buckets);
    }
    free(r->hist);
    lockfile_release(r->lock);
    return exit_code;
}

int train_run(TrainJob *j) {
    Run r;
    run_start(&r, j);
    for (; r.c.epoch < j->epochs && !r.stop; r.c.epoch++)
        if (!run_epoch(&r)) break;
    return run_finish(&r);
}
