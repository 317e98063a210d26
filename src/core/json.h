/* JSON for the files the pipeline itself writes (summary.json, the epoch logs' JSON lines), on top of cJSON:
 * a plain tree (Json) to look values up by path and to edit summary.json in place, written back one member a
 * line; and helpers for building cJSON values with the number formats the outputs promise. */
#ifndef SWAP_CORE_JSON_H
#define SWAP_CORE_JSON_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ } JsonKind;

typedef struct Json Json;
struct Json {
    JsonKind kind;
    double num;     /* JSON_NUM, JSON_BOOL (0/1) */
    char *str;      /* JSON_STR */
    char **keys;    /* JSON_OBJ: n keys */
    Json *items;    /* JSON_ARR / JSON_OBJ: n values */
    size_t n;
};

/* Parse text into *out. Returns 0, or -1 with a one-line reason (with the byte offset) in err. */
int json_parse(Json *out, const char *text, char *err, size_t errlen);
void json_free(Json *j);
/* Member of an object (NULL if j is not an object or has no such key). */
const Json *json_get(const Json *j, const char *key);
/* Dotted path of object members, e.g. "average.test_acc" (NULL if absent). */
const Json *json_path(const Json *j, const char *path);
/* The number at a path, or NaN when absent, null or not a number. */
double json_num(const Json *j, const char *path);
/* Set member `key` of object obj to *val, taking ownership of val's contents (val is left empty); replaces an
 * existing member in place, else appends. */
void json_set(Json *obj, const char *key, Json *val);
/* Remove member `key` of obj if present. */
void json_remove(Json *obj, const char *key);
/* JSON text of j (malloc'd, ends with a newline): one line per member at the top and wherever a container
 * holds containers, flat containers on one line. Numbers in the shortest form that reads back exactly. */
char *json_write(const Json *j);


/* The number printf(fmt, v) denotes (e.g. "%.6f" for a log's accuracies), so the JSON text carries just that
 * precision; NaN/Inf (not measured) become null. */
cJSON *json_number_as(double v, const char *fmt);
/* 64-bit integers exactly (a double would round past 2^53). */
cJSON *json_u64(uint64_t v);
cJSON *json_i64(int64_t v);
/* j on one line with a newline (malloc'd): a JSON-lines record. */
char *json_line(const cJSON *j);

#endif
