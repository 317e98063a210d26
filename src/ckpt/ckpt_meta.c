/* CkptMeta ownership helpers: everything a meta points to is a private copy, so a meta filled by a load and one
 * filled by a phase are released the same way. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ckpt/ckpt.h"
#include "ckpt/ckpt_internal.h"

void ckpt_meta_init(CkptMeta *meta) {
    memset(meta, 0, sizeof *meta);
    snprintf(meta->phase, sizeof meta->phase, "unknown");
    snprintf(meta->precision, sizeof meta->precision, "fp32");
    meta->n_workers = 1;
    meta->world_size = 1;
}

void ckpt_meta_free(CkptMeta *meta) {
    free(meta->config_source);
    free(meta->config_resolved);
    for (int i = 0; i < meta->n_parents; i++) free(meta->parents[i].path);
    free(meta->history);
    free(meta->soup_members);
    free(meta->rngs);
    for (int i = 0; i < meta->n_extra; i++) free(meta->extra[i].data);
    free(meta->extra);
    free(meta->arch);
    ckpt_meta_set_class_names(meta, NULL, 0);
    ckpt_meta_init(meta);
}

void ckpt_meta_set_config(CkptMeta *meta, const char *source, const char *resolved) {
    char *s = xStrdup(source ? source : ""), *r = xStrdup(resolved ? resolved : "");
    free(meta->config_source);
    free(meta->config_resolved);
    meta->config_source = s;
    meta->config_resolved = r;
}

void ckpt_meta_set_class_names(CkptMeta *meta, char *const *names, int n) {
    char **copy = NULL;
    if (names && n > 0) {
        copy = xMalloc((size_t)(n + 1) * sizeof *copy);
        for (int i = 0; i < n; i++) copy[i] = xStrdup(names[i]);
        copy[n] = NULL;
    }
    if (meta->class_names)
        for (char **p = meta->class_names; *p; p++) free(*p);
    free(meta->class_names);
    meta->class_names = copy;
    meta->n_class_names = copy ? n : 0;
}

void ckpt_meta_set_norm(CkptMeta *meta, int channels, const double *mean, const double *std) {
    if (channels < 0 || channels > 4) swap_fail("checkpoint meta: %d normalization channels (at most 4)", channels);
    meta->norm_channels = channels;
    for (int c = 0; c < channels; c++) {
        meta->norm_mean[c] = mean[c];
        meta->norm_std[c] = std[c];
    }
}

void ckpt_meta_add_parent(CkptMeta *meta, const char *hash, const char *path) {
    if (meta->n_parents >= CKPT_MAX_PARENTS)
        swap_fail("checkpoint meta: more than %d parents", CKPT_MAX_PARENTS);
    if (!ckpt_is_hash(hash)) swap_fail("checkpoint meta: parent hash '%s' is not 32 hex digits", hash);
    CkptParent *p = &meta->parents[meta->n_parents++];
    snprintf(p->hash, sizeof p->hash, "%s", hash);
    p->path = xStrdup(path ? path : "");
}

EpochRecord ckpt_epoch_record(int epoch) {
    EpochRecord r = {.epoch = epoch, .time_s = NAN, .lr = NAN, .train_loss = NAN, .train_acc = NAN,
                     .test_loss = NAN, .test_acc = NAN, .val_loss = NAN, .val_acc = NAN};
    return r;
}

void ckpt_meta_add_epoch(CkptMeta *meta, const EpochRecord *rec) {
    meta->history = xRealloc(meta->history, (size_t)(meta->n_history + 1) * sizeof *meta->history);
    meta->history[meta->n_history++] = *rec;
}

int ckpt_valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= CKPT_NAME_LEN || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i])) return 0;
    return 1;
}

int ckpt_is_hash(const char *s) {
    if (strlen(s) != CKPT_HASH_HEX - 1) return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p)) return 0;
    return 1;
}

void ckpt_meta_put_rng(CkptMeta *meta, const char *name, const Rng *r) {
    if (!ckpt_valid_name(name)) swap_fail("checkpoint meta: invalid RNG state name '%s'", name);
    int i = 0;
    while (i < meta->n_rngs && strcmp(meta->rngs[i].name, name)) i++;
    if (i == meta->n_rngs) {
        meta->rngs = xRealloc(meta->rngs, (size_t)(meta->n_rngs + 1) * sizeof *meta->rngs);
        meta->n_rngs++;
        snprintf(meta->rngs[i].name, sizeof meta->rngs[i].name, "%s", name);
    }
    memcpy(meta->rngs[i].s, r->s, sizeof r->s);
}

int ckpt_meta_get_rng(const CkptMeta *meta, const char *name, Rng *r) {
    for (int i = 0; i < meta->n_rngs; i++)
        if (!strcmp(meta->rngs[i].name, name)) {
            memcpy(r->s, meta->rngs[i].s, sizeof r->s);
            return 0;
        }
    return -1;
}

size_t ckpt_kind_size(CkptKind kind) {
    switch (kind) {
    case CKPT_U64:
    case CKPT_I64:
    case CKPT_F64: return 8;
    case CKPT_I32:
    case CKPT_F32: return 4;
    }
    return 0;
}

void ckpt_meta_put(CkptMeta *meta, const char *name, CkptKind kind, const void *data, size_t n) {
    if (!ckpt_valid_name(name)) swap_fail("checkpoint meta: invalid state name '%s' (use [A-Za-z0-9_.-])", name);
    size_t es = ckpt_kind_size(kind);
    if (!es) swap_fail("checkpoint meta: state '%s' has an unknown kind %d", name, (int)kind);
    int i = 0;
    while (i < meta->n_extra && strcmp(meta->extra[i].name, name)) i++;
    if (i == meta->n_extra) {
        meta->extra = xRealloc(meta->extra, (size_t)(meta->n_extra + 1) * sizeof *meta->extra);
        memset(&meta->extra[i], 0, sizeof meta->extra[i]);
        snprintf(meta->extra[i].name, sizeof meta->extra[i].name, "%s", name);
        meta->n_extra++;
    }
    CkptExtra *e = &meta->extra[i];
    void *copy = xMalloc(n * es);
    if (n) memcpy(copy, data, n * es);
    free(e->data);
    e->data = copy;
    e->kind = kind;
    e->n = n;
}

const void *ckpt_meta_get(const CkptMeta *meta, const char *name, CkptKind kind, size_t *n) {
    for (int i = 0; i < meta->n_extra; i++)
        if (!strcmp(meta->extra[i].name, name)) {
            if (meta->extra[i].kind != kind) return NULL;
            if (n) *n = meta->extra[i].n;
            return meta->extra[i].data;
        }
    return NULL;
}

void ckpt_meta_set_soup(CkptMeta *meta, const char *kind, const int64_t *members, int n) {
    if (strlen(kind) >= sizeof meta->soup) swap_fail("checkpoint meta: soup kind '%s' too long", kind);
    snprintf(meta->soup, sizeof meta->soup, "%s", kind);
    free(meta->soup_members);
    meta->soup_members = xMalloc(((size_t)n + 1) * sizeof *meta->soup_members);
    memcpy(meta->soup_members, members, (size_t)n * sizeof *members);
    meta->n_soup_members = n;
}

int ckpt_meta_config_value(const CkptMeta *meta, const char *key, char *buf, size_t n) {
    buf[0] = 0;
    const size_t kl = strlen(key);
    for (const char *r = meta->config_resolved; r && *r;) {
        if (!strncmp(r, key, kl) && !strncmp(r + kl, " = ", 3)) {
            const char *v = r + kl + 3;
            size_t len = strcspn(v, "\n");
            if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
                v++;
                len -= 2;
            }
            snprintf(buf, n, "%.*s", (int)len, v);
            return 1;
        }
        r = strchr(r, '\n');
        if (r) r++;
    }
    return 0;
}
