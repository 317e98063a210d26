/* swap-inspect interpolate: loss and accuracy along the line from checkpoint A to B, or on the plane through A,
 * B and C, with BN statistics recomputed at every point (an interpolated network's running statistics mean
 * nothing) — the loss-landscape pictures of the SWAP paper. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "core/err.h"
#include "nn/parallel.h"
#include "inspect/inspect.h"
#include "phases/trainer.h"
#include "report/report.h"

#define USAGE                                                                                                      \
    "usage: swap-inspect interpolate A.h5 B.h5 [C.h5] [--steps N] [--from X] [--to Y] [--data DIR|FILE] [--subset N]\n" \
    "                                [--bn-batches K] [--bn-batch B] [--seed S] [--batch B] [--threads T] [--out DIR]\n" \
    "  line A->B: points (1-a)*A + a*B for a from X (0) to Y (1) in N (10) steps; with C: an (N+1)x(N+1) grid\n"  \
    "  on the plane through A, B, C (orthonormal coordinates, 20%% margin around the triangle).\n"                 \
    "  At every point BN statistics are recomputed from K (20) training batches of B (128) samples (K=0: the\n"  \
    "  interpolated running statistics are kept), drawn as swap-average draws them for experiment seed S\n"     \
    "  (default: the seed in A's config), then train and test loss (plain cross-entropy) and accuracy are\n"     \
    "  measured on the first N samples of each split (--subset; 0 = all); a point equal to a checkpoint gives\n" \
    "  what `swap-inspect eval FILE --bn-recompute K --bn-batch B --train-subset N --subset N` gives for a file\n" \
    "  whose seed is S. Writes interpolate-line.{csv,gp,png} or interpolate-plane.*\n"                          \
    "  into DIR (default: results/<name>/plots when A lies in results/<name>/phase*/, else .).\n"

typedef struct {
    const char *paths[3];
    int n_models, steps, subset, bn_batches, bn_batch, batch, threads, have_seed, ignore_hash;
    double from, to;
    uint64_t seed;
    Augment bn_aug; /* phase 3's BN augmentation, read from A's recorded configuration */
    int bn_aug_on;
    const char *data, *out;
} Args;

static int usage_error(const char *msg) {
    fprintf(stderr, "%s: %s\n%s", swap_progname(), msg, USAGE);
    return SWAP_EXIT_USAGE;
}

static int parse_num(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return !errno && end != s && !*end && isfinite(*v);
}

static int parse_args(Args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->steps = 10;
    a->bn_batches = 20;
    a->bn_batch = 128;
    a->batch = 250;
    a->to = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            printf("%s", USAGE);
            exit(0);
        }
        if (!strcmp(s, "--ignore-data-hash")) {
            a->ignore_hash = 1;
            continue;
        }
        if (s[0] != '-' || !s[1]) {
            if (a->n_models == 3) return usage_error("at most three checkpoints (A B [C])");
            a->paths[a->n_models++] = s;
            continue;
        }
        if (!val) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s needs a value", s);
            return usage_error(msg);
        }
        double v;
        int *ip = !strcmp(s, "--steps") ? &a->steps : !strcmp(s, "--subset") ? &a->subset
                : !strcmp(s, "--bn-batches") ? &a->bn_batches : !strcmp(s, "--bn-batch") ? &a->bn_batch
                : !strcmp(s, "--batch") ? &a->batch : !strcmp(s, "--threads") ? &a->threads : NULL;
        if (!strcmp(s, "--seed")) { /* any uint64: checkpoints carry derived 64-bit seeds */
            char *end;
            errno = 0;
            unsigned long long u = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-') {
                char msg[256];
                snprintf(msg, sizeof msg, "--seed: expected a non-negative integer, got '%s'", val);
                return usage_error(msg);
            }
            a->seed = (uint64_t)u;
            a->have_seed = 1;
        } else if (ip) {
            if (!parse_num(val, &v) || v < 0 || v != floor(v) || v > 1e15) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s: expected a non-negative integer, got '%s'", s, val);
                return usage_error(msg);
            }
            if (v > 1e8) return usage_error("value too large");
            *ip = (int)v;
        } else if (!strcmp(s, "--from") || !strcmp(s, "--to")) {
            if (!parse_num(val, &v)) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s: expected a number, got '%s'", s, val);
                return usage_error(msg);
            }
            *(!strcmp(s, "--from") ? &a->from : &a->to) = v;
        } else if (!strcmp(s, "--data")) a->data = val;
        else if (!strcmp(s, "--out")) a->out = val;
        else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown option '%s'", s);
            return usage_error(msg);
        }
        i++;
    }
    if (a->n_models < 2) return usage_error("need two checkpoints (a line) or three (a plane)");
    if (a->steps < 1) return usage_error("--steps: must be at least 1");
    if (a->batch < 1 || a->bn_batch < 1) return usage_error("--batch/--bn-batch: must be at least 1");
    if (a->from >= a->to) return usage_error("--from must be less than --to");
    return -1;
}

