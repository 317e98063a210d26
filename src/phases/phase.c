#include "config/presets.h"
#include "phases/phase.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "core/err.h"
#include "nn/parallel.h"
#include "phases/signals.h"

static _Noreturn void usage_exit(const char *usage, const char *msg) {
    if (msg) fprintf(stderr, "%s: %s\n", swap_progname(), msg);
    fprintf(stderr, "usage: %s %s\n", swap_progname(), usage);
    exit(SWAP_EXIT_USAGE);
}

static int parse_int(const char *s, const char *opt, const char *usage) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0 || v > 1000000) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: expected a non-negative integer, got '%s'", opt, s);
        usage_exit(usage, msg);
    }
    return (int)v;
}

static void parse_args(PhaseArgs *a, int argc, char **argv, const char *usage) {
    memset(a, 0, sizeof *a);
    a->worker = -1;
    a->min_workers = -1;
    a->sets = xCalloc((size_t)argc + 1, sizeof *a->sets); /* never more --set values than arguments */
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            printf("usage: %s %s\n", swap_progname(), usage);
            exit(0);
        } else if (!strcmp(s, "--set")) {
            if (!val) usage_exit(usage, "--set needs key=value");
            a->sets[a->n_sets++] = val;
            i++;
        } else if (!strncmp(s, "--set=", 6)) {
            a->sets[a->n_sets++] = s + 6;
        } else if (!strcmp(s, "--worker")) {
            if (!val) usage_exit(usage, "--worker needs a number");
            a->worker = parse_int(val, "--worker", usage);
            i++;
        } else if (!strcmp(s, "--min-workers")) {
            if (!val) usage_exit(usage, "--min-workers needs a number");
            a->min_workers = parse_int(val, "--min-workers", usage);
            i++;
        } else if (!strcmp(s, "--baseline") && strstr(usage, "--baseline")) {
            if (!val) usage_exit(usage, "--baseline needs a name");
            a->baseline = val;
            i++;
        } else if (!strcmp(s, "--mode")) {
            if (!val) usage_exit(usage, "--mode needs a value");
            a->mode = val;
            i++;
        } else if (s[0] == '-') {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown option '%s'", s);
            usage_exit(usage, msg);
        } else if (!a->exp_path) {
            a->exp_path = s;
        } else {
            usage_exit(usage, "more than one experiment file given");
        }
    }
    if (!a->exp_path) usage_exit(usage, "missing EXPERIMENT.lua");
}

