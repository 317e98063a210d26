/* The whole pipeline on one machine: phase 1 under mpiexec (ranks from the config), the phase-2 workers as many
 * at a time as cores allow (or one W-rank MPI job for wash/papa), then phase 3, then the experiment's
 * baselines one after another (each with the whole machine). A sweep runs every point; points that differ
 * only in phase-2/phase-3 keys share one phase 1 and the baselines (lua/swap/sweep.lua). Phases whose outputs
 * exist and verify are skipped, so re-running after a failure or an interruption continues where it stopped. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "config/config.h"
#include "core/err.h"
#include "core/lockfile.h"
#include "phases/drift.h"
#include "core/layout.h"
#include "phases/summary.h"
#include "report/report.h"
#include "phases/version.h"

#define MAX_ARGS 256

static char g_bindir[PATH_MAX];
static volatile sig_atomic_t g_signal;
/* Children not yet reaped (0: a free slot); grows with the number running at once, which a sweep with many
 * phase-2 workers may push past any fixed size. */
static pid_t *g_children;
static int g_nchildren;

static void on_signal(int sig) { g_signal = sig; }
static int signal_pending(void) { return g_signal != 0; }

static void forward_signal(void) {
    for (int i = 0; i < g_nchildren; i++)
        if (g_children[i] > 0) kill(g_children[i], SIGTERM);
}

static void find_bindir(const char *argv0) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) self[n] = 0;
    else snprintf(self, sizeof self, "%s", argv0);
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    else snprintf(self, sizeof self, ".");
    snprintf(g_bindir, sizeof g_bindir, "%s", self);
}

typedef struct {
    const char *argv[MAX_ARGS];
    int n;
    char store[MAX_ARGS][1024];
} Cmd;

static void cmd_add(Cmd *c, const char *s) {
    xCheck(c->n < MAX_ARGS - 1, "too many arguments");
    size_t len = strlen(s);
    if (len >= sizeof c->store[c->n]) swap_fail("argument too long: %.40s...", s);
    memcpy(c->store[c->n], s, len + 1);
    c->argv[c->n] = c->store[c->n];
    c->n++;
    c->argv[c->n] = NULL;
}

static void remember_child(pid_t pid) {
    for (int i = 0; i < g_nchildren; i++)
        if (g_children[i] == 0) {
            g_children[i] = pid;
            return;
        }
    g_children = xRealloc(g_children, (size_t)(g_nchildren + 1) * sizeof *g_children);
    g_children[g_nchildren++] = pid;
}

static pid_t spawn(const Cmd *c) {
    printf("+");
    for (int i = 0; i < c->n; i++) printf(" %s", c->argv[i]);
    printf("\n");
    fflush(stdout);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) swap_fail("fork failed (%s)", strerror(errno));
    if (pid == 0) {
        /* a swap-run killed with -9 takes its phases along: they get SIGTERM, checkpoint and exit 3 */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
        execvp(c->argv[0], (char *const *)c->argv);
        fprintf(stderr, "swap-run: error: cannot run %s (%s)\n", c->argv[0], strerror(errno));
        _exit(127);
    }
    remember_child(pid);
    return pid;
}

