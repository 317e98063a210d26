/* Experiment configuration through embedded Lua 5.4: lua/swap/config.lua does all parsing and validation
 * (one schema for the executables and the Slurm generator); this file copies its flat result into a small
 * sorted table so lookups need no Lua state afterwards. */
#include "config/config.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fileio.h"

#ifndef SWAP_LUA_DIR
#define SWAP_LUA_DIR "lua"
#endif

typedef enum { V_NIL, V_BOOL, V_INT, V_NUM, V_STR, V_LIST, V_OTHER } ValueKind;

typedef struct {
    char *key;
    ValueKind kind;
    long i;
    double x;
    char *s;       /* V_STR: the string; V_OTHER: its Lua text */
    double *list;  /* V_LIST: numbers, nested lists flattened in order ({{0,0},{5,1}} -> 0 0 5 1) */
    size_t n;
} Entry;

struct Config {
    char *path, *source, *resolved, *blist;
    char **bnames;
    size_t n_bnames;
    Entry *e;
    size_t n;
};

#ifndef SWAP_LUA_RELDIR
#define SWAP_LUA_RELDIR "../share/swap/lua"
#endif

/* lua/ holds swap/config.lua: $SWAP_LUA_DIR, else <exe dir>/SWAP_LUA_RELDIR (installed, wherever the tree was
 * moved), else <exe dir>/../lua (the source tree's bin/), else the source tree's (compile time). */
void config_lua_dir(char *out, size_t cap) {
    char probe[4200];
    const char *env = getenv("SWAP_LUA_DIR");
    if (env && *env) {
        snprintf(probe, sizeof probe, "%s/swap/config.lua", env);
        if (!file_exists(probe)) swap_fail("SWAP_LUA_DIR=%s: no swap/config.lua there", env);
        snprintf(out, cap, "%s", env);
        return;
    }
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {SWAP_LUA_RELDIR, "../lua"};
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                snprintf(probe, sizeof probe, "%s/%s/swap/config.lua", exe, rel[i]);
                if (file_exists(probe)) {
                    probe[strlen(probe) - strlen("/swap/config.lua")] = '\0';
                    snprintf(out, cap, "%s", probe);
                    return;
                }
            }
        }
    }
    snprintf(probe, sizeof probe, "%s/swap/config.lua", SWAP_LUA_DIR);
    if (!file_exists(probe)) swap_fail("cannot find lua/swap/config.lua (set SWAP_LUA_DIR)");
    snprintf(out, cap, "%s", SWAP_LUA_DIR);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return xStrdup("");
    size_t cap = 4096, n = 0;
    char *buf = xMalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = xRealloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Append the numbers of a (nested) list at the top of the stack; returns 0 if something is not a number. */
static int flatten_numbers(lua_State *L, double **list, size_t *n, size_t *cap) {
    lua_Integer len = luaL_len(L, -1), count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        count++;
        lua_pop(L, 1);
    }
    if (count != len) return 0; /* has non-sequence keys (e.g. the sweep table) */
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, -1, i);
        int ok = 1;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            if (*n == *cap) *list = xRealloc(*list, (*cap = *cap ? 2 * *cap : 8) * sizeof(double));
            (*list)[(*n)++] = lua_tonumber(L, -1);
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            ok = flatten_numbers(L, list, n, cap);
        } else {
            ok = 0;
        }
        lua_pop(L, 1);
        if (!ok) return 0;
    }
    return 1;
}

/* Value at the top of the stack (config module at index `mod`) into *e. */
static void read_entry(lua_State *L, int mod, Entry *e) {
    switch (lua_type(L, -1)) {
    case LUA_TBOOLEAN: e->kind = V_BOOL; e->i = lua_toboolean(L, -1); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            e->kind = V_INT;
            e->i = (long)lua_tointeger(L, -1);
            e->x = (double)e->i;
        } else {
            e->kind = V_NUM;
            e->x = lua_tonumber(L, -1);
        }
        break;
    case LUA_TSTRING: e->kind = V_STR; e->s = xStrdup(lua_tostring(L, -1)); break;
    default: {
        size_t cap = 0;
        if (lua_type(L, -1) == LUA_TTABLE && flatten_numbers(L, &e->list, &e->n, &cap)) {
            e->kind = V_LIST;
        } else {
            e->kind = V_OTHER;
        }
        lua_getfield(L, mod, "show");
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1);
        e->s = xStrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    }
}

