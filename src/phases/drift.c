/* Config drift (drift.h): compare the resolved configuration a checkpoint records with this run's, key by key,
 * on the keys that define the phase's result. */
#include "phases/drift.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "core/err.h"

static int has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static int has_suffix(const char *s, const char *x) {
    size_t ls = strlen(s), lx = strlen(x);
    return ls >= lx && !strcmp(s + ls - lx, x);
}

/* How or where a run goes, not what it computes (drift.h). `leaf` is a key's last component or a whole key. */
static int operational(const char *k) {
    static const char *const exact[] = {"name", "results", "shared_dir", "profile", "sweep", "data_dir", "threads",
                                        "phase1.bucket_mb", "phase2.parallel", "phase3.min_workers",
                                        "phase3.eval_batch", "checkpoint_every", "keep_checkpoints", "eval_every",
                                        /* checked on its own, with its override: phase_check_precision */
                                        "precision", "allow_precision_change"};
    static const char *const leaves[] = {".threads", ".checkpoint_every", ".keep_checkpoints", ".eval_every"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(k, exact[i])) return 1;
    for (size_t i = 0; i < sizeof leaves / sizeof *leaves; i++)
        if (has_suffix(k, leaves[i])) return 1;
    return 0;
}

static int in_scope(const char *k, DriftScope s, int interacting) {
    if (operational(k) || !strcmp(k, "baselines")) return 0; /* a baseline's settings: compared on their own */
    const int p1 = has_prefix(k, "phase1."), p2 = has_prefix(k, "phase2."), p3 = has_prefix(k, "phase3.");
    if (!p1 && !p2 && !p3) return 1;
    switch (s) {
    case DRIFT_PHASE1: return p1;
    case DRIFT_BASELINE: return 0;
    case DRIFT_PHASE2: return p1 || (p2 && (strcmp(k, "phase2.workers") || interacting));
    case DRIFT_PHASE3: return 1;
    }
    return 0;
}

/* The value of "key = value" in a resolved text (pointer into it, length in *len), or NULL. */
static const char *value_of(const char *text, const char *key, size_t *len) {
    const size_t kl = strlen(key);
    for (const char *r = text; r && *r;) {
        if (!strncmp(r, key, kl) && !strncmp(r + kl, " = ", 3)) {
            *len = strcspn(r + kl + 3, "\n");
            return r + kl + 3;
        }
        r = strchr(r, '\n');
        if (r) r++;
    }
    return NULL;
}

typedef struct {
    char *out;
    size_t n;
    int count;
} Diffs;

static void add_diff(Diffs *d, const char *key, const char *a, size_t la, const char *b, size_t lb) {
    d->count++;
    if (d->count > 4) return; /* the message stays one readable line */
    size_t used = strlen(d->out);
    const int max = 40;
    snprintf(d->out + used, d->n - used, "%s%s (there %.*s%s, now %.*s%s)", used ? ", " : "", key,
             (int)(la > (size_t)max ? (size_t)max : la), a, la > (size_t)max ? "..." : "",
             (int)(lb > (size_t)max ? (size_t)max : lb), b, lb > (size_t)max ? "..." : "");
}

/* In the text of the baselines table ({["small"]={["batch"]=128,...},...}), the braces of ["name"]={...}. */
static const char *baseline_item(const char *tbl, size_t tl, const char *name, size_t *len) {
    char pat[160];
    snprintf(pat, sizeof pat, "[\"%s\"]={", name);
    const size_t pl = strlen(pat);
    for (size_t i = 0; i + pl <= tl; i++) {
        if (strncmp(tbl + i, pat, pl)) continue;
        const char *start = tbl + i + pl - 1;
        int depth = 0;
        for (const char *q = start; q < tbl + tl; q++) {
            if (*q == '{') depth++;
            else if (*q == '}' && --depth == 0) {
                *len = (size_t)(q - start + 1);
                return start;
            }
        }
        return NULL;
    }
    return NULL;
}

