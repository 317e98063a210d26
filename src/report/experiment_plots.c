/* results/<name>/plots: the SWAP figure (Figure 1 of Gupta et al.) and the training curves, from the epoch logs
 * the trainer appends and the summary phase 3 writes. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/layout.h"
#include "report/report.h"

#define MAX_WORKERS 1024

typedef struct {
    int epoch;
    double time_s, lr, train_loss, train_acc, test_loss, test_acc;
    double lr_trace[9]; /* the rate at each eighth of the epoch (trainer.c); n_trace 0 in older logs */
    int n_trace;
} LogRow;

typedef struct {
    LogRow *rows;
    int n;
} Log;

static int readable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* One JSON object per line. A resumed run appends epochs it had logged before the interruption again: a row
 * whose epoch is not past the previous one replaces the rows from that epoch on, so the log reads as one run. */
static int read_log(Log *log, const char *path) {
    memset(log, 0, sizeof *log);
    if (!readable(path)) return -1;
    size_t len;
    char *text = read_file(path, &len);
    int cap = 0, lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        Json j;
        char err[128];
        if (json_parse(&j, line, err, sizeof err) != 0) {
            swap_warn("%s:%d: %s (line skipped)", path, lineno, err);
            continue;
        }
        LogRow r = {.epoch = (int)json_num(&j, "epoch"), .time_s = json_num(&j, "time_s"), .lr = json_num(&j, "lr"),
                    .train_loss = json_num(&j, "train_loss"),
                    .train_acc = json_num(&j, "train_acc"), .test_loss = json_num(&j, "test_loss"),
                    .test_acc = json_num(&j, "test_acc")};
        const Json *tr = json_get(&j, "lr_trace");
        if (tr && tr->kind == JSON_ARR && tr->n == 9)
            for (size_t k = 0; k < 9; k++) r.lr_trace[r.n_trace++] = tr->items[k].kind == JSON_NUM ? tr->items[k].num : NAN;
        json_free(&j);
        if (isnan(r.time_s)) continue;
        while (log->n && log->rows[log->n - 1].epoch >= r.epoch) log->n--;
        if (log->n == cap) {
            cap = cap ? 2 * cap : 64;
            log->rows = xRealloc(log->rows, (size_t)cap * sizeof *log->rows);
        }
        log->rows[log->n++] = r;
    }
    free(text);
    return 0;
}

static int load_summary(Json *s, const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" LAYOUT_SUMMARY, dir);
    memset(s, 0, sizeof *s);
    if (!readable(path)) return -1;
    char *text = read_file(path, NULL), err[128];
    int rc = json_parse(s, text, err, sizeof err);
    free(text);
    if (rc) swap_warn("%s: %s (plots drawn without the phase-3 markers)", path, err);
    return rc;
}

static const char *exp_title(const Json *summary, const char *dir, char *buf, size_t n) {
    const Json *name = json_get(summary, "name");
    if (name && name->kind == JSON_STR) snprintf(buf, n, "%s", name->str);
    else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", dir);
        size_t l = strlen(tmp);
        while (l > 1 && tmp[l - 1] == '/') tmp[--l] = 0;
        const char *slash = strrchr(tmp, '/');
        snprintf(buf, n, "%s", slash ? slash + 1 : tmp);
    }
    return buf;
}

/* The learning-rate trace of one epoch: its 9 schedule samples spread over the epoch's wall-clock span (steps
 * take equal time), or just the epoch-end rate for logs without a trace. */
static void lr_rows(StrBuf *lr, const char *series, int worker, double t0, double t_prev, const LogRow *r) {
    for (int k = r->n_trace ? 0 : 8; k <= 8; k++) {
        sb_printf(lr, "%s,%d,", series, worker);
        sb_num(lr, t0 + t_prev + (r->time_s - t_prev) * k / 8.0, ",");
        sb_num(lr, r->n_trace ? r->lr_trace[k] : r->lr, "\n");
    }
}

/* swap-figure.csv: the epoch-end points of every trace; worker rows start at epoch 0 with phase 1's last point
 * (the worker's starting model) so the traces visibly split from phase 1. worker = -1 is phase 1. */