static void label_of(char *buf, size_t n, const char *path, const CkptMeta *m) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strcmp(m->phase, "refine") || !strcmp(m->phase, "wash") || !strcmp(m->phase, "papa"))
        snprintf(buf, n, "%.31s worker %d (%.200s)", m->phase, m->worker, base);
    else snprintf(buf, n, "%.31s (%.200s)", m->phase[0] ? m->phase : "model", base);
}

/* Default output: <exp>/plots when A is <exp>/phaseN/<file>. */
static void default_out(char *buf, size_t n, const char *a_path) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", a_path);
    char *s1 = strrchr(tmp, '/');
    if (s1) {
        *s1 = 0;
        char *s2 = strrchr(tmp, '/');
        const char *phase_dir = s2 ? s2 + 1 : tmp;
        if (!strncmp(phase_dir, "phase", 5)) {
            if (s2) *s2 = 0;
            const char *parent = s2 ? tmp : ".";
            if (strlen(parent) + 7 <= n) {
                memcpy(buf, parent, strlen(parent));
                memcpy(buf + strlen(parent), "/plots", 7);
                return;
            }
        }
    }
    snprintf(buf, n, ".");
}

typedef struct {
    double train_loss, train_acc, test_loss, test_acc;
} Point;

/* The weights at barycentric point w. A point equal to a checkpoint is that checkpoint, bit for bit (the blend
 * 1*A + 0*B would turn A's -0.0 into +0.0); elsewhere the blend is computed in double. */