/* The value of ["leaf"]=value at the top level of an item {...}. */
static const char *item_value(const char *item, size_t il, const char *leaf, size_t *len) {
    char pat[96];
    snprintf(pat, sizeof pat, "[\"%s\"]=", leaf);
    const size_t pl = strlen(pat);
    int depth = 0;
    for (size_t i = 0; i < il; i++) {
        char c = item[i];
        if (c == '{') depth++;
        else if (c == '}') depth--;
        else if (depth == 1 && (item[i - 1] == '{' || item[i - 1] == ',') && i + pl <= il && !strncmp(item + i, pat, pl)) {
            const char *v = item + i + pl;
            int d = 0;
            size_t k = 0;
            for (; v + k < item + il; k++) {
                if (v[k] == '{') d++;
                else if (v[k] == '}') {
                    if (d == 0) break;
                    d--;
                } else if (v[k] == ',' && d == 0) break;
            }
            *len = k;
            return v;
        }
    }
    return NULL;
}

/* One baseline's settings: each leaf of the item now, against the same leaf then. */
static void compare_baseline(Diffs *d, const char *now, const char *then, const char *name) {
    size_t ln, lt, in, it;
    const char *tn = value_of(now, "baselines", &ln), *tt = value_of(then, "baselines", &lt);
    if (!tn || !tt) return;
    const char *a = baseline_item(tn, ln, name, &in), *b = baseline_item(tt, lt, name, &it);
    if (!a || !b) return;
    for (size_t i = 1; i < in;) { /* walk the leaves of a: ["leaf"]=value, */
        if (a[i] != '[') break;
        const char *lq = a + i + 2, *rq = strchr(lq, '"');
        if (!rq) break;
        char leaf[64];
        snprintf(leaf, sizeof leaf, "%.*s", (int)(rq - lq), lq);
        size_t va, vb;
        const char *x = item_value(a, in, leaf, &va), *y = item_value(b, it, leaf, &vb);
        if (!x) break;
        char key[256];
        snprintf(key, sizeof key, "baselines.%s.%s", name, leaf);
        if (y && !operational(key) && (va != vb || strncmp(x, y, va))) add_diff(d, key, y, vb, x, va);
        i = (size_t)(x + va - a) + 1; /* past the value and its comma */
    }
}

int drift_compare(const char *now, const char *then, DriftScope scope, const char *baseline, char *out, size_t n) {
    out[0] = 0;
    Diffs d = {out, n, 0};
    if (!then || !*then) return 0;
    size_t lm;
    const char *mode = value_of(now, "phase2.mode", &lm);
    const int interacting = mode && strncmp(mode, "\"independent\"", lm);
    for (const char *r = now; r && *r;) {
        const char *eq = strstr(r, " = ");
        const char *nl = strchr(r, '\n');
        if (!eq || (nl && eq > nl)) break;
        char key[160];
        snprintf(key, sizeof key, "%.*s", (int)(eq - r), r);
        const char *v = eq + 3;
        size_t lv = nl ? (size_t)(nl - v) : strlen(v), lt;
        const char *t = value_of(then, key, &lt);
        if (t && in_scope(key, scope, interacting) && (lt != lv || strncmp(t, v, lv))) add_diff(&d, key, t, lt, v, lv);
        r = nl ? nl + 1 : NULL;
    }
    if (scope == DRIFT_BASELINE && baseline) compare_baseline(&d, now, then, baseline);
    if (d.count > 4) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, " and %d more", d.count - 4);
    }
    return d.count ? -1 : 0;
}

int drift_check(const Config *cfg, const char *path, DriftScope scope, const char *baseline, char *msg, size_t n) {
    CkptMeta meta;
    char err[1024];
    msg[0] = 0;
    if (ckpt_try_read_meta(path, &meta, err, sizeof err) != 0) {
        snprintf(msg, n, "%s", err);
        return -2;
    }
    char diffs[1024];
    int rc = drift_compare(config_resolved(cfg), meta.config_resolved, scope, baseline, diffs, sizeof diffs);
    ckpt_meta_free(&meta);
    if (rc == 0) return 0;
    const char *slash = strrchr(path, '/');
    const int dirlen = slash ? (int)(slash - path) : 1;
    snprintf(msg, n, "%s: %s made with another configuration: %s; to start over remove %.*s (or use another name)",
             path, strstr(path, "resume") ? "an interrupted run" : "output", diffs, dirlen, slash ? path : ".");
    return -1;
}

void drift_require(const Config *cfg, const char *path, DriftScope scope, const char *baseline) {
    char msg[1600];
    if (drift_check(cfg, path, scope, baseline, msg, sizeof msg) == -1) swap_fail("%s", msg);
}
