/* src/report/json.c: the reader plots use for summary.json and the epoch logs; and the CSV/quote helpers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "report/json.h"
#include "report/report.h"
#include "testlib.h"

int main(void) {
    char err[128];
    Json j;
    const char *text = "{\n \"name\": \"fm\\\"x\\u00e9\", \"phase1\": {\"test_acc\": 0.875, \"n\": -12e-1},\n"
                       " \"workers\": [ {\"worker\": 0, \"test_acc\": 0.9}, {\"worker\": 1, \"test_acc\": null} ],\n"
                       " \"ok\": true, \"empty\": {}, \"list\": []\n}";
    T_CHECK(json_parse(&j, text, err, sizeof err) == 0, "parse: %s", err);
    T_CHECK(!strcmp(json_get(&j, "name")->str, "fm\"x\xc3\xa9"), "escapes and \\u to UTF-8: %s", json_get(&j, "name")->str);
    T_CHECK(json_num(&j, "phase1.test_acc") == 0.875, "dotted path");
    T_CHECK(json_num(&j, "phase1.n") == -1.2, "exponent");
    T_CHECK(isnan(json_num(&j, "phase1.missing")) && isnan(json_num(&j, "name")), "absent or non-number -> NaN");
    const Json *w = json_get(&j, "workers");
    T_CHECK(w && w->kind == JSON_ARR && w->n == 2, "array");
    T_CHECK(w && json_num(&w->items[0], "test_acc") == 0.9 && isnan(json_num(&w->items[1], "test_acc")), "null -> NaN");
    T_CHECK(json_get(&j, "ok")->kind == JSON_BOOL && json_get(&j, "ok")->num == 1, "bool");
    T_CHECK(json_get(&j, "empty")->n == 0 && json_get(&j, "list")->kind == JSON_ARR, "empty containers");

    /* writer: set/replace/remove members, then text that parses back to the same values */
    Json v = {.kind = JSON_NUM, .num = 0.1 + 0.2};
    json_set(&j, "x", &v);
    T_CHECK(v.kind == JSON_NULL && json_num(&j, "x") == 0.1 + 0.2, "json_set appends and takes ownership");
    v.kind = JSON_STR;
    v.str = xStrdup("tab\there \"q\" \x01");
    json_set(&j, "phase1", &v);
    json_remove(&j, "ok");
    json_remove(&j, "absent");
    char *out = json_write(&j);
    Json k;
    T_CHECK(json_parse(&k, out, err, sizeof err) == 0, "written JSON parses: %s\n%s", err, out);
    T_CHECK(json_num(&k, "x") == 0.1 + 0.2, "shortest number text reads back exactly: %s", out);
    T_CHECK(!strcmp(json_get(&k, "phase1")->str, "tab\there \"q\" \x01"), "replaced member, escaped string");
    T_CHECK(!json_get(&k, "ok") && json_get(&k, "list") && json_get(&k, "empty"), "removed member; order kept");
    T_CHECK(json_num(&json_get(&k, "workers")->items[0], "worker") == 0, "nested array of objects");
    T_CHECK(strstr(out, "\n  \"workers\": [\n    {\"worker\": 0, \"test_acc\": 0.9},") != NULL,
            "one line per top member and per row: %s", out);
    free(out);
    json_free(&k);
    json_free(&j);

    const char *bad[] = {"{\"a\": 1,}", "{\"a\" 1}", "[1 2]", "{\"a\": \"unterminated}", "{} x", "", "nul"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        T_CHECK(json_parse(&j, bad[i], err, sizeof err) == -1 && strstr(err, "at byte"), "rejects '%s' (%s)", bad[i], err);
    }
    /* a truncated log line (a writer killed mid-line) is rejected, not half-read */
    T_CHECK(json_parse(&j, "{\"epoch\":3,\"time_s\":1.5,\"lr\":0.1", err, sizeof err) == -1, "truncated line");

    StrBuf b = {0};
    sb_num(&b, NAN, ",");
    sb_num(&b, 0.1, ",");
    sb_num(&b, INFINITY, "\n");
    for (int i = 0; i < 1000; i++) sb_printf(&b, "%d", i % 10);
    T_CHECK(!strncmp(b.s, "nan,0.1,nan\n", 12) && b.len == 12 + 1000 && b.s[b.len] == 0, "StrBuf grows, NaN -> nan");
    sb_free(&b);
    char q[64];
    gp_quote(q, sizeof q, "a\"b\\c");
    T_CHECK(!strcmp(q, "a\\\"b\\\\c"), "gnuplot quoting: %s", q);
    return t_exit("test_report_json");
}