static int cmp_entry(const void *a, const void *b) { return strcmp(((const Entry *)a)->key, ((const Entry *)b)->key); }

/* What every protected call starts with: package.path on lua/, then require "swap.config". Returns the
 * module's stack index. */
static int require_config(lua_State *L, const char *luadir) {
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", luadir, luadir);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushstring(L, "swap.config");
    lua_call(L, 1, 1);
    return lua_gettop(L);
}

/* A Lua array of n strings on the stack (the --set overrides). */
static void push_strings(lua_State *L, int n, const char *const *s) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, s[i]);
        lua_seti(L, -2, i + 1);
    }
}

/* A fresh, zeroed entry at the end of c->e (capacity *cap, doubled when full). */
static Entry *push_entry(Config *c, size_t *cap) {
    if (c->n == *cap) {
        c->e = xRealloc(c->e, 2 * *cap * sizeof(Entry));
        memset(c->e + *cap, 0, *cap * sizeof(Entry));
        *cap *= 2;
    }
    return &c->e[c->n++];
}

/* Every key of the resolved table; then the schema's unset optional keys as V_NIL entries, so that a key
 * outside the schema is still caught on lookup. */
static void read_entries(lua_State *L, int mod, int flat, Config *c) {
    size_t cap = 64;
    c->e = xCalloc(cap, sizeof(Entry));
    lua_pushnil(L);
    while (lua_next(L, flat)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            Entry *e = push_entry(c, &cap);
            e->key = xStrdup(lua_tostring(L, -2));
            read_entry(L, mod, e);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, mod, "schema");
    lua_Integer n_schema = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n_schema; i++) {
        lua_geti(L, -1, i);
        lua_getfield(L, -1, "key");
        lua_pushvalue(L, -1);
        if (lua_rawget(L, flat) == LUA_TNIL) {
            Entry *e = push_entry(c, &cap);
            e->key = xStrdup(lua_tostring(L, -2));
            e->kind = V_NIL;
        }
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
    qsort(c->e, c->n, sizeof(Entry), cmp_entry);
}

/* Baseline names, from their required setting "baselines.<name>.batch" (sorted, as the keys are), and their
 * printable list ("{}" when none). */
static void collect_baselines(Config *c) {
    c->bnames = xCalloc(c->n + 1, sizeof(char *));
    size_t blen = 3;
    for (size_t i = 0; i < c->n; i++) {
        const char *k = c->e[i].key;
        size_t kl = strlen(k);
        if (!strncmp(k, "baselines.", 10) && kl > 16 && !strcmp(k + kl - 6, ".batch") && !memchr(k + 10, '.', kl - 16)) {
            c->bnames[c->n_bnames] = xMalloc(kl - 15);
            memcpy(c->bnames[c->n_bnames], k + 10, kl - 16);
            c->bnames[c->n_bnames][kl - 16] = '\0';
            blen += kl - 14;
            c->n_bnames++;
        }
    }
    c->blist = xMalloc(blen);
    c->blist[0] = '\0';
    for (size_t i = 0; i < c->n_bnames; i++) {
        if (i) strcat(c->blist, ", ");
        strcat(c->blist, c->bnames[i]);
    }
    if (!c->n_bnames) strcpy(c->blist, "{}");
}

/* Bounded evaluation: an experiment file (or a --set value) is code, and code can loop. A count hook ends the
 * program with one line when a signal arrived (the caller's stop flag) or when evaluation ran past the time limit,
 * directly from the hook, so that a pcall inside the experiment cannot swallow it. */
static int (*g_stop)(void);
static double g_deadline;
static const char *g_eval_path;

