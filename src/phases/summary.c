#include "phases/summary.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/layout.h"

/* One training run of the experiment as its checkpoint tells it. */
typedef struct {
    char label[96];
    int ok;
    double time_s, start, end; /* own training-loop wall time; [start, end] in Unix seconds */
    double test_acc, test_loss;
    long long images;
    int ranks, epochs;
    char host[256], cpu[256], commit[80], precision[8];
} Run;

static double utc_seconds(const char *iso) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

static void read_run(Run *r, const char *path, const char *label) {
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label);
    r->test_acc = r->test_loss = NAN;
    char err[512];
    if (access(path, F_OK) != 0 || ckpt_verify(path, err, sizeof err) != 0) return;
    CkptMeta m;
    if (ckpt_try_read_meta(path, &m, err, sizeof err) != 0) return;
    r->ok = 1;
    r->epochs = m.n_history;
    r->time_s = m.n_history ? m.history[m.n_history - 1].time_s : 0.0;
    for (int i = m.n_history - 1; i >= 0; i--)
        if (!isnan(m.history[i].test_acc)) {
            r->test_acc = m.history[i].test_acc;
            r->test_loss = m.history[i].test_loss;
            break;
        }
    r->images = (long long)m.samples_seen;
    r->ranks = m.world_size;
    r->end = utc_seconds(m.created_utc);
    r->start = r->end - r->time_s;
    snprintf(r->host, sizeof r->host, "%s", m.host);
    snprintf(r->cpu, sizeof r->cpu, "%s", m.cpu[0] ? m.cpu : "not recorded (a checkpoint from before 2026-12-06)");
    snprintf(r->commit, sizeof r->commit, "%.40s%s", m.git_commit, m.git_dirty ? " (dirty)" : "");
    snprintf(r->precision, sizeof r->precision, "%s", m.precision);
    ckpt_meta_free(&m);
}

/* Did b run on a's host while a ran? (checkpoint times have 1 s resolution: a 2 s overlap is noise) */
static int overlaps(const Run *a, const Run *b) {
    if (!a->ok || !b->ok || a == b || strcmp(a->host, b->host) || isnan(a->end) || isnan(b->end)) return 0;
    return fmin(a->end, b->end) - fmax(a->start, b->start) > 2.0;
}

/* How a run's wall time was measured, naming every run of this experiment that shared its host meanwhile. */
static void how_timed(char *buf, size_t n, const Run *r, const Run *all, int n_all, int *alone) {
    size_t len = (size_t)snprintf(buf, n, "its own training-loop wall time (data loading excluded) on %d rank(s) on %s; ",
                                  r->ranks, r->host);
    int k = 0;
    for (int i = 0; i < n_all; i++)
        if (overlaps(r, &all[i]) && len < n)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", k++ ? ", " : "it shared the host with ", all[i].label);
    if (len < n)
        snprintf(buf + len, n - len, "%s", k ? " while it ran, so this is a core-sharing time (an upper bound on its "
                                               "time alone)" : "no other run of this experiment overlapped it there");
    *alone = k == 0;
}

static void setn(Json *o, const char *k, double x) {
    Json v = {.kind = JSON_NUM, .num = x};
    if (isnan(x)) v.kind = JSON_NULL;
    json_set(o, k, &v);
}
/* x rounded to `decimals` places, as swap-average writes its numbers */
static void setr(Json *o, const char *k, double x, int decimals) {
    const double f = pow(10.0, decimals);
    setn(o, k, round(x * f) / f);
}
static void sets(Json *o, const char *k, const char *s) {
    Json v = {.kind = JSON_STR, .str = xStrdup(s)};
    json_set(o, k, &v);
}
static void setb(Json *o, const char *k, int b) {
    Json v = {.kind = JSON_BOOL, .num = b != 0};
    json_set(o, k, &v);
}
static Json *member(Json *o, const char *k) { return (Json *)json_get(o, k); }

/* Every run of the experiment as its checkpoint tells it: phase 1, the workers, the baselines (in that order). */
typedef struct {
    Run *all;
    int W, B, n_all;
    Run phase3; /* the averaged model: for provenance only (its time is swap-average's own) */
} Runs;

