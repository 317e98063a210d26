/* Experiment configuration: a Lua 5.4 file resolved against the schema in lua/swap/config.lua (defaults,
 * types, ranges — shared with the Slurm generator), plus "--set key=value" overrides. Any problem is a
 * one-line error (file:line for Lua errors, the key and what was expected otherwise) and nothing runs. */
#ifndef SWAP_CONFIG_H
#define SWAP_CONFIG_H
#include <stddef.h>

typedef struct Config Config;

/* Evaluation of an experiment is bounded: it ends the program with one line when pending() (set here; e.g. the
 * phases' signal flag) turns true, and after CONFIG_TIMEOUT_S seconds (environment SWAP_CONFIG_TIMEOUT_S), so a
 * loop in an experiment or a --set value can always be stopped. */
#define CONFIG_TIMEOUT_S 60.0
void config_set_stop(int (*pending)(void));
Config *config_load(const char *path, int n_overrides, const char *const *overrides);
void config_free(Config *c);
/* results/<name> leaves room for every file the phases write under it (paths up to CONFIG_PATH_MAX bytes,
 * components up to 200): a one-line error naming `name` otherwise, before anything runs. */
#define CONFIG_PATH_MAX 1024
void config_check_paths(const Config *c);
/* Typed access by dotted key ("phase1.batch"); a key outside the schema or a wrong type is an internal error.
 * Integer keys may also be read with cfg_num. Lists of pairs (phase1.knots = {{0,0},{5,1}}) are flattened:
 * cfg_len gives 2 * pairs and element 2i is the epoch, 2i+1 the multiplier. */
long cfg_int(const Config *c, const char *key);
double cfg_num(const Config *c, const char *key);
const char *cfg_str(const Config *c, const char *key); /* "" when the key is unset (nil) */
int cfg_bool(const Config *c, const char *key);
int cfg_has(const Config *c, const char *key);          /* set and not nil */
int cfg_exists(const Config *c, const char *key);       /* like cfg_has, but a key outside the schema is just 0 */
int cfg_is_str(const Config *c, const char *key);       /* set to a string (`model`: a preset, not a table) */
size_t cfg_len(const Config *c, const char *key);       /* length of a list value */
double cfg_num_at(const Config *c, const char *key, size_t i); /* i-th element (0-based) of a numeric list */
/* The experiment's baselines (baselines = { small = {...}, ... }): how many, and the i-th name (sorted).
 * Their settings are keys "baselines.<name>.<setting>". cfg_baselines_list: "small, large" or "{}" */
size_t cfg_n_baselines(const Config *c);
const char *cfg_baseline_name(const Config *c, size_t i);
const char *cfg_baselines_list(const Config *c);
const char *config_source(const Config *c);   /* the experiment file's text */
const char *config_resolved(const Config *c); /* resolved values, one "key = value" per line, sorted */
const char *config_path(const Config *c);
/* The directory holding swap/config.lua: $SWAP_LUA_DIR, else <exe dir>/../lua, else the source tree's. */
void config_lua_dir(char *out, size_t cap);

/* A sweep's runs (lua/swap/sweep.lua M.plan): groups that each train phase 1 and the baselines once (with the
 * group's overrides) for pipelines that each run phases 2 and 3 (with theirs). Without a sweep: one group
 * with one pipeline and no extra overrides. Errors exit with a one-line message like config_load. */
typedef struct {
    char *name;
    int n_ov;
    char **ov; /* "key=value" overrides after the command line's (included) */
} CfgRun;
typedef struct {
    CfgRun group;
    int n;
    CfgRun *pipelines;
} CfgGroup;
int config_sweep_plan(const char *path, int n_overrides, const char *const *overrides, CfgGroup **groups);
void config_sweep_plan_free(CfgGroup *groups, int n);

#endif
