/* Config through embedded Lua: typed lookups, defaults, overrides, resolved text; broken experiment files
 * exit 1 with one line naming file:line / the key / what was expected (run in forked children). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "core/err.h"
#include "testlib.h"

static const char *dir;

static char paths[32][4096];
static int n_paths;

static const char *write_exp(const char *name, const char *text) {
    char *path = paths[n_paths++];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Load in a child; returns its exit code and what it printed on stderr. */
static int load_in_child(const char *path, int n_ov, const char *const *ov, char *err, size_t cap) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        swap_set_progname("test-config");
        Config *c = config_load(path, n_ov, ov);
        config_free(c);
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fd[0], err + n, cap - n - 1)) > 0) n += (size_t)got;
    err[n] = '\0';
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void expect_error(const char *label, const char *path, int n_ov, const char *const *ov, const char *want1,
                         const char *want2) {
    char err[4096];
    int code = load_in_child(path, n_ov, ov, err, sizeof err);
    T_CHECK(code == 1, "%s: exit code %d, want 1 (stderr: %s)", label, code, err);
    T_CHECK(strstr(err, want1) != NULL, "%s: stderr lacks \"%s\": %s", label, want1, err);
    if (want2) T_CHECK(strstr(err, want2) != NULL, "%s: stderr lacks \"%s\": %s", label, want2, err);
    T_CHECK(count_lines(err) == 1, "%s: error should be one line: %s", label, err);
    T_CHECK(strstr(err, "test-config: error: ") == err, "%s: error lacks the program prefix: %s", label, err);
}

