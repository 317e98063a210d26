/* swap-bench: training-step (or inference) throughput of one named model on seeded random data.
 *   swap-bench --model M [--width W] --batch B --threads T --steps S [--warmup N] [--seed X] [--eval]
 * A step is exactly what a training worker does per batch: zero grads, train-mode forward with loss,
 * backward, SGD (momentum 0.9, Nesterov, weight decay 5e-4). With --eval a step is one eval-mode forward
 * without gradients (BN recompute, evaluation, interpolation). Prints one line of key=value pairs ending in
 * images_per_s=..., the figure scripts/bench/bench.sh compares against the PyTorch twin; conv=... names the
 * convolution kernels that ran (distinct ones, comma-separated). */
#include <cblas.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config/presets.h"
#include "core/err.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/parallel.h"
#include "optim/sgd.h"
#include "phases/version.h"

static void usage(void) {
    fprintf(stderr,
            "usage: swap-bench --model {mlp|cnn|resnet9|resnet18|resnet20|vgg11} [--width W] --batch B --threads T --steps S "
            "[--warmup N] [--seed X] [--eval] [--profile] [--precision fp32|bf16]\n"
            "  mlp/cnn take 1x28x28 inputs, the others 3x32x32 (width W, default 64); 10 classes.\n"
            "  --eval times a no-grad eval-mode forward instead of a training step.\n"
            "  --precision bf16 runs the convolutions in bf16 (needs AVX512_BF16; see layers.h).\n"
            "  --profile also prints per-layer forward/backward CPU milliseconds per step to stderr.\n"
            "  cpu_ms is process CPU time per step (all threads, including spin-waiting).\n");
    exit(SWAP_EXIT_USAGE);
}

static long parse_int(const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
        swap_fail_code(SWAP_EXIT_USAGE, "%s: expected an integer in [%ld, %ld], got '%s'", flag, lo, hi, s);
    return v;
}

static double now_s(clockid_t clk) {
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    long width, batch, threads, steps, warmup, seed;
    int profile, eval;
    Precision prec;
} BenchArgs;

static BenchArgs parse_args(int argc, char **argv) {
    BenchArgs b = {.width = 64, .batch = -1, .threads = -1, .steps = -1, .warmup = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
        if (!strcmp(a, "--profile")) {
            b.profile = 1;
            continue;
        }
        if (!strcmp(a, "--eval")) {
            b.eval = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "swap-bench: %s: missing value\n", a);
            usage();
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) b.name = v;
        else if (!strcmp(a, "--width")) b.width = parse_int(a, v, 1, 4096);
        else if (!strcmp(a, "--batch")) b.batch = parse_int(a, v, 1, 1 << 20);
        else if (!strcmp(a, "--threads")) b.threads = parse_int(a, v, 1, 1024);
        else if (!strcmp(a, "--steps")) b.steps = parse_int(a, v, 1, 1 << 24);
        else if (!strcmp(a, "--warmup")) b.warmup = parse_int(a, v, 0, 1 << 24);
        else if (!strcmp(a, "--seed")) b.seed = parse_int(a, v, 0, INT64_MAX);
        else if (!strcmp(a, "--precision")) {
            if (nn_precision_parse(v, &b.prec) != 0)
                swap_fail_code(SWAP_EXIT_USAGE, "--precision: expected fp32 or bf16, got '%s'", v);
        }
        else {
            fprintf(stderr, "swap-bench: unknown option '%s'\n", a);
            usage();
        }
    }
    if (!b.name || b.batch < 0 || b.threads < 0 || b.steps < 0) {
        fprintf(stderr, "swap-bench: --model, --batch, --threads and --steps are required\n");
        usage();
    }
    return b;
}