void config_set_stop(int (*pending)(void)) { g_stop = pending; }

static double monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double limit_s(void) {
    const char *v = getenv("SWAP_CONFIG_TIMEOUT_S");
    char *end;
    double x = v && *v ? strtod(v, &end) : 0;
    if (v && *v && (*end || !(x > 0))) swap_fail("SWAP_CONFIG_TIMEOUT_S=%s: expected a number of seconds > 0", v);
    return v && *v ? x : CONFIG_TIMEOUT_S;
}

static void eval_hook(lua_State *L, lua_Debug *ar) {
    (void)L;
    (void)ar;
    if (g_stop && g_stop())
        swap_fail_code(SWAP_EXIT_PREEMPTED, "%s: stopped by a signal while evaluating the experiment", g_eval_path);
    if (monotonic_s() > g_deadline)
        swap_fail("%s: evaluating the experiment (with its --set values) took longer than %g s: an endless loop? "
                  "(SWAP_CONFIG_TIMEOUT_S sets the limit)", g_eval_path, limit_s());
}

static void bound(lua_State *L, const char *path) {
    g_eval_path = path;
    g_deadline = monotonic_s() + limit_s();
    lua_sethook(L, eval_hook, LUA_MASKCOUNT, 10000);
}

/* Runs inside lua_pcall so any Lua error (including from resolve) is caught. Stack in: config, lua dir, path,
 * number of overrides, overrides. */
static int resolve_protected(lua_State *L) {
    Config *c = lua_touserdata(L, 1);
    const char *luadir = lua_tostring(L, 2);
    const char *path = lua_tostring(L, 3);
    int n_ov = (int)lua_tointeger(L, 4);
    const char *const *ov = lua_touserdata(L, 5);
    int mod = require_config(L, luadir);
    lua_getfield(L, mod, "resolve");
    lua_pushstring(L, path);
    push_strings(L, n_ov, ov);
    lua_call(L, 2, 1);
    int flat = lua_gettop(L);
    read_entries(L, mod, flat, c);
    collect_baselines(c);
    lua_getfield(L, mod, "format");
    lua_pushvalue(L, flat);
    lua_call(L, 1, 1);
    c->resolved = xStrdup(lua_tostring(L, -1));
    return 0;
}

Config *config_load(const char *path, int n_overrides, const char *const *overrides) {
    char luadir[4096];
    config_lua_dir(luadir, sizeof luadir);
    Config *c = xCalloc(1, sizeof(Config));
    c->path = xStrdup(path);
    lua_State *L = luaL_newstate();
    if (!L) swap_fail("cannot create a Lua state (out of memory)");
    luaL_openlibs(L);
    bound(L, path);
    lua_pushcfunction(L, resolve_protected);
    lua_pushlightuserdata(L, c);
    lua_pushstring(L, luadir);
    lua_pushstring(L, path);
    lua_pushinteger(L, n_overrides);
    lua_pushlightuserdata(L, (void *)overrides);
    if (lua_pcall(L, 5, 0, 0) != LUA_OK) {
        /* Release everything before exiting so sanitizers see no leak in the error path. */
        const char *msg = lua_tostring(L, -1);
        char line[2048];
        snprintf(line, sizeof line, "%s", msg ? msg : "unknown Lua error");
        char *nl = strchr(line, '\n'); /* keep it one line (tracebacks are not useful to users) */
        if (nl) *nl = '\0';
        lua_close(L);
        config_free(c);
        swap_fail("%s", line);
    }
    lua_close(L);
    c->source = read_text(path);
    return c;
}

void config_free(Config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].s);
        free(c->e[i].list);
    }
    free(c->e);
    for (size_t i = 0; i < c->n_bnames; i++) free(c->bnames[i]);
    free(c->bnames);
    free(c->blist);
    free(c->path);
    free(c->source);
    free(c->resolved);
    free(c);
}

static const Entry *lookup(const Config *c, const char *key) {
    Entry probe = {.key = (char *)key};
    return c->n ? bsearch(&probe, c->e, c->n, sizeof(Entry), cmp_entry) : NULL;
}

