#include "core/json.h"

#include <cjson/cJSON.h>
#include <inttypes.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* cJSON's tree into ours (callers index it directly). */
static void from_cjson(Json *out, const cJSON *c) {
    memset(out, 0, sizeof *out);
    if (cJSON_IsBool(c)) {
        out->kind = JSON_BOOL;
        out->num = cJSON_IsTrue(c);
    } else if (cJSON_IsNumber(c)) {
        out->kind = JSON_NUM;
        out->num = c->valuedouble;
    } else if (cJSON_IsString(c)) {
        out->kind = JSON_STR;
        out->str = xStrdup(c->valuestring);
    } else if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
        const int obj = cJSON_IsObject(c);
        out->kind = obj ? JSON_OBJ : JSON_ARR;
        out->n = (size_t)cJSON_GetArraySize(c);
        out->items = out->n ? xCalloc(out->n, sizeof *out->items) : NULL;
        if (obj && out->n) out->keys = xCalloc(out->n, sizeof *out->keys);
        size_t i = 0;
        for (const cJSON *e = c->child; e; e = e->next, i++) {
            if (obj) out->keys[i] = xStrdup(e->string);
            from_cjson(&out->items[i], e);
        }
    }
}

int json_parse(Json *out, const char *text, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    const char *end = text;
    cJSON *c = cJSON_ParseWithOpts(text, &end, 1);
    if (!c) {
        snprintf(err, errlen, "invalid JSON at byte %ld", (long)(end && end >= text ? end - text : 0));
        return -1;
    }
    from_cjson(out, c);
    cJSON_Delete(c);
    return 0;
}

void json_free(Json *j) {
    if (j->kind == JSON_STR) free(j->str);
    for (size_t i = 0; i < j->n; i++) {
        json_free(&j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    memset(j, 0, sizeof *j);
}

const Json *json_get(const Json *j, const char *key) {
    if (!j || j->kind != JSON_OBJ) return NULL;
    for (size_t i = 0; i < j->n; i++)
        if (!strcmp(j->keys[i], key)) return &j->items[i];
    return NULL;
}

const Json *json_path(const Json *j, const char *path) {
    char part[128];
    while (j && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof part) return NULL;
        memcpy(part, path, len);
        part[len] = 0;
        j = json_get(j, part);
        path += len + (path[len] == '.');
    }
    return j;
}

double json_num(const Json *j, const char *path) {
    const Json *v = json_path(j, path);
    return v && v->kind == JSON_NUM ? v->num : NAN;
}

void json_set(Json *obj, const char *key, Json *val) {
    xCheck(obj->kind == JSON_OBJ, "json_set on a non-object");
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) {
            json_free(&obj->items[i]);
            obj->items[i] = *val;
            memset(val, 0, sizeof *val);
            return;
        }
    obj->items = xRealloc(obj->items, (obj->n + 1) * sizeof *obj->items);
    obj->keys = xRealloc(obj->keys, (obj->n + 1) * sizeof *obj->keys);
    obj->keys[obj->n] = xStrdup(key);
    obj->items[obj->n++] = *val;
    memset(val, 0, sizeof *val);
}

void json_remove(Json *obj, const char *key) {
    if (obj->kind != JSON_OBJ) return;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) {
            json_free(&obj->items[i]);
            free(obj->keys[i]);
            memmove(&obj->items[i], &obj->items[i + 1], (obj->n - i - 1) * sizeof *obj->items);
            memmove(&obj->keys[i], &obj->keys[i + 1], (obj->n - i - 1) * sizeof *obj->keys);
            obj->n--;
            return;
        }
}

typedef struct {
    char *s;
    size_t len, cap;
} Buf;

static void put(Buf *b, const char *text, size_t n) {
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 256;
        b->s = xRealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = 0;
}
static void puts_(Buf *b, const char *text) { put(b, text, strlen(text)); }

/* Strings are escaped by cJSON. */
static void put_scalar(Buf *b, cJSON *item) {
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    if (!text) swap_fail("out of memory writing JSON");
    puts_(b, text);
    cJSON_free(text);
    cJSON_Delete(item);
}
static void put_string(Buf *b, const char *s) { put_scalar(b, cJSON_CreateString(s)); }
/* Not cJSON's number printer: it accepts 15 digits when they read back within one ulp (0.1 + 0.2 would come
 * back as 0.3), and summary.json must read back exactly. */
static void put_number(Buf *b, double x) {
    char t[40];
    if (!isfinite(x)) snprintf(t, sizeof t, "null");
    else if (x == floor(x) && fabs(x) < 1e15) snprintf(t, sizeof t, "%.0f", x);
    else
        for (int prec = 6; prec <= 17; prec++) { /* shortest text that reads back exactly */
            snprintf(t, sizeof t, "%.*g", prec, x);
            if (strtod(t, NULL) == x) break;
        }
    puts_(b, t);
}

static int flat_container(const Json *j) {
    for (size_t i = 0; i < j->n; i++)
        if (j->items[i].kind == JSON_OBJ || j->items[i].kind == JSON_ARR) return 0;
    return 1;
}

static void write_value(Buf *b, const Json *j, int depth, int inline_) {
    switch (j->kind) {
    case JSON_NULL: puts_(b, "null"); return;
    case JSON_BOOL: puts_(b, j->num ? "true" : "false"); return;
    case JSON_NUM: put_number(b, j->num); return;
    case JSON_STR: put_string(b, j->str ? j->str : ""); return;
    default: break;
    }
    const int obj = j->kind == JSON_OBJ;
    if (j->n == 0) { puts_(b, obj ? "{}" : "[]"); return; }
    const int one_line = inline_ || flat_container(j);
    puts_(b, obj ? "{" : "[");
    for (size_t i = 0; i < j->n; i++) {
        if (i) puts_(b, ",");
        if (one_line) { if (i) puts_(b, " "); }
        else {
            puts_(b, "\n");
            for (int d = 0; d <= depth; d++) puts_(b, "  ");
        }
        if (obj) {
            put_string(b, j->keys[i]);
            puts_(b, ": ");
        }
        write_value(b, &j->items[i], depth + 1, one_line || depth >= 1);
    }
    if (!one_line) {
        puts_(b, "\n");
        for (int d = 0; d < depth; d++) puts_(b, "  ");
    }
    puts_(b, obj ? "}" : "]");
}

char *json_write(const Json *j) {
    Buf b = {0};
    write_value(&b, j, 0, 0);
    puts_(&b, "\n");
    return b.s;
}

cJSON *json_number_as(double v, const char *fmt) {
    if (!isfinite(v)) return cJSON_CreateNull();
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    /* the double nearest the text prints back as that text: cJSON tries 15 significant digits first, and
     * fmt asks for fewer */
    return cJSON_CreateNumber(strtod(buf, NULL));
}

cJSON *json_u64(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

cJSON *json_i64(int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

char *json_line(const cJSON *j) {
    char *text = cJSON_PrintUnformatted(j);
    if (!text) swap_fail("out of memory printing JSON");
    size_t n = strlen(text);
    char *line = xMalloc(n + 2);
    memcpy(line, text, n);
    memcpy(line + n, "\n", 2);
    cJSON_free(text);
    return line;
}