/* The model on one batch of seeded random inputs and labels. */
static Model *bench_model(const BenchArgs *b, ModelSpec *spec) {
    /* mlp and cnn on Fashion-MNIST's shape, the CIFAR networks on CIFAR-10's */
    const int gray = !strcmp(b->name, "mlp") || !strcmp(b->name, "cnn");
    *spec = (ModelSpec){.in_c = gray ? 1 : 3, .in_h = gray ? 28 : 32, .in_w = gray ? 28 : 32, .classes = 10,
                        .width = (int)b->width};
    Model *m = model_create(b->name, spec);
    model_init(m, (uint64_t)b->seed);
    model_set_batch(m, (int)b->batch);
    Rng r;
    rng_stream(&r, (uint64_t)b->seed, RNG_BENCH, 0, 0);
    float *x = model_input(m);
    const size_t nx = (size_t)b->batch * spec->in_c * spec->in_h * spec->in_w;
    for (size_t i = 0; i < nx; i++) x[i] = rng_normal(&r);
    int *y = model_labels(m);
    for (long i = 0; i < b->batch; i++) y[i] = (int)rng_below(&r, (uint32_t)spec->classes);
    return m;
}

static void print_profile(const Model *m, long steps) {
    double tf = 0, tb = 0;
    for (int i = 0; i < m->n_layers; i++) {
        fprintf(stderr, "%-22s fwd %8.2f ms  bwd %8.2f ms\n", m->layers[i].name, 1e3 * m->prof_fwd[i] / steps,
                1e3 * m->prof_bwd[i] / steps);
        tf += m->prof_fwd[i];
        tb += m->prof_bwd[i];
    }
    fprintf(stderr, "%-22s fwd %8.2f ms  bwd %8.2f ms\n", "total", 1e3 * tf / steps, 1e3 * tb / steps);
}

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    engine_exec_passive_wait(argv);
    swap_set_progname("swap-bench");
    const BenchArgs b = parse_args(argc, argv);
    engine_set_threads((int)b.threads);
    nn_set_precision(b.prec);
    ModelSpec spec;
    Model *m = bench_model(&b, &spec);
    const SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f, .decay_bn_and_bias = 1};
    const float lr = 0.01f;
    float loss = 0.0f;
    double t0 = 0.0, c0 = 0.0;
    for (long s = 0; s < b.warmup + b.steps; s++) {
        if (s == b.warmup) {
            if (b.profile) model_profile_enable(m);
            t0 = now_s(CLOCK_MONOTONIC);
            c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        }
        if (b.eval) {
            model_forward(m, 0, 0);
            continue;
        }
        sgd_zero_grad(&m->ps);
        loss = model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        sgd_step(&m->ps, &sgd, lr);
    }
    const double dt = now_s(CLOCK_MONOTONIC) - t0, dc = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double step_s = dt / (double)b.steps;
    const double gflops =
        model_train_flops_per_sample(m) * (b.eval ? 1.0 / 3.0 : 1.0) * (double)b.batch / step_s * 1e-9;
    char kernels[1024], model_label[32];
    model_conv_kernels(m, kernels, sizeof kernels);
    if (strcmp(b.name, "mlp") && strcmp(b.name, "cnn"))
        snprintf(model_label, sizeof model_label, "%.20sw%ld", b.name, b.width);
    else snprintf(model_label, sizeof model_label, "%s", b.name);
    printf("swap model=%s mode=%s precision=%s batch=%ld threads=%ld params=%zu steps=%ld loss=%.4f step_ms=%.2f cpu_ms=%.2f "
           "gflops=%.1f peak_rss_mib=%.0f blas=%s conv=%s images_per_s=%.1f\n",
           model_label, b.eval ? "eval" : "train", nn_precision_name(b.prec), b.batch, b.threads, m->ps.n_params, b.steps, loss, 1e3 * step_s,
           1e3 * dc / (double)b.steps, gflops, (double)ru.ru_maxrss / 1024.0, openblas_get_corename(),
           kernels[0] ? kernels : "none", (double)b.batch / step_s);
    if (b.profile) print_profile(m, b.steps);
    model_free(m);
    return 0;
}