static const Entry *find(const Config *c, const char *key) {
    const Entry *e = lookup(c, key);
    if (!e) swap_fail("config: internal: key '%s' is not in the schema (lua/swap/config.lua)", key);
    return e;
}

static const Entry *need(const Config *c, const char *key, ValueKind kind, const char *what) {
    const Entry *e = find(c, key);
    if (e->kind == V_NIL) swap_fail("config: internal: key '%s' is unset (check cfg_has first)", key);
    if (e->kind != kind && !(kind == V_NUM && e->kind == V_INT))
        swap_fail("config: internal: key '%s' is not %s", key, what);
    return e;
}

long cfg_int(const Config *c, const char *key) { return need(c, key, V_INT, "an integer")->i; }
double cfg_num(const Config *c, const char *key) { return need(c, key, V_NUM, "a number")->x; }
int cfg_bool(const Config *c, const char *key) { return (int)need(c, key, V_BOOL, "a boolean")->i; }
int cfg_has(const Config *c, const char *key) { return find(c, key)->kind != V_NIL; }
int cfg_exists(const Config *c, const char *key) {
    const Entry *e = lookup(c, key);
    return e && e->kind != V_NIL;
}

int cfg_is_str(const Config *c, const char *key) { return find(c, key)->kind == V_STR; }

const char *cfg_str(const Config *c, const char *key) {
    const Entry *e = find(c, key);
    if (e->kind == V_NIL) return "";
    if (e->kind != V_STR) swap_fail("config: internal: key '%s' is not a string", key);
    return e->s;
}

size_t cfg_len(const Config *c, const char *key) { return need(c, key, V_LIST, "a numeric list")->n; }

double cfg_num_at(const Config *c, const char *key, size_t i) {
    const Entry *e = need(c, key, V_LIST, "a numeric list");
    if (i >= e->n) swap_fail("config: internal: index %zu out of range for '%s' (length %zu)", i, key, e->n);
    return e->list[i];
}

size_t cfg_n_baselines(const Config *c) { return c->n_bnames; }
const char *cfg_baseline_name(const Config *c, size_t i) {
    if (i >= c->n_bnames) swap_fail("config: internal: baseline %zu of %zu", i, c->n_bnames);
    return c->bnames[i];
}
const char *cfg_baselines_list(const Config *c) { return c->blist ? c->blist : "{}"; }
const char *config_source(const Config *c) { return c->source; }
const char *config_resolved(const Config *c) { return c->resolved; }
const char *config_path(const Config *c) { return c->path; }

/* ------------------------------------------------------------------------------------------- sweep plan */