void phase_start(Phase *p, int argc, char **argv, const char *usage, const char *threads_key) {
    engine_exec_wait_policy(argv); /* may re-execute this program: before anything else happens */
    memset(p, 0, sizeof *p);
    swap_set_progname(argv[0]);
    signals_install(); /* first: a USR1 from Slurm must never find the default (fatal) action */
    config_set_stop(signals_pending); /* a looping experiment still ends on TERM */
    parse_args(&p->args, argc, argv, usage);
    comm_init(&p->comm, &argc, &argv);
    signals_install(); /* again: UCX (under MPICH) takes SIGHUP for its debug output in MPI_Init */
    p->cfg = config_load(p->args.exp_path, p->args.n_sets, p->args.sets);
    config_check_paths(p->cfg);
    snprintf(p->dir, sizeof p->dir, "%s/%s", cfg_str(p->cfg, "results"), cfg_str(p->cfg, "name"));
    snprintf(p->shared, sizeof p->shared, "%s", cfg_has(p->cfg, "shared_dir") ? cfg_str(p->cfg, "shared_dir") : p->dir);
    char bkey[160];
    if (p->args.baseline) {
        snprintf(bkey, sizeof bkey, "baselines.%s.batch", p->args.baseline);
        if (!cfg_exists(p->cfg, bkey))
            swap_fail("--baseline %s: %s names no such baseline (baselines = %s)", p->args.baseline,
                      p->args.exp_path, cfg_baselines_list(p->cfg));
        snprintf(bkey, sizeof bkey, "baselines.%s.threads", p->args.baseline);
        threads_key = bkey;
    }
    long t = cfg_int(p->cfg, threads_key);
    if (t == 0) t = cfg_int(p->cfg, "threads");
    const char *slurm_cpus = getenv("SLURM_CPUS_PER_TASK");
    if (t == 0 && slurm_cpus && atol(slurm_cpus) > 0) t = atol(slurm_cpus);
    if (t == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        t = cores / (p->comm.local_size > 0 ? p->comm.local_size : 1);
        if (t < 1) t = 1;
    }
    p->threads = (int)t;
    engine_set_threads(p->threads);
    Precision prec;
    if (nn_precision_parse(cfg_str(p->cfg, "precision"), &prec) != 0)
        swap_fail("%s: precision: expected fp32 or bf16, got '%s'", config_path(p->cfg), cfg_str(p->cfg, "precision"));
    nn_set_precision(prec); /* a one-line refusal on a CPU without AVX512_BF16 */
    if (p->comm.rank == 0) {
        printf("%s: experiment %s (%s), %d rank(s) x %d thread(s)\n", swap_progname(), cfg_str(p->cfg, "name"),
               config_path(p->cfg), p->comm.size, p->threads);
        printf("%s: rank hosts (%d node(s)): %s\n", swap_progname(), p->comm.nodes, p->comm.hosts);
        printf("--- resolved configuration ---\n%s------------------------------\n", config_resolved(p->cfg));
        fflush(stdout);
    }
}

void phase_finish(Phase *p) {
    if (p->train) dataset_free(p->train);
    if (p->test) dataset_free(p->test);
    if (p->val) dataset_free(p->val);
    config_free(p->cfg);
    free(p->args.sets);
    comm_finalize();
}

/* dataset = "hdf5": the file, and whether its training images stream (data.in_memory, else by the file's size). */
static const char *data_source(const Phase *p, DataOpts *o) {
    memset(o, 0, sizeof *o);
    const char *name = cfg_str(p->cfg, "dataset");
    if (strcmp(name, "hdf5")) return cfg_has(p->cfg, "data_dir") ? cfg_str(p->cfg, "data_dir") : NULL;
    const char *file = cfg_str(p->cfg, "data_file");
    if (cfg_has(p->cfg, "data.in_memory")) {
        o->stream = !cfg_bool(p->cfg, "data.in_memory");
    } else {
        struct stat st;
        o->stream = stat(file, &st) == 0 && (double)st.st_size > (double)cfg_int(p->cfg, "data.stream_above_mb") * (1 << 20);
    }
    o->stream_chunk = (int)cfg_int(p->cfg, "data.stream_chunk");
    o->stream_window = (int)cfg_int(p->cfg, "data.stream_window");
    return file;
}

void phase_load_data(Phase *p, int need_train, int need_test) {
    const char *name = cfg_str(p->cfg, "dataset");
    DataOpts opts;
    const char *dir = data_source(p, &opts);
    if (need_train) {
        p->train = dataset_load_opts(name, dir, 1, &opts);
        if (p->train->stream && p->comm.rank == 0)
            printf("%s: streaming the training images of %s (chunks of %d images, shuffle windows of %d chunks)\n",
                   swap_progname(), dir, opts.stream_chunk, opts.stream_window);
        p->val_split = (int)cfg_int(p->cfg, "data.val_split");
        p->val_seed = (uint64_t)cfg_int(p->cfg, "data.val_seed");
        if (p->val_split > 0) {
            if (p->val_split >= p->train->n)
                swap_fail("data.val_split: %d images would leave no training data (%s has %d training images)",
                          p->val_split, p->train->name, p->train->n);
            uint32_t *idx = xMalloc((size_t)p->val_split * sizeof *idx);
            dataset_val_indices(idx, p->train->n, p->val_split, p->val_seed);
            ckpt_hash_bytes(p->val_hash, idx, (size_t)p->val_split * sizeof *idx); /* little-endian hosts */
            free(idx);
            p->val = dataset_split_val(p->train, p->val_split, p->val_seed);
        }
        long sub = cfg_int(p->cfg, "train_subset");
        if (sub > 0 && sub < p->train->n) dataset_truncate(p->train, (int)sub);
    }
    if (need_test) {
        if (p->train) { /* the training set's normalization (computed once when the file has none) */
            opts.have_norm = 1;
            memcpy(opts.mean, p->train->mean, sizeof opts.mean);
            memcpy(opts.std, p->train->std, sizeof opts.std);
        }
        p->test = dataset_load_opts(name, dir, 0, &opts);
        long sub = cfg_int(p->cfg, "test_subset");
        if (sub > 0 && sub < p->test->n) dataset_truncate(p->test, (int)sub);
    }
}