static int wait_one(pid_t *pid_out) {
    int st;
    pid_t pid;
    while ((pid = wait(&st)) < 0) {
        if (errno == EINTR) {
            if (g_signal) forward_signal();
            continue;
        }
        swap_fail("wait failed (%s)", strerror(errno));
    }
    for (int i = 0; i < g_nchildren; i++)
        if (g_children[i] == pid) g_children[i] = 0;
    *pid_out = pid;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

static int run_one(const Cmd *c) {
    pid_t pid = spawn(c), done;
    int rc;
    do rc = wait_one(&done);
    while (done != pid);
    return rc;
}

static Cmd g_cmd; /* large: keep it off the stack */

static void base_cmd(Cmd *c, int ranks, const char *exe, const char *exp, int n_sets, char **sets) {
    c->n = 0;
    char path[PATH_MAX + 32];
    if (ranks > 1) {
        char nb[16];
        snprintf(nb, sizeof nb, "%d", ranks);
        cmd_add(c, "mpiexec");
        cmd_add(c, "-n");
        cmd_add(c, nb);
    }
    snprintf(path, sizeof path, "%s/%s", g_bindir, exe);
    cmd_add(c, path);
    cmd_add(c, exp);
    for (int i = 0; i < n_sets; i++) {
        cmd_add(c, "--set");
        cmd_add(c, sets[i]);
    }
}

/* Whether the output at path is done: it verifies and was made from this configuration (else a one-line refusal
 * naming the keys that differ). A damaged or half-written file is redone; one that cannot be read for another
 * reason (locked by another process, no permission) is an error, never a reason to redo the phase. */
static int done(const Config *cfg, const char *path, DriftScope scope, const char *baseline) {
    char err[1024];
    if (access(path, F_OK) != 0) return 0;
    int rc = ckpt_verify(path, err, sizeof err);
    if (rc == CKPT_UNREADABLE) swap_fail("%s", err);
    if (rc != 0) return 0;
    drift_require(cfg, path, scope, baseline);
    return 1;
}

/* After a child ends: a signal to swap-run means "interrupted" whatever the child's status (mpiexec may exit 0
 * when its ranks stopped on the forwarded TERM), so the next phase is never started nor the experiment re-read. */
static _Noreturn void finish(int rc, const char *what) {
    if (rc == SWAP_EXIT_PREEMPTED || g_signal) {
        printf("swap-run: %s interrupted; run the same command again to resume\n", what);
        exit(SWAP_EXIT_PREEMPTED);
    }
    swap_fail("%s failed (exit %d)", what, rc);
}

#define USAGE "usage: swap-run EXPERIMENT.lua [--only swap|baselines] [--set key=value]...\n"

/* results/<name> and the directory holding phase1/ and baseline-<name>/ (shared_dir, else the same). */
static void dirs(const Config *cfg, char *dir, size_t n, char *shared, size_t ns) {
    snprintf(dir, n, "%s/%s", cfg_str(cfg, "results"), cfg_str(cfg, "name"));
    snprintf(shared, ns, "%s", cfg_has(cfg, "shared_dir") ? cfg_str(cfg, "shared_dir") : dir);
}

static void run_phase1(const char *exp, int n_sets, char **sets, const Config *cfg) {
    char dir[1024], shared[1024], path[1200];
    dirs(cfg, dir, sizeof dir, shared, sizeof shared);
    snprintf(path, sizeof path, "%s/" LAYOUT_PHASE1_MODEL, shared);
    if (done(cfg, path, DRIFT_PHASE1, NULL)) {
        printf("swap-run: phase 1 done already (%s)\n", path);
        return;
    }
    base_cmd(&g_cmd, (int)cfg_int(cfg, "phase1.ranks"), "swap-train", exp, n_sets, sets);
    int rc = run_one(&g_cmd);
    if (rc || g_signal) finish(rc, "phase 1");
}

static void run_phase23(const char *exp, int n_sets, char **sets, const Config *cfg) {
    char dir[1024], shared[1024], path[1200];
    dirs(cfg, dir, sizeof dir, shared, sizeof shared);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    Cmd *cp = &g_cmd;
    /* phase 2 */
    const int W = (int)cfg_int(cfg, "phase2.workers");
    const char *mode = cfg_str(cfg, "phase2.mode");
    int todo = 0;
    for (int i = 0; i < W; i++) {
        snprintf(path, sizeof path, "%s/" LAYOUT_WORKER_MODEL, dir, i);
        todo += !done(cfg, path, DRIFT_PHASE2, NULL);
    }
    if (!todo) printf("swap-run: phase 2 done already (%d workers)\n", W);
    else if (strcmp(mode, "independent")) {
        base_cmd(cp, W, "swap-refine", exp, n_sets, sets);
        cmd_add(cp, "--set");
        cmd_add(cp, "phase2.threads=1");
        int rc = run_one(cp);
        if (rc || g_signal) finish(rc, "phase 2");
    } else {
        int ranks = (int)cfg_int(cfg, "phase2.ranks_per_worker");
        int threads = (int)cfg_int(cfg, "phase2.threads");
        int par = (int)cfg_int(cfg, "phase2.parallel");
        if (par <= 0) par = (int)(cores / (ranks * (threads > 0 ? threads : 1)));
        if (par < 1) par = 1;
        if (par > todo) par = todo;
        if (threads <= 0) threads = (int)(cores / (par * ranks)) > 0 ? (int)(cores / (par * ranks)) : 1;
        char tset[64];
        snprintf(tset, sizeof tset, "phase2.threads=%d", threads);
        int running = 0, failed = 0, next = 0;
        while (next < W || running) {
            while (running < par && next < W && !g_signal && !failed) {
                snprintf(path, sizeof path, "%s/" LAYOUT_WORKER_MODEL, dir, next);
                if (done(cfg, path, DRIFT_PHASE2, NULL)) {
                    next++;
                    continue;
                }
                base_cmd(cp, ranks, "swap-refine", exp, n_sets, sets);
                char wi[16];
                snprintf(wi, sizeof wi, "%d", next);
                cmd_add(cp, "--worker");
                cmd_add(cp, wi);
                cmd_add(cp, "--set");
                cmd_add(cp, tset);
                spawn(cp);
                running++;
                next++;
            }
            if (!running) break;
            pid_t done;
            int rc = wait_one(&done);
            running--;
            if (rc && !failed) failed = rc;
        }
        if (failed || g_signal) finish(failed ? failed : SWAP_EXIT_PREEMPTED, "phase 2");
    }

    /* phase 3 */
    snprintf(path, sizeof path, "%s/" LAYOUT_PHASE3_MODEL, dir);
    char sum[1200];
    snprintf(sum, sizeof sum, "%s/" LAYOUT_SUMMARY, dir);
    if (done(cfg, path, DRIFT_PHASE3, NULL) && summary_valid(sum)) printf("swap-run: phase 3 done already (%s)\n", sum);
    else {
        base_cmd(cp, 1, "swap-average", exp, n_sets, sets);
        int rc = run_one(cp);
        if (rc || g_signal) finish(rc, "phase 3");
    }
}

/* baselines: one model each from scratch, one at a time with the whole machine */
static void run_baselines(const char *exp, int n_sets, char **sets, const Config *cfg) {
    char dir[1024], shared[1024], path[1200];
    dirs(cfg, dir, sizeof dir, shared, sizeof shared);
    for (size_t b = 0; b < cfg_n_baselines(cfg); b++) {
        const char *name = cfg_baseline_name(cfg, b);
        snprintf(path, sizeof path, "%s/" LAYOUT_BASELINE_MODEL, shared, name);
        if (done(cfg, path, DRIFT_BASELINE, name)) {
            printf("swap-run: baseline %s done already (%s)\n", name, path);
            continue;
        }
        char key[192], what[160];
        snprintf(key, sizeof key, "baselines.%s.ranks", name);
        base_cmd(&g_cmd, (int)cfg_int(cfg, key), "swap-train", exp, n_sets, sets);
        cmd_add(&g_cmd, "--baseline");
        cmd_add(&g_cmd, name);
        int rc = run_one(&g_cmd);
        snprintf(what, sizeof what, "baseline %s", name);
        if (rc || g_signal) finish(rc, what);
    }
}

/* Rows of baselines finished earlier (or by another run) into this pipeline's summary too. */
static void refresh_summary(const char *exp, const CfgRun *pr, const Config *cfg) {
    Phase ph;
    memset(&ph, 0, sizeof ph);
    ph.cfg = (Config *)cfg;
    ph.args.exp_path = exp; /* the command the summary records */
    ph.args.sets = (const char **)pr->ov;
    ph.args.n_sets = pr->n_ov;
    dirs(cfg, ph.dir, sizeof ph.dir, ph.shared, sizeof ph.shared);
    summary_update(&ph);
    /* the SWAP figure gains the baselines' markers (phase 1's log may be the sweep's shared one) */
    char p3[1200], log[1200];
    snprintf(p3, sizeof p3, "%s/" LAYOUT_PHASE3_MODEL, ph.dir);
    snprintf(log, sizeof log, "%s/" LAYOUT_PHASE1_LOG, ph.shared);
    if (access(p3, F_OK) == 0 && access(log, F_OK) == 0 && report_experiment_plots(ph.dir, log) == REPORT_OK)
        printf("swap-run: redrew %s/plots with the baselines\n", ph.dir);
}

/* One swap-run per results directory: a second one of the same experiment (which would redo every phase beside
 * the first) is refused, naming the first's host and PID. The kernel releases the lock when swap-run dies. */
static void lock_dir(const Config *cfg) {
    char dir[1024], shared[1024], path[1100];
    dirs(cfg, dir, sizeof dir, shared, sizeof shared);
    for (char *q = dir + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) swap_fail("%s: cannot create directory (%s)", dir, strerror(errno));
            *q = '/';
        }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) swap_fail("%s: cannot create directory (%s)", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/.swap-run.lock", dir);
    lockfile_take(path, dir); /* held until exit */
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    config_set_stop(signal_pending);
}