static void read_run(lua_State *L, int idx, CfgRun *r) {
    lua_getfield(L, idx, "name");
    r->name = xStrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, idx, "overrides");
    r->n_ov = (int)luaL_len(L, -1);
    r->ov = xCalloc((size_t)r->n_ov + 1, sizeof(char *));
    for (int i = 0; i < r->n_ov; i++) {
        lua_geti(L, -1, i + 1);
        r->ov[i] = xStrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

typedef struct {
    CfgGroup *g;
    int n;
} PlanOut;

/* The groups of swap.sweep's plan (a table at stack index groups) into out. */
static void read_groups(lua_State *L, int groups, PlanOut *out) {
    out->n = (int)luaL_len(L, groups);
    out->g = xCalloc((size_t)out->n, sizeof(CfgGroup));
    for (int i = 0; i < out->n; i++) {
        lua_geti(L, groups, i + 1);
        int gi = lua_gettop(L);
        read_run(L, gi, &out->g[i].group);
        lua_getfield(L, gi, "pipelines");
        int np = (int)luaL_len(L, -1);
        out->g[i].pipelines = xCalloc((size_t)np, sizeof(CfgRun));
        for (int k = 0; k < np; k++) {
            lua_geti(L, -1, k + 1);
            read_run(L, lua_gettop(L), &out->g[i].pipelines[k]);
            out->g[i].n++;
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
}

static int plan_protected(lua_State *L) {
    PlanOut *out = lua_touserdata(L, 1);
    const char *luadir = lua_tostring(L, 2);
    const char *path = lua_tostring(L, 3);
    int n_ov = (int)lua_tointeger(L, 4);
    const char *const *ov = lua_touserdata(L, 5);
    int mod = require_config(L, luadir);
    lua_getglobal(L, "require");
    lua_pushstring(L, "swap.sweep");
    lua_call(L, 1, 1);
    int sw = lua_gettop(L);
    push_strings(L, n_ov, ov);
    int ovt = lua_gettop(L);
    lua_getfield(L, mod, "resolve");
    lua_pushstring(L, path);
    lua_pushvalue(L, ovt);
    lua_call(L, 2, 1);
    int base = lua_gettop(L);
    lua_getfield(L, sw, "plan");
    lua_pushvalue(L, base);
    lua_pushvalue(L, ovt);
    lua_getfield(L, base, "results");
    lua_call(L, 3, 1);
    read_groups(L, lua_gettop(L), out);
    /* every pipeline must resolve (a bad sweep value is an error before anything runs) */
    for (int i = 0; i < out->n; i++)
        for (int k = 0; k < out->g[i].n; k++) {
            const CfgRun *r = &out->g[i].pipelines[k];
            lua_getfield(L, mod, "resolve");
            lua_pushstring(L, path);
            push_strings(L, r->n_ov, (const char *const *)r->ov);
            lua_call(L, 2, 0);
        }
    return 0;
}

static void free_run(CfgRun *r) {
    for (int i = 0; i < r->n_ov; i++) free(r->ov[i]);
    free(r->ov);
    free(r->name);
}

void config_sweep_plan_free(CfgGroup *groups, int n) {
    for (int i = 0; i < n; i++) {
        free_run(&groups[i].group);
        for (int k = 0; k < groups[i].n; k++) free_run(&groups[i].pipelines[k]);
        free(groups[i].pipelines);
    }
    free(groups);
}

int config_sweep_plan(const char *path, int n_overrides, const char *const *overrides, CfgGroup **groups) {
    char luadir[4096];
    config_lua_dir(luadir, sizeof luadir);
    PlanOut out = {0};
    lua_State *L = luaL_newstate();
    if (!L) swap_fail("cannot create a Lua state (out of memory)");
    luaL_openlibs(L);
    bound(L, path);
    lua_pushcfunction(L, plan_protected);
    lua_pushlightuserdata(L, &out);
    lua_pushstring(L, luadir);
    lua_pushstring(L, path);
    lua_pushinteger(L, n_overrides);
    lua_pushlightuserdata(L, (void *)overrides);
    if (lua_pcall(L, 5, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        char line[2048];
        snprintf(line, sizeof line, "%s", msg ? msg : "unknown Lua error");
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        lua_close(L);
        config_sweep_plan_free(out.g, out.n);
        swap_fail("%s", line);
    }
    lua_close(L);
    *groups = out.g;
    return out.n;
}

void config_check_paths(const Config *c) {
    const char *results = cfg_str(c, "results"), *name = cfg_str(c, "name");
    /* the longest file the phases write under results/<name>, with the temporary-name suffix */
    const char *longest = "/phase2/.worker-999999.resume.h5.tmp.4194304";
    const size_t len = strlen(results) + 1 + strlen(name) + strlen(longest);
    if (len >= CONFIG_PATH_MAX)
        swap_fail("name: '%s/%s' is too long for the files the phases write under it (%zu characters; at most %zu)",
                  results, name, strlen(results) + 1 + strlen(name), CONFIG_PATH_MAX - 1 - strlen(longest));
    for (const char *s = name; *s;) { /* each component becomes a directory */
        size_t comp = strcspn(s, "/");
        if (comp > 200)
            swap_fail("name: a component of '%s' is %zu characters long; at most 200 (file names are limited to 255 "
                      "bytes)", name, comp);
        s += comp + (s[comp] == '/');
    }
}