static void figure_csvs(StrBuf *pts, StrBuf *lr, StrBuf *marks, const Log *p1, const Log *ws, int W, const Json *sum) {
    const LogRow *last = &p1->rows[p1->n - 1];
    const double t1 = last->time_s;
    sb_printf(pts, "series,worker,epoch,time_s,lr,test_acc,test_loss\n");
    sb_printf(lr, "series,worker,time_s,lr\n");
    for (int i = 0; i < p1->n; i++) {
        const LogRow *r = &p1->rows[i];
        sb_printf(pts, "phase1,-1,%d,", r->epoch);
        sb_num(pts, r->time_s, ",");
        sb_num(pts, r->lr, ",");
        sb_num(pts, r->test_acc, ",");
        sb_num(pts, r->test_loss, "\n");
        lr_rows(lr, "phase1", -1, 0.0, i ? p1->rows[i - 1].time_s : 0.0, r);
    }
    for (int w = 0; w < W; w++) {
        if (!ws[w].n) continue;
        sb_printf(pts, "worker-%d,%d,0,", w, w);
        sb_num(pts, t1, ",");
        sb_num(pts, last->lr, ",");
        sb_num(pts, last->test_acc, ",");
        sb_num(pts, last->test_loss, "\n");
        for (int i = 0; i < ws[w].n; i++) {
            const LogRow *r = &ws[w].rows[i];
            sb_printf(pts, "worker-%d,%d,%d,", w, w, r->epoch);
            sb_num(pts, t1 + r->time_s, ",");
            sb_num(pts, r->lr, ",");
            sb_num(pts, r->test_acc, ",");
            sb_num(pts, r->test_loss, "\n");
            char series[32];
            snprintf(series, sizeof series, "worker-%d", w);
            lr_rows(lr, series, w, t1, i ? ws[w].rows[i - 1].time_s : 0.0, r);
        }
    }
    /* markers: the models phase 3 evaluated, at the time each was final (phase 3 ends the critical path) */
    sb_printf(marks, "model,worker,time_s,test_acc,test_loss\n");
    if (!sum) return;
    const double s_t1 = json_num(sum, "phase1.time_s"), t2 = json_num(sum, "phase2.time_s"),
                 t3 = json_num(sum, "phase3.time_s");
    sb_printf(marks, "phase1,-1,");
    sb_num(marks, s_t1, ",");
    sb_num(marks, json_num(sum, "phase1.test_acc"), ",");
    sb_num(marks, json_num(sum, "phase1.test_loss"), "\n");
    const Json *wl = json_get(sum, "workers");
    for (size_t i = 0; wl && wl->kind == JSON_ARR && i < wl->n; i++) {
        const Json *w = &wl->items[i];
        sb_printf(marks, "worker,%d,", (int)json_num(w, "worker"));
        sb_num(marks, s_t1 + json_num(w, "time_s"), ",");
        sb_num(marks, json_num(w, "test_acc"), ",");
        sb_num(marks, json_num(w, "test_loss"), "\n");
    }
    const double t_end = s_t1 + t2 + t3;
    sb_printf(marks, "average,-1,");
    sb_num(marks, t_end, ",");
    sb_num(marks, json_num(sum, "average.test_acc"), ",");
    sb_num(marks, json_num(sum, "average.test_loss"), "\n");
    sb_printf(marks, "ensemble,-1,");
    sb_num(marks, t_end, ",");
    sb_num(marks, json_num(sum, "ensemble.test_acc"), ",");
    sb_num(marks, json_num(sum, "ensemble.test_loss"), "\n");
    /* baselines: trained from scratch, at their own wall time */
    const Json *bl = json_get(sum, "baselines");
    for (size_t i = 0; bl && bl->kind == JSON_OBJ && i < bl->n; i++) {
        sb_printf(marks, "baseline-%s,-1,", bl->keys[i]);
        sb_num(marks, json_num(&bl->items[i], "wall_s"), ",");
        sb_num(marks, json_num(&bl->items[i], "test_acc"), ",");
        sb_num(marks, json_num(&bl->items[i], "test_loss"), "\n");
    }
}

/* plot clauses for phase 1 and each worker that has a log: "<file>" using X:(filter ? Y : NaN) */
static void gp_traces(StrBuf *g, const char *file, const char *xcol, const char *ycol, const Log *ws, int W,
                      const char *style) {
    sb_printf(g, "plot '%s' skip 1 using %s:($2 == -1 ? %s : NaN) with %s lw 2 lc rgb 'black' title 'phase 1'", file,
              xcol, ycol, style);
    for (int w = 0; w < W; w++)
        if (ws[w].n)
            sb_printf(g, ", \\\n     '' skip 1 using %s:($2 == %d ? %s : NaN) with %s lw 1.5 lc %d title 'worker %d'",
                      xcol, w, ycol, style, w + 1, w);
}