int main(void) {
    dir = t_tmpdir("test_config");
    const char *good = write_exp("good.lua",
        "-- comment\n"
        "return { name = \"fmnist-swap\", dataset = \"fashion-mnist\", model = \"cnn\", seed = 7,\n"
        "  phase1 = { ranks = 2, batch = 2048, lr = 0.8, warmup = 0.15, max_epochs = 10, stop_train_acc = 0.90,\n"
        "             schedule = \"knots\", knots = {{0, 0.1}, {2, 1}, {10, 0}} },\n"
        "  phase2 = { workers = 4, batch = 128, epochs = 2, lr = 0.05, wash = { p = 0.02 } },\n"
        "  augment = { flip = true },\n"
        "  phase3 = { bn_batches = 100 } }\n");

    Config *c = config_load(good, 0, NULL);
    T_CHECK(strcmp(cfg_str(c, "name"), "fmnist-swap") == 0, "name");
    T_CHECK(cfg_int(c, "seed") == 7, "seed");
    T_CHECK(cfg_int(c, "phase1.batch") == 2048, "phase1.batch");
    T_CHECK(cfg_num(c, "phase1.lr") == 0.8, "phase1.lr");
    T_CHECK(cfg_num(c, "phase1.batch") == 2048.0, "int keys read as numbers too");
    T_CHECK(cfg_num(c, "phase2.wash.p") == 0.02, "nested phase2.wash.p");
    T_CHECK(cfg_bool(c, "augment.flip") == 1, "augment.flip");
    T_CHECK(cfg_bool(c, "optim.nesterov") == 1, "default optim.nesterov");
    T_CHECK(cfg_num(c, "optim.weight_decay") == 5e-4, "default weight decay");
    T_CHECK(cfg_int(c, "width") == 64, "default width");
    T_CHECK(strcmp(cfg_str(c, "phase2.mode"), "independent") == 0, "default mode");
    T_CHECK(!cfg_has(c, "data_dir") && strcmp(cfg_str(c, "data_dir"), "") == 0, "data_dir unset");
    T_CHECK(cfg_has(c, "phase1.batch"), "cfg_has set key");
    T_CHECK(cfg_len(c, "phase1.knots") == 6, "knots flattened to 6 numbers, got %zu", cfg_len(c, "phase1.knots"));
    T_CHECK(cfg_num_at(c, "phase1.knots", 2) == 2.0 && cfg_num_at(c, "phase1.knots", 5) == 0.0, "knot values");
    T_CHECK(strstr(config_source(c), "-- comment\n") == config_source(c), "source text kept");
    T_CHECK(strcmp(config_path(c), good) == 0, "path");
    const char *r = config_resolved(c);
    T_CHECK(strstr(r, "phase1.batch = 2048\n") != NULL, "resolved has phase1.batch: %s", r);
    T_CHECK(strstr(r, "data_dir = nil\n") != NULL, "resolved shows unset keys");
    /* sorted: each line's key is >= the previous one's */
    char prev[128] = "", cur[128];
    int sorted = 1, lines = 0;
    for (const char *p = r; *p; lines++) {
        const char *eq = strstr(p, " = ");
        size_t k = (size_t)(eq - p);
        if (k >= sizeof cur) k = sizeof cur - 1;
        memcpy(cur, p, k);
        cur[k] = '\0';
        if (strcmp(prev, cur) > 0) sorted = 0;
        strcpy(prev, cur);
        p = strchr(p, '\n') + 1;
    }
    T_CHECK(sorted && lines > 50, "resolved lines sorted (%d lines)", lines);
    config_free(c);

    const char *ov[] = {"phase1.batch=4096", "augment.flip=false", "name=fmnist/phase1.batch=4096",
                        "phase2.lr=1e-2", "data_dir=/data/fm", "phase1.knots={{0,1},{5,0}}"};
    c = config_load(good, 6, ov);
    T_CHECK(cfg_int(c, "phase1.batch") == 4096, "override int");
    T_CHECK(cfg_bool(c, "augment.flip") == 0, "override bool");
    T_CHECK(strcmp(cfg_str(c, "name"), "fmnist/phase1.batch=4096") == 0, "override name with '='");
    T_CHECK(cfg_num(c, "phase2.lr") == 0.01, "override float");
    T_CHECK(strcmp(cfg_str(c, "data_dir"), "/data/fm") == 0, "override string");
    T_CHECK(cfg_len(c, "phase1.knots") == 4 && cfg_num_at(c, "phase1.knots", 3) == 0.0, "override list");
    config_free(c);

    /* Broken configs: each names where and what. */
    const char *bad_syntax = write_exp("syntax.lua", "return {\n  name = \"x\",\n  phase1 = { batch = 512 \n}\n");
    expect_error("syntax", bad_syntax, 0, NULL, "syntax.lua:", "expected");
    const char *bad_syntax2 = write_exp("syntax2.lua", "return {\n  name = \"x\"\n  model = \"cnn\",\n}\n");
    expect_error("syntax line", bad_syntax2, 0, NULL, "syntax2.lua:3:", NULL);
    const char *typo = write_exp("typo.lua", "return {\n  name = \"x\",\n  phase1 = {\n    bach = 512 },\n}\n");
    expect_error("typo", typo, 0, NULL, "typo.lua:4: unknown key 'phase1.bach'", "did you mean 'phase1.batch'?");
    const char *wrong_type = write_exp("type.lua", "return { name = \"x\",\n phase2 = { workers = \"four\" } }\n");
    expect_error("wrong type", wrong_type, 0, NULL, "type.lua:2: 'phase2.workers'", "expected an integer");
    const char *range = write_exp("range.lua", "return { name = \"x\",\n\n phase1 = { stop_train_acc = 1.5 } }\n");
    expect_error("out of range", range, 0, NULL, "range.lua:3: 'phase1.stop_train_acc'", "expected a number in (0, 1], got 1.5");
    const char *choice = write_exp("choice.lua", "return { name = \"x\", dataset = \"imagenet\" }\n");
    expect_error("bad choice", choice, 0, NULL, "'dataset'", "fashion-mnist|mnist|cifar10|cifar100");
    const char *uneven = write_exp("uneven.lua", "return { name = \"x\",\n phase1 = { ranks = 3, batch = 512 } }\n");
    expect_error("uneven split", uneven, 0, NULL, "phase1.batch (512) must be divisible by phase1.ranks (3)", NULL);
    const char *noname = write_exp("noname.lua", "return { model = \"mlp\" }\n");
    expect_error("missing name", noname, 0, NULL, "missing required key 'name'", NULL);
    const char *badname = write_exp("badname.lua", "return { name = \"../etc\" }\n");
    expect_error("hostile name", badname, 0, NULL, "'name'", "'..'");
    const char *runtime = write_exp("runtime.lua", "local t = nil\nreturn { name = t.x }\n");
    expect_error("runtime error", runtime, 0, NULL, "runtime.lua:2:", NULL);
    expect_error("missing file", "/nonexistent/exp.lua", 0, NULL, "/nonexistent/exp.lua: cannot open", NULL);
    const char *ov_typo[] = {"phase1.bacth=4"};
    expect_error("override typo", good, 1, ov_typo, "--set 'phase1.bacth=4': unknown key", "phase1.batch");
    const char *ov_type[] = {"phase1.batch=big"};
    expect_error("override type", good, 1, ov_type, "--set 'phase1.batch=big'", "expected an integer");
    const char *ov_min[] = {"phase2.workers=2", "phase3.min_workers=3"};
    expect_error("min_workers", good, 2, ov_min, "phase3.min_workers (3) must not exceed phase2.workers (2)", NULL);

    return t_exit("test_config");
}
