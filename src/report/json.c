#include "report/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef struct {
    const char *s, *p;
    char *err;
    size_t errlen;
    int failed;
} Parser;

static void fail_at(Parser *ps, const char *what) {
    if (!ps->failed) snprintf(ps->err, ps->errlen, "%s at byte %ld", what, (long)(ps->p - ps->s));
    ps->failed = 1;
}

static void skip_ws(Parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static void put_utf8(char **o, unsigned cp) {
    char *q = *o;
    if (cp < 0x80) *q++ = (char)cp;
    else if (cp < 0x800) {
        *q++ = (char)(0xC0 | cp >> 6);
        *q++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *q++ = (char)(0xE0 | cp >> 12);
        *q++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *q++ = (char)(0x80 | (cp & 0x3F));
    }
    *o = q;
}

static char *parse_string(Parser *ps) {
    ps->p++; /* opening quote */
    const char *start = ps->p;
    while (*ps->p && *ps->p != '"') ps->p += ps->p[0] == '\\' && ps->p[1] ? 2 : 1;
    if (*ps->p != '"') {
        fail_at(ps, "unterminated string");
        return NULL;
    }
    char *out = xMalloc((size_t)(ps->p - start) + 1), *o = out; /* escapes never grow the text */
    for (const char *q = start; q < ps->p; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        switch (*q) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned cp = 0;
            int i = 0;
            for (; i < 4 && q[1]; i++) {
                char c = *++q;
                cp = cp * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : 0);
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = *q;
        }
    }
    *o = 0;
    ps->p++;
    return out;
}

static void parse_value(Parser *ps, Json *v, int depth);

static void parse_container(Parser *ps, Json *v, int depth, int obj) {
    size_t cap = 0;
    v->kind = obj ? JSON_OBJ : JSON_ARR;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == (obj ? '}' : ']')) {
        ps->p++;
        return;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            v->items = xRealloc(v->items, cap * sizeof *v->items);
            if (obj) v->keys = xRealloc(v->keys, cap * sizeof *v->keys);
        }
        skip_ws(ps);
        if (obj) {
            if (*ps->p != '"') { fail_at(ps, "expected a member name"); return; }
            char *k = parse_string(ps);
            if (!k) return;
            v->keys[v->n] = k;
            skip_ws(ps);
            if (*ps->p != ':') {
                memset(&v->items[v->n++], 0, sizeof *v->items);
                { fail_at(ps, "expected ':'"); return; }
            }
            ps->p++;
        }
        memset(&v->items[v->n], 0, sizeof *v->items);
        parse_value(ps, &v->items[v->n++], depth + 1);
        if (ps->failed) return;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == (obj ? '}' : ']')) {
            ps->p++;
            return;
        }
        { fail_at(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'"); return; }
    }
}

static void parse_value(Parser *ps, Json *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > 64) { fail_at(ps, "nested too deeply"); return; }
    skip_ws(ps);
    const char c = *ps->p;
    if (c == '{' || c == '[') { parse_container(ps, v, depth, c == '{'); return; }
    if (c == '"') {
        v->kind = JSON_STR;
        v->str = parse_string(ps);
        return;
    }
    if (!strncmp(ps->p, "null", 4)) { v->kind = JSON_NULL; ps->p += 4; return; }
    if (!strncmp(ps->p, "true", 4)) { v->kind = JSON_BOOL; v->num = 1; ps->p += 4; return; }
    if (!strncmp(ps->p, "false", 5)) { v->kind = JSON_BOOL; ps->p += 5; return; }
    char *end;
    double d = strtod(ps->p, &end);
    if (end == ps->p || !(c == '-' || (c >= '0' && c <= '9'))) { fail_at(ps, "expected a value"); return; }
    v->kind = JSON_NUM;
    v->num = d;
    ps->p = end;
}

int json_parse(Json *out, const char *text, char *err, size_t errlen) {
    Parser ps = {text, text, err, errlen, 0};
    parse_value(&ps, out, 0);
    if (!ps.failed) {
        skip_ws(&ps);
        if (*ps.p) fail_at(&ps, "trailing text");
    }
    if (ps.failed) {
        json_free(out);
        return -1;
    }
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

static void put_string(Buf *b, const char *s) {
    puts_(b, "\"");
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        char e[8];
        if (*q == '"' || *q == '\\') { e[0] = '\\'; e[1] = (char)*q; put(b, e, 2); }
        else if (*q == '\n') puts_(b, "\\n");
        else if (*q == '\t') puts_(b, "\\t");
        else if (*q == '\r') puts_(b, "\\r");
        else if (*q < 0x20) { snprintf(e, sizeof e, "\\u%04x", *q); puts_(b, e); }
        else put(b, (const char *)q, 1);
    }
    puts_(b, "\"");
}

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