static int figure(const char *out, const char *title, const Log *p1, const Log *ws, int W, const Json *sum) {
    StrBuf pts = {0}, lr = {0}, marks = {0}, g = {0};
    figure_csvs(&pts, &lr, &marks, p1, ws, W, sum);
    /* one time axis for both panels: up to the last marker or trace point */
    double t_max = p1->rows[p1->n - 1].time_s;
    for (int w = 0; w < W; w++)
        if (ws[w].n) t_max = fmax(t_max, p1->rows[p1->n - 1].time_s + ws[w].rows[ws[w].n - 1].time_s);
    if (sum) {
        const double t_end = json_num(sum, "phase1.time_s") + json_num(sum, "phase2.time_s") + json_num(sum, "phase3.time_s");
        if (isfinite(t_end)) t_max = fmax(t_max, t_end);
        const Json *bl = json_get(sum, "baselines");
        for (size_t i = 0; bl && bl->kind == JSON_OBJ && i < bl->n; i++) {
            const double tb = json_num(&bl->items[i], "wall_s");
            if (isfinite(tb)) t_max = fmax(t_max, tb);
        }
    }
    char q[512];
    gp_quote(q, sizeof q, title);
    gp_begin(&g, "swap-figure.png", 800, 760);
    sb_printf(&g,
              "set multiplot layout 2,1 title \"SWAP: %s\"\n"
              "set key outside right top\n"
              "set lmargin 12\nset rmargin 22\n"
              "set xlabel 'wall-clock time (s)'\n"
              "set xrange [0:%g]\n"
              "set yrange [0:*]\nset offsets 0, 0, graph 0.06, 0\n"
              "set ylabel 'learning rate'\n"
              "set title 'learning rate (phase 1: one data-parallel model; phase 2: one trace per worker)'\n",
              q, 1.04 * t_max);
    gp_traces(&g, "swap-figure-lr.csv", "3", "$4", ws, W, "lines");
    sb_printf(&g,
              "\nset ylabel 'test accuracy (%%)'\n"
              "set yrange [*:*]\nset offsets 0, 0, graph 0.06, graph 0.06\n"
              "set title 'test accuracy'\n");
    gp_traces(&g, "swap-figure.csv", "4", "100*$6", ws, W, "linespoints pt 7 ps 0.6");
    if (sum)
        sb_printf(&g,
                  ", \\\n     'swap-figure-markers.csv' skip 1 using 3:(strcol(1) eq 'average' ? 100*$4 : NaN) "
                  "with points pt 7 ps 2.2 lc rgb 'red' title 'SWAP average', \\\n"
                  "     '' skip 1 using 3:(strcol(1) eq 'ensemble' ? 100*$4 : NaN) with points pt 9 ps 2 "
                  "lc rgb 'dark-green' title 'ensemble'");
    if (sum && json_get(sum, "baselines") && json_get(sum, "baselines")->n)
        sb_printf(&g,
                  ", \\\n     'swap-figure-markers.csv' skip 1 using 3:(strcol(1)[1:9] eq 'baseline-' ? 100*$4 : NaN) "
                  "with points pt 5 ps 1.8 lc rgb 'blue' title 'baselines (own time)', \\\n"
                  "     '' skip 1 using 3:(strcol(1)[1:9] eq 'baseline-' ? 100*$4 : NaN):(strcol(1)[10:]) "
                  "with labels offset char 0,1 notitle");
    sb_printf(&g, "\nunset multiplot\n");
    int rc = sb_write(&pts, out, "swap-figure.csv") | sb_write(&lr, out, "swap-figure-lr.csv") |
             sb_write(&marks, out, "swap-figure-markers.csv") | sb_write(&g, out, "swap-figure.gp");
    sb_free(&pts);
    sb_free(&lr);
    sb_free(&marks);
    sb_free(&g);
    return rc ? REPORT_FAILED : REPORT_OK;
}