static Runs read_runs(const Phase *p) {
    const Config *cfg = p->cfg;
    Runs rs = {.W = (int)cfg_int(cfg, "phase2.workers"), .B = (int)cfg_n_baselines(cfg)};
    rs.n_all = 1 + rs.W + rs.B;
    rs.all = xCalloc((size_t)rs.n_all, sizeof *rs.all);
    char path[1400], label[96];
    phase_path(p, path, sizeof path, LAYOUT_PHASE1_MODEL, 0);
    read_run(&rs.all[0], path, "phase 1");
    for (int i = 0; i < rs.W; i++) {
        snprintf(path, sizeof path, "%s/" LAYOUT_WORKER_MODEL, p->dir, i);
        snprintf(label, sizeof label, "worker %d", i);
        read_run(&rs.all[1 + i], path, label);
    }
    for (int b = 0; b < rs.B; b++) {
        const char *name = cfg_baseline_name(cfg, (size_t)b);
        char sub[160];
        snprintf(sub, sizeof sub, LAYOUT_BASELINE_MODEL, name);
        phase_path(p, path, sizeof path, sub, 0);
        snprintf(label, sizeof label, "baseline %s", name);
        read_run(&rs.all[1 + rs.W + b], path, label);
    }
    snprintf(path, sizeof path, "%s/" LAYOUT_PHASE3_MODEL, p->dir);
    read_run(&rs.phase3, path, "phase 3");
    return rs;
}

/* One baseline's row: what its checkpoint says, its configured batch and (scaled) learning rate. */
static void baseline_row(Json *o, const Config *cfg, const char *name, const Run *r, const Runs *rs) {
    char k[192], how[2048];
    int alone;
    setr(o, "test_acc", r->test_acc, 6);
    setr(o, "test_loss", r->test_loss, 6);
    setr(o, "wall_s", r->time_s, 3);
    setn(o, "images", (double)r->images);
    setn(o, "epochs", r->epochs);
    snprintf(k, sizeof k, "baselines.%s.batch", name);
    const long batch = cfg_int(cfg, k);
    setn(o, "batch", (double)batch);
    snprintf(k, sizeof k, "baselines.%s.lr", name);
    double lr = cfg_num(cfg, k);
    snprintf(k, sizeof k, "baselines.%s.base_batch", name);
    const long base = cfg_int(cfg, k);
    if (base > 0) lr = lr * (double)batch / (double)base;
    setr(o, "lr", lr, 8);
    setn(o, "ranks", r->ranks);
    how_timed(how, sizeof how, r, rs->all, rs->n_all, &alone);
    setb(o, "alone", alone);
    Json ms = {.kind = JSON_OBJ};
    sets(&ms, "test_acc", "test_loss too: the evaluation of model.h5 on the test set after its last epoch "
                          "(`swap-inspect eval` recomputes it)");
    sets(&ms, "wall_s", how);
    sets(&ms, "images", "training samples processed (the checkpoint's samples_seen)");
    json_set(o, "measured", &ms);
}

static void merge_baselines(const Phase *p, Json *root, const Runs *rs) {
    json_remove(root, "baselines");
    if (rs->B <= 0) return;
    Json bl = {.kind = JSON_OBJ};
    for (int b = 0; b < rs->B; b++) {
        const Run *r = &rs->all[1 + rs->W + b];
        if (!r->ok) continue;
        const char *name = cfg_baseline_name(p->cfg, (size_t)b);
        Json o = {.kind = JSON_OBJ};
        baseline_row(&o, p->cfg, name, r, rs);
        json_set(&bl, name, &o);
    }
    json_set(root, "baselines", &bl);
}

/* Images beside phase 3's rows of phase 1 and the workers. */
static void merge_images(Json *root, const Runs *rs) {
    const Run *all = rs->all;
    Json *p1 = member(root, "phase1");
    Json *ws = member(root, "workers");
    if (p1 && p1->kind == JSON_OBJ && all[0].ok) {
        setn(p1, "images", (double)all[0].images);
        setn(p1, "ranks", all[0].ranks);
    }
    if (ws && ws->kind == JSON_ARR)
        for (size_t i = 0; i < ws->n; i++) {
            double wi = json_num(&ws->items[i], "worker");
            if (wi >= 0 && wi < rs->W && all[1 + (int)wi].ok)
                setn(&ws->items[i], "images", (double)all[1 + (int)wi].images);
        }
}