static void set_point(Model *m, int n_models, const float *const *ends, const double *w) {
    const size_t n = m->ps.n_total;
    for (int k = 0; k < n_models; k++) {
        int only_k = w[k] == 1.0;
        for (int j = 0; j < n_models; j++) only_k &= j == k || w[j] == 0.0;
        if (only_k) {
            memcpy(m->ps.data, ends[k], n * sizeof(float));
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double v = 0.0;
        for (int k = 0; k < n_models; k++) v += w[k] * (double)ends[k][i];
        m->ps.data[i] = (float)v;
    }
}

static Point measure(Model *m, const Args *a, const Dataset *train, const Dataset *test, const float *const *ends,
                     const double *w) {
    set_point(m, a->n_models, ends, w);
    bn_recompute(m, train, a->bn_batch, a->bn_batches, phase_seed(a->seed, 4, 0), a->bn_aug_on ? &a->bn_aug : NULL);
    double ev[3];
    Point p;
    eval_dataset(m, train, a->batch, 0, 1, 0, &ev[0], &ev[1], &ev[2], NULL);
    p.train_loss = ev[0] / ev[2];
    p.train_acc = ev[1] / ev[2];
    eval_dataset(m, test, a->batch, 0, 1, 0, &ev[0], &ev[1], &ev[2], NULL);
    p.test_loss = ev[0] / ev[2];
    p.test_acc = ev[1] / ev[2];
    return p;
}

static void csv_point(StrBuf *b, const Point *p) {
    sb_num(b, p->train_loss, ",");
    sb_num(b, p->train_acc, ",");
    sb_num(b, p->test_loss, ",");
    sb_num(b, p->test_acc, "\n");
}

/* One interpolation: the options, the end models, the data, the geometry and the output files. */
typedef struct {
    Args a;
    CkptMeta meta[3];
    Model *m;
    float *ends[3];
    Dataset *train, *test;
    double uu, uv, vv, dist_ab;
    char out[PATH_MAX], q[3][PATH_MAX + 200], qt[256];
    char png[64], csvname[64], gpname[64], ptsname[64];
    const char *stem;
    StrBuf csv, gp, pts;
} Landscape;

/* The validation split the models recorded is no training data: BN batches and the train columns come from the
 * rest, as in the phases and `swap-inspect eval`, so an endpoint still equals that file's evaluation. */
static void hold_out_val(Landscape *L) {
    const CkptMeta *m0 = &L->meta[0];
    for (int k = 1; k < L->a.n_models; k++)
        if (L->meta[k].val_split != m0->val_split || L->meta[k].val_seed != m0->val_seed)
            swap_fail("%s: validation split %lld (seed %lld), but %s has %lld (seed %lld)", L->a.paths[k],
                      (long long)L->meta[k].val_split, (long long)L->meta[k].val_seed, L->a.paths[0],
                      (long long)m0->val_split, (long long)m0->val_seed);
    if (m0->val_split <= 0) return;
    if (m0->val_split >= L->train->n)
        swap_fail("%s: records data.val_split = %lld but %s has %d training images", L->a.paths[0],
                  (long long)m0->val_split, m0->dataset, L->train->n);
    dataset_free(dataset_split_val(L->train, (int)m0->val_split, (uint64_t)m0->val_seed));
}

/* The ends: strict loading into one model, so a different architecture is a one-line error. */
static void load_ends(Landscape *L) {
    Args *a = &L->a;
    L->m = ckpt_load_model(a->paths[0], &L->meta[0], 0);
    inspect_set_precision(L->meta[0].precision, a->paths[0]); /* the arithmetic the first end was trained in */
    const size_t n = L->m->ps.n_total;
    for (int k = 0; k < a->n_models; k++) {
        if (k) ckpt_load_into(a->paths[k], L->m, &L->meta[k], 0);
        if (strcmp(L->meta[k].dataset, L->meta[0].dataset))
            swap_fail("%s: trained on %s, but %s on %s", a->paths[k], L->meta[k].dataset, a->paths[0],
                      L->meta[0].dataset);
        L->ends[k] = xMalloc(n * sizeof(float));
        memcpy(L->ends[k], L->m->ps.data, n * sizeof(float));
    }
    char seed_s[32];
    ckpt_meta_config_value(&L->meta[0], "seed", seed_s, sizeof seed_s);
    if (!a->have_seed) a->seed = strtoull(seed_s, NULL, 10);
    a->bn_aug_on = bn_augment_from_meta(&L->meta[0], &a->bn_aug) != NULL;
    L->train = inspect_load_data(a->paths[0], &L->meta[0], L->meta[0].dataset, a->data, a->ignore_hash, 1);
    L->test = inspect_load_data(a->paths[0], &L->meta[0], L->meta[0].dataset, a->data, a->ignore_hash, 0);
    hold_out_val(L);
    if (a->subset > 0 && a->subset < L->train->n) dataset_truncate(L->train, a->subset);
    if (a->subset > 0 && a->subset < L->test->n) dataset_truncate(L->test, a->subset);
}

/* Output directory, file names and the quoted labels the pictures carry. */
static void name_outputs(Landscape *L) {
    const Args *a = &L->a;
    char name[128], label[PATH_MAX + 64];
    ckpt_meta_config_value(&L->meta[0], "name", name, sizeof name);
    if (!name[0]) snprintf(name, sizeof name, "?");
    gp_quote(L->qt, sizeof L->qt, name);
    if (a->out) snprintf(L->out, sizeof L->out, "%s", a->out);
    else default_out(L->out, sizeof L->out, a->paths[0]);
    if (mkdir(L->out, 0755) != 0 && errno != EEXIST)
        swap_fail("%s: cannot create directory (%s)", L->out, strerror(errno));
    for (int k = 0; k < a->n_models; k++) {
        label_of(label, sizeof label, a->paths[k], &L->meta[k]);
        gp_quote(L->q[k], sizeof L->q[k], label);
    }
    L->stem = a->n_models == 2 ? "interpolate-line" : "interpolate-plane";
    snprintf(L->png, sizeof L->png, "%s.png", L->stem);
    snprintf(L->csvname, sizeof L->csvname, "%s.csv", L->stem);
    snprintf(L->gpname, sizeof L->gpname, "%s.gp", L->stem);
    snprintf(L->ptsname, sizeof L->ptsname, "%s-models.csv", L->stem);
}

/* Geometry over the trainable weights (BN statistics are recomputed, not part of the landscape). */
static void geometry(Landscape *L) {
    const float *const *e = (const float *const *)L->ends;
    for (size_t i = 0; i < L->m->ps.n_params; i++) {
        const double u = (double)e[1][i] - e[0][i], v = L->a.n_models > 2 ? (double)e[2][i] - e[0][i] : 0.0;
        L->uu += u * u;
        L->uv += u * v;
        L->vv += v * v;
    }
    L->dist_ab = sqrt(L->uu);
    if (L->dist_ab == 0)
        swap_fail("%s and %s hold the same weights: there is no line between them", L->a.paths[0], L->a.paths[1]);
}

static void run_line(Landscape *L) {
    const Args *a = &L->a;
    sb_printf(&L->csv, "alpha,distance,train_loss,train_acc,test_loss,test_acc\n");
    printf("%8s %10s %10s %9s %10s %9s\n", "alpha", "distance", "train_loss", "train_acc", "test_loss", "test_acc");
    for (int i = 0; i <= a->steps; i++) {
        const double al = i == a->steps ? a->to : a->from + (a->to - a->from) * i / a->steps;
        const double w[3] = {1.0 - al, al, 0.0};
        Point p = measure(L->m, a, L->train, L->test, (const float *const *)L->ends, w);
        sb_num(&L->csv, al, ",");
        sb_num(&L->csv, al * L->dist_ab, ",");
        csv_point(&L->csv, &p);
        printf("%8.4f %10.4f %10.4f %8.2f%% %10.4f %8.2f%%\n", al, al * L->dist_ab, p.train_loss, 100 * p.train_acc,
               p.test_loss, 100 * p.test_acc);
        fflush(stdout);
    }
    sb_printf(&L->pts, "model,alpha,distance\nA,0,0\nB,1,");
    sb_num(&L->pts, L->dist_ab, "\n");
    gp_begin(&L->gp, L->png, 800, 700);
    sb_printf(&L->gp,
              "set multiplot layout 2,1 title \"loss landscape along a line: %s\\nA = %s, B = %s\"\n"
              "set key outside right top\nset lmargin 12\nset rmargin 18\n"
              "set xlabel 'alpha (weights = (1 - alpha) A + alpha B; A at 0, B at 1)'\n"
              "set arrow from 0, graph 0 to 0, graph 1 nohead dt 2\nset arrow from 1, graph 0 to 1, graph 1 nohead dt 2\n"
              "set ylabel 'loss (cross-entropy)'\nset title 'loss'\n"
              "plot '%s' skip 1 using 1:3 with linespoints pt 7 lw 2 title 'train', '' skip 1 using 1:5 with "
              "linespoints pt 5 lw 2 title 'test'\n"
              "set ylabel 'accuracy (%%)'\nset title 'accuracy'\n"
              "plot '%s' skip 1 using 1:(100*$4) with linespoints pt 7 lw 2 title 'train', '' skip 1 using "
              "1:(100*$6) with linespoints pt 5 lw 2 title 'test'\n"
              "unset multiplot\n",
              L->qt, L->q[0], L->q[1], L->csvname, L->csvname);
}

static void plane_script(Landscape *L) {
    gp_begin(&L->gp, L->png, 1100, 520);
    sb_printf(&L->gp,
              "set multiplot layout 1,2 title \"loss landscape on the plane through A, B, C: %s\\nA = %s, B = "
              "%s, C = %s\"\n"
              "set xlabel 'distance along A->B (weight-space units)'\nset ylabel 'distance orthogonal, towards "
              "C (weight-space units)'\n"
              "set key below\nset palette rgb 33,13,10\nset style textbox opaque noborder\n"
              "set cblabel 'training loss (cross-entropy)'\nset title 'training loss'\n"
              "plot '%s' skip 1 using 1:2:6 with image notitle, '%s' skip 1 using 2:3 with points pt 7 ps 1.5 "
              "lc rgb 'black' title 'models A, B, C', '' skip 1 using 2:3:1 with labels boxed offset 1.5,1.5 "
              "notitle\n"
              "set cblabel 'test error (%%)'\nset title 'test error'\n"
              "plot '%s' skip 1 using 1:2:(100*(1-$9)) with image notitle, '%s' skip 1 using 2:3 with points pt "
              "7 ps 1.5 lc rgb 'black' title 'models A, B, C', '' skip 1 using 2:3:1 with labels boxed offset "
              "1.5,1.5 notitle\n"
              "unset multiplot\n",
              L->qt, L->q[0], L->q[1], L->q[2], L->csvname, L->ptsname, L->csvname, L->ptsname);
}

/* Orthonormal plane coordinates: A = (0,0), B = (|B-A|, 0), C = (c1, c2); a grid with a 20% margin. */
static void run_plane(Landscape *L) {
    const Args *a = &L->a;
    const double dist_ab = L->dist_ab, c1 = L->uv / dist_ab, c2sq = L->vv - c1 * c1;
    if (c2sq <= 1e-12 * L->vv)
        swap_fail("%s lies on the line through %s and %s: no plane", a->paths[2], a->paths[0], a->paths[1]);
    const double c2 = sqrt(c2sq);
    const double x0 = fmin(0.0, c1), x1 = fmax(dist_ab, c1), y0 = 0.0, y1 = c2;
    const double mx = 0.2 * (x1 - x0), my = 0.2 * (y1 - y0);
    sb_printf(&L->csv, "x,y,weight_a,weight_b,weight_c,train_loss,train_acc,test_loss,test_acc\n");
    const int N = a->steps;
    for (int iy = 0; iy <= N; iy++)
        for (int ix = 0; ix <= N; ix++) {
            const double x = x0 - mx + (x1 - x0 + 2 * mx) * ix / N, y = y0 - my + (y1 - y0 + 2 * my) * iy / N;
            const double g = y / c2, b = (x - g * c1) / dist_ab;
            const double w[3] = {1.0 - b - g, b, g};
            Point p = measure(L->m, a, L->train, L->test, (const float *const *)L->ends, w);
            for (int k = 0; k < 2; k++) sb_num(&L->csv, k ? y : x, ",");
            for (int k = 0; k < 3; k++) sb_num(&L->csv, w[k], ",");
            csv_point(&L->csv, &p);
            printf("point %d/%d  x %.3f y %.3f  train loss %.4f  test acc %.2f%%\n", iy * (N + 1) + ix + 1,
                   (N + 1) * (N + 1), x, y, p.train_loss, 100 * p.test_acc);
            fflush(stdout);
        }
    sb_printf(&L->pts, "model,x,y\nA,0,0\nB,");
    sb_num(&L->pts, dist_ab, ",0\nC,");
    sb_num(&L->pts, c1, ",");
    sb_num(&L->pts, c2, "\n");
    plane_script(L);
}

/* CSVs and script, then the picture; exit 1 when no picture came out. */
static int write_and_draw(Landscape *L) {
    int wrote = sb_write(&L->csv, L->out, L->csvname) | sb_write(&L->pts, L->out, L->ptsname) |
                sb_write(&L->gp, L->out, L->gpname);
    if (wrote) return SWAP_EXIT_ERROR;
    const char *pngs[] = {L->png};
    int g = gnuplot_run(L->out, L->gpname, pngs, 1);
    if (g == REPORT_OK) printf("%s: wrote %s/%s and %s\n", swap_progname(), L->out, L->csvname, L->png);
    else printf("%s: wrote %s/%s (no picture)\n", swap_progname(), L->out, L->csvname);
    return g == REPORT_OK ? SWAP_EXIT_OK : SWAP_EXIT_ERROR;
}

static void landscape_free(Landscape *L) {
    sb_free(&L->csv);
    sb_free(&L->gp);
    sb_free(&L->pts);
    for (int k = 0; k < L->a.n_models; k++) {
        free(L->ends[k]);
        ckpt_meta_free(&L->meta[k]);
    }
    dataset_free(L->train);
    dataset_free(L->test);
    model_free(L->m);
}

int inspect_interpolate_main(int argc, char **argv) {
    static Landscape L; /* large (paths and labels): kept off the stack */
    memset(&L, 0, sizeof L);
    int rc = parse_args(&L.a, argc, argv);
    if (rc >= 0) return rc;
    if (L.a.threads > 0) engine_set_threads(L.a.threads); /* the engine's split: same numbers at any count */
    load_ends(&L);
    name_outputs(&L);
    geometry(&L);
    printf("%s: %s, BN recompute %d x %d (seed %lld), %d train / %d test samples\n", swap_progname(), L.stem,
           L.a.bn_batches, L.a.bn_batch, (unsigned long long)L.a.seed, L.train->n, L.test->n);
    if (L.a.n_models == 2) run_line(&L);
    else run_plane(&L);
    rc = write_and_draw(&L);
    landscape_free(&L);
    return rc;
}
