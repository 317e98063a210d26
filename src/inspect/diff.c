/* swap-inspect diff A B [--json]: per-tensor distances between two checkpoints and the differences of their
 * resolved configurations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"

typedef struct {
    char **v;
    int n;
} Lines;

static Lines split_lines(const char *s) {
    Lines l = {NULL, 0};
    const char *p = s ? s : "";
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        l.v = xRealloc(l.v, (size_t)(l.n + 1) * sizeof *l.v);
        l.v[l.n] = xMalloc(len + 1);
        memcpy(l.v[l.n], p, len);
        l.v[l.n][len] = 0;
        l.n++;
        p += len + (e ? 1 : 0);
    }
    return l;
}

static void free_lines(Lines *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* Line diff (LCS) of two texts: "- " lines only in a, "+ " lines only in b, printed or (out) appended to a JSON
 * array. Returns the number of changes. */
static int line_diff(const char *a, const char *b, cJSON *out) {
    Lines x = split_lines(a), y = split_lines(b);
    int changes = 0;
    size_t cells = (size_t)(x.n + 1) * (size_t)(y.n + 1);
    if (cells > 50u * 1000 * 1000) swap_fail("config diff: texts too long to compare (%d and %d lines)", x.n, y.n);
    int *L = xCalloc(cells, sizeof *L);
#define AT(i, j) L[(size_t)(i) * (size_t)(y.n + 1) + (size_t)(j)]
    for (int i = x.n - 1; i >= 0; i--)
        for (int j = y.n - 1; j >= 0; j--)
            AT(i, j) = strcmp(x.v[i], y.v[j]) == 0 ? AT(i + 1, j + 1) + 1
                                                   : (AT(i + 1, j) > AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1));
    int i = 0, j = 0;
    while (i < x.n || j < y.n) {
        const char *line;
        char sign;
        if (i < x.n && j < y.n && !strcmp(x.v[i], y.v[j])) {
            i++, j++;
            continue;
        }
        if (j >= y.n || (i < x.n && AT(i + 1, j) >= AT(i, j + 1))) sign = '-', line = x.v[i++];
        else sign = '+', line = y.v[j++];
        changes++;
        if (out) {
            char buf[8192];
            snprintf(buf, sizeof buf, "%c %s", sign, line);
            cJSON_AddItemToArray(out, cJSON_CreateString(buf));
        } else {
            printf("  %c %s\n", sign, line);
        }
    }
#undef AT
    free(L);
    free_lines(&x);
    free_lines(&y);
    return changes;
}

typedef struct {
    double d2, a2, b2, ab;
} Acc;

static void acc_add(Acc *acc, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        acc->d2 += (x - y) * (x - y);
        acc->a2 += x * x;
        acc->b2 += y * y;
        acc->ab += x * y;
    }
}

/* One row: printed, or (rows) appended to a JSON array. */
static void acc_print(const char *name, const char *shape, const Acc *a, cJSON *rows) {
    double l2 = sqrt(a->d2), na = sqrt(a->a2), nb = sqrt(a->b2);
    double rel = na > 0 ? l2 / na : (l2 > 0 ? INFINITY : 0);
    double cos = na > 0 && nb > 0 ? a->ab / (na * nb) : NAN;
    if (rows) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "shape", shape);
        cJSON_AddItemToObject(o, "l2", json_num9(l2));
        cJSON_AddItemToObject(o, "relative", json_num9(rel));
        cJSON_AddItemToObject(o, "cosine", json_num9(cos));
        cJSON_AddItemToArray(rows, o);
    } else {
        printf("%-26s %-18s %12.6g %12.6g %12.8f\n", name, shape, l2, rel, cos);
    }
}

static void acc_sum(Acc *to, const Acc *t) {
    to->d2 += t->d2, to->a2 += t->a2, to->b2 += t->b2, to->ab += t->ab;
}