/* The critical path (phase 1 + the slowest worker + phase 3) with how each part was measured. */
static void merge_critical_path(Json *root, const Runs *rs) {
    const Run *all = rs->all;
    int slow = -1;
    long long w_images = 0;
    for (int i = 0; i < rs->W; i++)
        if (all[1 + i].ok) {
            w_images += all[1 + i].images;
            if (slow < 0 || all[1 + i].time_s > all[1 + slow].time_s) slow = i;
        }
    const double t3 = json_num(root, "phase3.time_s");
    json_remove(root, "critical_path");
    if (!all[0].ok || slow < 0 || isnan(t3)) return;
    const Run *w = &all[1 + slow];
    char how[2048], wh[2200];
    int alone;
    Json cp = {.kind = JSON_OBJ}, ms = {.kind = JSON_OBJ};
    setr(&cp, "total_s", all[0].time_s + w->time_s + t3, 3);
    setr(&cp, "phase1_s", all[0].time_s, 3);
    setn(&cp, "phase1_ranks", all[0].ranks);
    setr(&cp, "worker_s", w->time_s, 3);
    setn(&cp, "worker", slow);
    setr(&cp, "phase3_s", t3, 3);
    setn(&cp, "images", (double)(all[0].images + w->images));
    setn(&cp, "total_images", (double)(all[0].images + w_images));
    how_timed(how, sizeof how, &all[0], all, rs->n_all, &alone);
    sets(&ms, "phase1_s", how);
    setb(&cp, "phase1_alone", alone);
    how_timed(how, sizeof how, w, all, rs->n_all, &alone);
    snprintf(wh, sizeof wh, "the slowest worker (worker %d): %s", slow, how);
    sets(&ms, "worker_s", wh);
    setb(&cp, "worker_alone", alone);
    sets(&ms, "phase3_s", "swap-average's wall time (loading, averaging, BN recompute, every evaluation)");
    sets(&ms, "images", "phase 1 plus the slowest worker; total_images: phase 1 plus every worker");
    json_set(&cp, "measured", &ms);
    json_set(root, "critical_path", &cp);
}

/* What made every figure (the proof the README's numbers rest on): the command, and per run the commit, the
 * precision and the machine, as each checkpoint recorded them (a run resumed under another build names the
 * build of its last save). */
static void merge_provenance(const Phase *p, Json *root, const Runs *rs) {
    json_remove(root, "provenance");
    char cmd[4096];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "%s", p->args.exp_path ? p->args.exp_path : "(not known)");
    for (int i = 0; i < p->args.n_sets && len < sizeof cmd; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " --set %s", p->args.sets[i]);
    Json pv = {.kind = JSON_OBJ}, runs = {.kind = JSON_OBJ};
    sets(&pv, "command", cmd);
    sets(&pv, "about", "command: the experiment file and --set overrides (swap-run EXP ..., or swap-slurm submit EXP ...; "
                            "every phase gets the same ones); runs: each run's checkpoint's commit, precision, host and CPU");
    for (int i = 0; i <= rs->n_all; i++) {
        const Run *r = i < rs->n_all ? &rs->all[i] : &rs->phase3;
        if (!r->ok) continue;
        Json o = {.kind = JSON_OBJ};
        sets(&o, "commit", r->commit);
        sets(&o, "precision", r->precision);
        sets(&o, "host", r->host);
        sets(&o, "cpu", r->cpu);
        json_set(&runs, r->label, &o);
    }
    json_set(&pv, "runs", &runs);
    json_set(root, "provenance", &pv);
}

static void merge(const Phase *p, Json *root) {
    Runs rs = read_runs(p);
    merge_provenance(p, root, &rs);
    merge_baselines(p, root, &rs);
    merge_images(root, &rs);
    merge_critical_path(root, &rs);
    free(rs.all);
}

/* The lock every summary writer takes (a separate file: summary.json itself is replaced by rename). */
static int lock_summary(const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/.summary.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) swap_fail("%s: cannot open (%s)", path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) swap_fail("%s: cannot lock (%s)", path, strerror(errno));
    return fd;
}

static void write_locked(const Phase *p, Json *root) {
    merge(p, root);
    char path[1200];
    snprintf(path, sizeof path, "%s/" LAYOUT_SUMMARY, p->dir);
    char *text = json_write(root);
    write_file_atomic(path, text, strlen(text));
    free(text);
}

void summary_write(const Phase *p, const char *text, size_t len) {
    (void)len;
    Json root;
    char err[256];
    if (json_parse(&root, text, err, sizeof err) != 0 || root.kind != JSON_OBJ)
        swap_fail("summary.json: internal: swap-average wrote invalid JSON (%s)", err);
    int fd = lock_summary(p->dir);
    write_locked(p, &root);
    close(fd);
    json_free(&root);
}

void summary_update(const Phase *p) {
    int fd = lock_summary(p->dir);
    char path[1200], err[256];
    snprintf(path, sizeof path, "%s/" LAYOUT_SUMMARY, p->dir);
    Json root = {.kind = JSON_OBJ};
    if (access(path, F_OK) == 0) {
        size_t n;
        char *text = read_file(path, &n);
        if (json_parse(&root, text, err, sizeof err) != 0 || root.kind != JSON_OBJ) {
            swap_warn("%s: not valid JSON (%s); writing a new one", path, err);
            json_free(&root);
            root.kind = JSON_OBJ;
        }
        free(text);
    }
    if (!json_get(&root, "name")) sets(&root, "name", cfg_str(p->cfg, "name"));
    write_locked(p, &root);
    close(fd);
    char done[1024] = "";
    const Json *bl = json_get(&root, "baselines");
    for (size_t i = 0; bl && i < bl->n; i++) {
        size_t l = strlen(done);
        snprintf(done + l, sizeof done - l, "%s%s", i ? ", " : "", bl->keys[i]);
    }
    printf("%s: %s: rows of the finished baselines (%s; all: %s)\n", swap_progname(), path, done[0] ? done : "none",
           cfg_baselines_list(p->cfg));
    json_free(&root);
}