/* One group of a sweep: its shared phase 1, each pipeline's phases 2-3, then the shared baselines. */
static void run_group(const char *exp, CfgGroup *grp, int sweep, int run_swap, int run_bl, int only) {
    CfgRun *gr = &grp->group;
    Config *gcfg = config_load(exp, gr->n_ov, (const char *const *)gr->ov);
    if (sweep) printf("swap-run: group %s\n", gr->name);
    if (run_swap) {
        run_phase1(exp, gr->n_ov, gr->ov, gcfg);
        for (int k = 0; k < grp->n; k++) {
            CfgRun *pr = &grp->pipelines[k];
            Config *pcfg = config_load(exp, pr->n_ov, (const char *const *)pr->ov);
            if (sweep) printf("swap-run: pipeline %s\n", pr->name);
            run_phase23(exp, pr->n_ov, pr->ov, pcfg);
            config_free(pcfg);
        }
    }
    if (run_bl) {
        if (cfg_n_baselines(gcfg) == 0 && only) printf("swap-run: %s defines no baselines (baselines = {...})\n", exp);
        run_baselines(exp, gr->n_ov, gr->ov, gcfg);
        for (int k = 0; cfg_n_baselines(gcfg) > 0 && k < grp->n; k++) {
            Config *pcfg = config_load(exp, grp->pipelines[k].n_ov, (const char *const *)grp->pipelines[k].ov);
            refresh_summary(exp, &grp->pipelines[k], pcfg);
            config_free(pcfg);
        }
    }
    config_free(gcfg);
}

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    swap_set_progname(argv[0]);
    const char *exp = NULL, *only = NULL;
    char **sets = xCalloc((size_t)argc + 1, sizeof *sets); /* never more --set values than arguments */
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[n_sets++] = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf(USAGE "  --only swap       the SWAP chain (phases 1-3) without the baselines\n"
                         "  --only baselines  only the experiment's baselines (baselines = {...})\n");
            return 0;
        } else if (argv[i][0] == '-' || exp) {
            fprintf(stderr, USAGE);
            return SWAP_EXIT_USAGE;
        } else exp = argv[i];
    }
    if (!exp || (only && strcmp(only, "swap") && strcmp(only, "baselines"))) {
        if (only && exp) fprintf(stderr, "swap-run: --only: expected swap or baselines, got '%s'\n", only);
        fprintf(stderr, USAGE);
        return SWAP_EXIT_USAGE;
    }
    const int run_swap = !only || !strcmp(only, "swap"), run_bl = !only || !strcmp(only, "baselines");
    find_bindir(argv[0]);
    catch_signals(); /* before the experiment is evaluated: a loop in it must still end on TERM */
    CfgGroup *groups;
    const int n_groups = config_sweep_plan(exp, n_sets, (const char *const *)sets, &groups);

    int n_pipelines = 0;
    for (int g = 0; g < n_groups; g++) n_pipelines += groups[g].n;
    for (int g = 0; g < n_groups; g++)
        for (int k = 0; k < groups[g].n; k++) {
            Config *pcfg = config_load(exp, groups[g].pipelines[k].n_ov, (const char *const *)groups[g].pipelines[k].ov);
            config_check_paths(pcfg); /* before phase 1 trains, not when phase 2 cannot name its files */
            lock_dir(pcfg);
            config_free(pcfg);
        }
    if (n_pipelines > 1)
        printf("swap-run: sweep of %d pipelines in %d group(s) sharing phase 1 and the baselines\n", n_pipelines, n_groups);
    for (int g = 0; g < n_groups; g++) run_group(exp, &groups[g], n_pipelines > 1, run_swap, run_bl, only != NULL);
    for (int g = 0; g < n_groups; g++)
        for (int k = 0; k < groups[g].n; k++) {
            Config *pcfg = config_load(exp, groups[g].pipelines[k].n_ov, (const char *const *)groups[g].pipelines[k].ov);
            char dir[1024], shared[1024];
            dirs(pcfg, dir, sizeof dir, shared, sizeof shared);
            summary_print(dir);
            config_free(pcfg);
        }
    config_sweep_plan_free(groups, n_groups);
    free(sets);
    return 0;
}