/* Every tensor of A against B's of the same name; rows (JSON) or printed lines. Returns the unmatched count. */
static int diff_tensors(const Model *a, const Model *b, cJSON *rows) {
    Acc all = {0, 0, 0, 0}, trainable = {0, 0, 0, 0};
    int only = 0;
    for (int i = 0; i < a->ps.n_views; i++) {
        const TensorView *v = &a->ps.views[i];
        int j = ps_find(&b->ps, v->name);
        char sh[64];
        ps_shape_str(v, sh, sizeof sh);
        if (j < 0 || b->ps.views[j].numel != v->numel || b->ps.views[j].ndim != v->ndim ||
            memcmp(b->ps.views[j].shape, v->shape, sizeof v->shape)) {
            only++;
            if (!rows) printf("%-26s %-18s %s\n", v->name, sh, j < 0 ? "only in A" : "shape differs");
            continue;
        }
        Acc t = {0, 0, 0, 0};
        acc_add(&t, ps_tensor(&a->ps, i), ps_tensor(&b->ps, j), v->numel);
        acc_print(v->name, sh, &t, rows);
        acc_sum(&all, &t);
        if (v->trainable) acc_sum(&trainable, &t);
    }
    for (int j = 0; j < b->ps.n_views; j++)
        if (ps_find(&a->ps, b->ps.views[j].name) < 0) {
            only++;
            if (!rows) printf("%-26s %-18s only in B\n", b->ps.views[j].name, "");
        }
    acc_print("(all parameters)", "", &trainable, rows);
    acc_print("(all tensors)", "", &all, rows);
    return only;
}

static void diff_json(const char *pa, const char *pb, const Model *a, const Model *b, const CkptMeta *ma,
                      const CkptMeta *mb) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "a", pa);
    cJSON_AddStringToObject(o, "b", pb);
    cJSON_AddStringToObject(o, "a_hash", ma->content_hash);
    cJSON_AddStringToObject(o, "b_hash", mb->content_hash);
    cJSON_AddBoolToObject(o, "same_content", !strcmp(ma->content_hash, mb->content_hash));
    cJSON *rows = cJSON_AddArrayToObject(o, "tensors");
    cJSON_AddNumberToObject(o, "unmatched_tensors", diff_tensors(a, b, rows));
    cJSON_AddBoolToObject(o, "config_same", !strcmp(ma->config_hash, mb->config_hash));
    line_diff(ma->config_resolved, mb->config_resolved, cJSON_AddArrayToObject(o, "config_diff"));
    json_print_line(o);
}

static void diff_text(const char *pa, const char *pb, const Model *a, const Model *b, const CkptMeta *ma,
                      const CkptMeta *mb) {
    printf("A  %s  (%s, epoch %lld, %s)\nB  %s  (%s, epoch %lld, %s)\n", pa, ma->phase, (long long)ma->epoch,
           ma->content_hash, pb, mb->phase, (long long)mb->epoch, mb->content_hash);
    printf("content      %s\n", strcmp(ma->content_hash, mb->content_hash) ? "differs" : "identical");
    printf("\n%-26s %-18s %12s %12s %12s\n", "tensor", "shape", "l2(A-B)", "relative", "cosine");
    diff_tensors(a, b, NULL);
    printf("\nconfig       %s\n", strcmp(ma->config_hash, mb->config_hash) ? "differs (resolved, A -> B):" : "identical");
    if (strcmp(ma->config_resolved, mb->config_resolved)) line_diff(ma->config_resolved, mb->config_resolved, NULL);
    if (strcmp(ma->phase, mb->phase)) printf("phase        %s -> %s\n", ma->phase, mb->phase);
    if (ma->epoch != mb->epoch) printf("epoch        %lld -> %lld\n", (long long)ma->epoch, (long long)mb->epoch);
    if (strcmp(ma->model, mb->model)) printf("model        %s -> %s\n", ma->model, mb->model);
}

int inspect_diff_main(int argc, char **argv) {
    int json = inspect_wants_json(argc, argv);
    if (argc - json != 3) inspect_usage("diff: need exactly two files");
    const char *pa = argv[1], *pb = argv[2];
    CkptMeta ma, mb;
    int oka, okb;
    Model *a = load_lenient(pa, &ma, &oka), *b = load_lenient(pb, &mb, &okb);
    if (json) diff_json(pa, pb, a, b, &ma, &mb);
    else diff_text(pa, pb, a, b, &ma, &mb);
    model_free(a);
    model_free(b);
    ckpt_meta_free(&ma);
    ckpt_meta_free(&mb);
    return 0;
}