/* training.csv: per-epoch training loss/accuracy; global_epoch continues phase 1's count into phase 2. */
static int training(const char *out, const char *title, const Log *p1, const Log *ws, int W) {
    StrBuf c = {0}, g = {0};
    const int e1 = p1->rows[p1->n - 1].epoch;
    sb_printf(&c, "series,worker,epoch,global_epoch,train_loss,train_acc,test_loss,test_acc\n");
    for (int w = -1; w < W; w++) {
        const Log *l = w < 0 ? p1 : &ws[w];
        for (int i = 0; i < l->n; i++) {
            const LogRow *r = &l->rows[i];
            if (w < 0) sb_printf(&c, "phase1,-1,%d,%d,", r->epoch, r->epoch);
            else sb_printf(&c, "worker-%d,%d,%d,%d,", w, w, r->epoch, e1 + r->epoch);
            sb_num(&c, r->train_loss, ",");
            sb_num(&c, r->train_acc, ",");
            sb_num(&c, r->test_loss, ",");
            sb_num(&c, r->test_acc, "\n");
        }
    }
    char q[512];
    gp_quote(q, sizeof q, title);
    gp_begin(&g, "training.png", 800, 760);
    sb_printf(&g,
              "set multiplot layout 2,1 title \"training curves: %s\"\n"
              "set key outside right top\n"
              "set lmargin 12\nset rmargin 22\n"
              "set xlabel 'epoch (phase 2 continues from phase 1''s last epoch, %d)'\n"
              "set ylabel 'training loss (cross-entropy)'\n"
              "set title 'training loss per epoch'\n",
              q, e1);
    int emax = e1;
    for (int w = 0; w < W; w++)
        if (ws[w].n && e1 + ws[w].rows[ws[w].n - 1].epoch > emax) emax = e1 + ws[w].rows[ws[w].n - 1].epoch;
    if (emax <= 25) sb_printf(&g, "set xtics 1\n");
    sb_printf(&g, "set xrange [0.5:%g]\n", emax + 0.5);
    gp_traces(&g, "training.csv", "4", "$5", ws, W, "linespoints pt 7 ps 1");
    sb_printf(&g,
              "\nset ylabel 'training accuracy (%%)'\n"
              "set title 'training accuracy per epoch (running, with augmentation)'\n");
    gp_traces(&g, "training.csv", "4", "100*$6", ws, W, "linespoints pt 7 ps 1");
    sb_printf(&g, "\nunset multiplot\n");
    int rc = sb_write(&c, out, "training.csv") | sb_write(&g, out, "training.gp");
    sb_free(&c);
    sb_free(&g);
    return rc ? REPORT_FAILED : REPORT_OK;
}

int report_experiment_plots(const char *dir, const char *phase1_log) {
    char path[PATH_MAX], out[PATH_MAX], title[256];
    if (phase1_log) snprintf(path, sizeof path, "%s", phase1_log);
    else snprintf(path, sizeof path, "%s/" LAYOUT_PHASE1_LOG, dir);
    Log p1;
    if (read_log(&p1, path) != 0 || p1.n == 0) {
        swap_warn("%s: no phase-1 epoch log; nothing to plot", path);
        free(p1.rows);
        return REPORT_FAILED;
    }
    Log *ws = xCalloc(MAX_WORKERS, sizeof *ws);
    int W = 0;
    for (int w = 0; w < MAX_WORKERS; w++) {
        snprintf(path, sizeof path, "%s/" LAYOUT_WORKER_LOG, dir, w);
        if (read_log(&ws[w], path) == 0) W = w + 1;
    }
    Json sum;
    const int have_sum = load_summary(&sum, dir) == 0;
    exp_title(have_sum ? &sum : NULL, dir, title, sizeof title);
    snprintf(out, sizeof out, "%s/" LAYOUT_PLOTS_DIR, dir);
    int rc = REPORT_FAILED;
    if (mkdir(out, 0755) != 0 && errno != EEXIST) swap_warn("%s: cannot create directory (%s)", out, strerror(errno));
    else {
        /* every CSV and script first, so a missing or failing gnuplot still leaves all the data */
        int wrote = figure(out, title, &p1, ws, W, have_sum ? &sum : NULL) | training(out, title, &p1, ws, W);
        char exe[PATH_MAX];
        if (wrote) rc = REPORT_FAILED;
        else if (!gnuplot_find(exe, sizeof exe)) {
            fprintf(stderr, "%s: %s\n", swap_progname(), REPORT_NO_GNUPLOT_MSG);
            rc = REPORT_NO_GNUPLOT;
        } else {
            const char *fig[] = {"swap-figure.png"}, *tr[] = {"training.png"};
            int a = gnuplot_run(out, "swap-figure.gp", fig, 1), b = gnuplot_run(out, "training.gp", tr, 1);
            rc = a || b ? REPORT_FAILED : REPORT_OK;
        }
    }
    if (have_sum) json_free(&sum);
    for (int w = 0; w < MAX_WORKERS; w++) free(ws[w].rows);
    free(ws);
    free(p1.rows);
    return rc;
}
