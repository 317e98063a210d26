/* swap-inspect ls DIR [--json]: every checkpoint under DIR, one row each. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "inspect/inspect.h"

static char **g_found;
static size_t g_nfound;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    if (type == FTW_F && base[0] != '.' && n > 3 && !strcmp(base + n - 3, ".h5")) {
        g_found = xRealloc(g_found, (g_nfound + 1) * sizeof *g_found);
        g_found[g_nfound++] = xStrdup(path);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static cJSON *row_json(const char *path, const CkptMeta *mt, int ok, const char *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddBoolToObject(o, "valid", ok);
    if (!ok) {
        cJSON_AddStringToObject(o, "error", err);
        return o;
    }
    cJSON_AddStringToObject(o, "phase", mt->phase);
    cJSON_AddNumberToObject(o, "worker", mt->worker);
    cJSON_AddItemToObject(o, "epoch", json_i64(mt->epoch));
    cJSON_AddItemToObject(o, "test_acc", json_num9(last_test_acc(mt)));
    cJSON_AddStringToObject(o, "content_hash", mt->content_hash);
    cJSON *parents = cJSON_AddArrayToObject(o, "parents");
    for (int p = 0; p < mt->n_parents; p++) cJSON_AddItemToArray(parents, cJSON_CreateString(mt->parents[p].hash));
    return o;
}

static void row_text(const char *path, const CkptMeta *mt, int ok, const char *err) {
    if (!ok) {
        const char *msg = strncmp(err, path, strlen(path)) ? err : err + strlen(path) + 2;
        printf("%-48s INVALID: %s\n", path, msg);
        return;
    }
    char acc[16] = "-", parents[CKPT_MAX_PARENTS * 9 + 1] = "-";
    double a = last_test_acc(mt);
    if (isfinite(a)) snprintf(acc, sizeof acc, "%.4f", a);
    size_t u = 0;
    for (int p = 0; p < mt->n_parents; p++)
        u += (size_t)snprintf(parents + u, sizeof parents - u, "%s%.8s", p ? "," : "", mt->parents[p].hash);
    printf("%-48s %-8s %6d %5lld %8s %-12.12s %s\n", path, mt->phase, mt->worker, (long long)mt->epoch, acc,
           mt->content_hash, parents);
}

int inspect_ls_main(int argc, char **argv) {
    int json = inspect_wants_json(argc, argv);
    if (argc - json != 2) inspect_usage("ls: need one directory");
    const char *dir = argv[1];
    if (nftw(dir, collect, 32, FTW_PHYS) != 0) swap_fail("%s: cannot list (%s)", dir, strerror(errno));
    qsort(g_found, g_nfound, sizeof *g_found, cmp_str);
    cJSON *rows = json ? cJSON_CreateArray() : NULL;
    if (!json)
        printf("%-48s %-8s %6s %5s %8s %-12s %s\n", "path", "phase", "worker", "epoch", "test_acc", "hash", "parents");
    for (size_t i = 0; i < g_nfound; i++) {
        CkptMeta mt;
        char err[1024];
        int ok = ckpt_try_read_meta(g_found[i], &mt, err, sizeof err) == 0;
        if (json) cJSON_AddItemToArray(rows, row_json(g_found[i], &mt, ok, err));
        else row_text(g_found[i], &mt, ok, err);
        if (ok) ckpt_meta_free(&mt);
        free(g_found[i]);
    }
    if (json) json_print_line(rows);
    free(g_found);
    return 0;
}