/* ------------------------------------------------------------------------------------------------ print */

static void row(const char *name, double acc, double loss, double wall, double images) {
    char a[32] = "-", l[32] = "-", w[32] = "-", im[32] = "-";
    if (!isnan(acc)) snprintf(a, sizeof a, "%.2f%%", 100 * acc);
    if (!isnan(loss)) snprintf(l, sizeof l, "%.4f", loss);
    if (!isnan(wall)) snprintf(w, sizeof w, "%.1f", wall);
    if (!isnan(images)) snprintf(im, sizeof im, "%.0f", images);
    printf("%-34s %9s %10s %10s %12s\n", name, a, l, w, im);
}

int summary_print(const char *dir) {
    char path[1200], err[256], name[128];
    snprintf(path, sizeof path, "%s/" LAYOUT_SUMMARY, dir);
    if (access(path, F_OK) != 0) return -1;
    size_t n;
    char *text = read_file(path, &n);
    Json s;
    if (json_parse(&s, text, err, sizeof err) != 0) {
        free(text);
        swap_warn("%s: not valid JSON (%s)", path, err);
        return -1;
    }
    free(text);
    printf("\n%s\n%-34s %9s %10s %10s %12s\n", path, "model", "test acc", "test loss", "wall s", "images");
    if (json_get(&s, "phase1")) {
        snprintf(name, sizeof name, "phase 1 (%.0f rank(s))", json_num(&s, "phase1.ranks"));
        row(name, json_num(&s, "phase1.test_acc"), json_num(&s, "phase1.test_loss"), json_num(&s, "phase1.time_s"),
            json_num(&s, "phase1.images"));
    }
    const Json *ws = json_get(&s, "workers");
    for (size_t i = 0; ws && ws->kind == JSON_ARR && i < ws->n; i++) {
        const Json *w = &ws->items[i];
        snprintf(name, sizeof name, "worker %.0f", json_num(w, "worker"));
        row(name, json_num(w, "test_acc"), json_num(w, "test_loss"), json_num(w, "time_s"), json_num(w, "images"));
    }
    if (json_get(&s, "average")) {
        row("average (before BN update)", json_num(&s, "average.test_acc_before_bn"),
            json_num(&s, "average.test_loss_before_bn"), NAN, NAN);
        row("average (SWAP, critical path)", json_num(&s, "average.test_acc"), json_num(&s, "average.test_loss"),
            json_num(&s, "critical_path.total_s"), json_num(&s, "critical_path.images"));
        row("ensemble of workers", json_num(&s, "ensemble.test_acc"), json_num(&s, "ensemble.test_loss"), NAN, NAN);
    }
    const Json *bl = json_get(&s, "baselines");
    for (size_t i = 0; bl && bl->kind == JSON_OBJ && i < bl->n; i++) {
        const Json *b = &bl->items[i];
        snprintf(name, sizeof name, "baseline %s (batch %.0f)", bl->keys[i], json_num(b, "batch"));
        row(name, json_num(b, "test_acc"), json_num(b, "test_loss"), json_num(b, "wall_s"), json_num(b, "images"));
    }
    if (json_get(&s, "critical_path")) {
        const Json *al = json_path(&s, "critical_path.worker_alone");
        printf("critical path %.1f s = phase 1 %.1f s on %.0f rank(s) + slowest worker %.1f s (%s) + phase 3 %.1f s\n",
               json_num(&s, "critical_path.total_s"), json_num(&s, "critical_path.phase1_s"),
               json_num(&s, "critical_path.phase1_ranks"), json_num(&s, "critical_path.worker_s"),
               al && al->kind == JSON_BOOL && al->num ? "measured alone on its host"
                                                       : "measured while sharing its host: an upper bound",
               json_num(&s, "critical_path.phase3_s"));
    }
    fflush(stdout);
    json_free(&s);
    return 0;
}

int summary_valid(const char *path) {
    if (access(path, F_OK) != 0) return 0;
    size_t len = 0;
    char *text = read_file(path, &len);
    Json root;
    char err[256];
    int ok = json_parse(&root, text, err, sizeof err) == 0;
    free(text);
    if (!ok) {
        swap_warn("%s: unreadable summary (%s); phase 3 runs again", path, err);
        return 0;
    }
    ok = json_path(&root, "average.test_acc") != NULL; /* what phase 3 writes, not just baseline rows */
    json_free(&root);
    return ok;
}
