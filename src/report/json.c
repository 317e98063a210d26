#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

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