ModelSpec phase_model_spec(const Phase *p) {
    const Dataset *d = p->train ? p->train : p->test;
    xCheck(d != NULL, "model spec needs a dataset");
    ModelSpec s = {.in_c = d->c, .in_h = d->h, .in_w = d->w, .classes = d->classes,
                   .width = (int)cfg_int(p->cfg, "width"),
                   .label_smoothing = (float)cfg_num(p->cfg, "label_smoothing")};
    return s;
}

int phase_tta_flip(const Phase *p) { return !strcmp(cfg_str(p->cfg, "tta"), "flip"); }

/* Lua expands a preset for the datasets it knows (their image size and classes are written in models.lua); an
 * HDF5 data file's are known only once the engine has opened it, so a preset is expanded again here for them. A
 * network written as a table is used as Lua resolved it (the engine checks it against the data). */
char *phase_model_json(const Phase *p, const ModelSpec *s) {
    const Dataset *d = p->train ? p->train : p->test;
    if (d && !strcmp(d->name, "hdf5") && cfg_is_str(p->cfg, "model")) { /* a preset, not a table */
        char err[512];
        char *json = preset_json(cfg_str(p->cfg, "model"), s, err, sizeof err);
        if (!json) swap_fail("%s", err); /* a preset that does not fit the images */
        return json;
    }
    return xStrdup(cfg_str(p->cfg, "model_json"));
}

Model *phase_build_model(const Phase *p) {
    ModelSpec s = phase_model_spec(p);
    const Dataset *d = p->train ? p->train : p->test;
    char ctx[1200];
    if (!strcmp(d->name, "hdf5")) { /* a network that cannot take these images: say which file holds them */
        snprintf(ctx, sizeof ctx, "%s: /%s/images: %dx%dx%d images (HxWxC) do not fit model '%s': ", d->path,
                 p->train ? "train" : "test", d->h, d->w, d->c, cfg_str(p->cfg, "model_name"));
        swap_fail_context(ctx);
    }
    char *json = phase_model_json(p, &s);
    Model *m = model_create_json(json, &s);
    free(json);
    swap_fail_context(NULL);
    return m;
}

static void mkdir_p(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *q = tmp + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) swap_fail("%s: cannot create directory (%s)", tmp, strerror(errno));
            *q = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) swap_fail("%s: cannot create directory (%s)", tmp, strerror(errno));
}

const char *phase_path(const Phase *p, char *buf, size_t n, const char *sub, int mkdir_parent) {
    const int shared = !strncmp(sub, "phase1/", 7) || !strncmp(sub, "baseline-", 9);
    int len = snprintf(buf, n, "%s/%s", shared && p->shared[0] ? p->shared : p->dir, sub);
    if (len < 0 || (size_t)len >= n) swap_fail("%s/%s: path too long", p->dir, sub);
    if (mkdir_parent && p->comm.rank == 0) {
        char parent[1024];
        snprintf(parent, sizeof parent, "%s", buf);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = 0;
            mkdir_p(parent);
        }
    }
    return buf;
}

