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
#include "core/clones.h"
#include "core/err.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/parallel.h"
#include "optim/sgd.h"
#include "phases/version.h"

static void usage(void) {
    fprintf(stderr,
            "usage: swap-bench --model {mlp|cnn|resnet9|resnet18|resnet20|vgg11} [--width W] --batch B --threads T --steps S "
            "[--warmup N] [--seed X] [--eval] [--profile] [--precision fp32|bf16] [--ablate layout|bn|layout,bn]\n"
            "  mlp/cnn take 1x28x28 inputs, the others 3x32x32 (width W, default 64); 10 classes.\n"
            "  --eval times a no-grad eval-mode forward instead of a training step.\n"
            "  --precision bf16 runs the convolutions in bf16 (needs AVX512_BF16; see layers.h).\n"
            "  --profile also prints per-layer forward/backward CPU milliseconds and idle thread time per step\n"
            "    to stderr.\n"
            "  --ablate skips a part of the step to measure what it costs (timing only: the results are wrong):\n"
            "    layout the activation reorders around the oneDNN convolution kernels, bn batch norm (and its fused ReLU).\n"
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
    int profile, eval, ablate;
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
        else if (!strcmp(a, "--ablate")) {
            if (!strcmp(v, "layout")) b.ablate = NN_ABLATE_LAYOUT;
            else if (!strcmp(v, "bn")) b.ablate = NN_ABLATE_BN;
            else if (!strcmp(v, "layout,bn") || !strcmp(v, "bn,layout")) b.ablate = NN_ABLATE_LAYOUT | NN_ABLATE_BN;
            else swap_fail_code(SWAP_EXIT_USAGE, "--ablate: expected layout, bn or layout,bn, got '%s'", v);
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

/* The machine's measured peak, GFLOP per CPU-second (so per core at full use): fp32 a 2048^3 sgemm split over the
 * engine's threads as the engine splits its GEMMs (*sgemm) or a 2048^3 oneDNN fp32 matmul, whichever is faster
 * (OpenBLAS may be held to AVX2 kernels by OPENBLAS_CORETYPE while oneDNN uses AVX-512); bf16 a 2048^3 oneDNN
 * bf16 matmul. */
static void measure_peaks(double *fp32, double *bf16, double *sgemm, double *mm32) {
    const int n = 2048;
    float *a = xMalloc((size_t)n * n * sizeof *a), *b = xMalloc((size_t)n * n * sizeof *b),
          *c = xMalloc((size_t)n * n * sizeof *c);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = 0.75f;
    sgemm_par(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    const double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int r = 0; r < 3; r++) sgemm_par(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    *fp32 = 3 * 2.0 * n * n * (double)n / (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e-9;
    free(a);
    free(b);
    free(c);
    double wall;
    *sgemm = *fp32;
    *mm32 = nn_matmul_peak_gflops(0, n, &wall);
    if (*mm32 > *fp32) *fp32 = *mm32;
    *bf16 = nn_bf16_missing() ? 0.0 : nn_matmul_peak_gflops(1, n, &wall);
}

/* Roofline (stderr, with --profile): every figure is CPU time per step (all threads), so GFLOP/s are per busy
 * core and compare with the peak per core; FLOPs are the direct convolution's 2*K per output, also for Winograd
 * (which multiplies 2.25x less: its rate is "direct-equivalent" and may pass the peak). */
/* idle: CPU-ms the engine's threads could have run but waited (wall x threads - CPU): serial parts of a layer */
static void print_profile(const Model *m, long steps, long batch, double step_cpu, double opt_cpu, Precision prec,
                          int threads, double step_wall) {
    double pk32, pk16, sg, mm32;
    measure_peaks(&pk32, &pk16, &sg, &mm32);
    const double peak = prec == PREC_BF16 ? pk16 : pk32;
    fprintf(stderr, "peak (GFLOP per CPU-second): fp32 sgemm 2048^3 %.1f, fp32 oneDNN matmul 2048^3 %.1f, bf16 oneDNN "
                    "matmul 2048^3 %.1f; this run's precision %s compares with %.1f\n", sg, mm32, pk16,
            nn_precision_name(prec), peak);
    fprintf(stderr, "%-18s %8s %8s %7s | %7s %7s %7s %7s | %7s %7s %7s | %5s %5s %5s\n", "layer", "fwd_ms", "bwd_ms",
            "idle", "k_fwd", "k_bwdd", "k_bwdw", "layout", "GF_fwd", "GF_bwdd", "GF_bwdw", "%pkF", "%pkD", "%pkW");
    double t_layers = 0, t_kern = 0, t_layout = 0, t_lin = 0, flops_all = 0, t_idle = 0;
    const double s = 1e3 / (double)steps;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        const double f = m->prof_fwd[i] * s, b = m->prof_bwd[i] * s, idle = m->prof_wall[i] * s * threads - f - b;
        t_layers += f + b;
        t_idle += idle;
        const char *kind = model_layer_kind(m, i);
        if (!strcmp(kind, "conv")) {
            /* layers of one shape share the kernels and their clocks: each gets its share */
            const ConvDims *d = &l->conv;
            int same = 0;
            for (int j = 0; j < m->n_layers; j++)
                if (!strcmp(model_layer_kind(m, j), "conv") && !memcmp(&m->layers[j].conv, d, sizeof *d)) same++;
            double t[CONV_T_N];
            conv2d_profile(d, (int)batch, t);
            for (int k = 0; k < CONV_T_N; k++) t[k] /= same;
            const double gf = 2.0 * d->co * d->ci * d->k * d->k * d->ho * d->wo * (double)batch * 1e-9;
            const double gd = l->in == 0 ? 0.0 : gf; /* the network input needs no gradient */
            const double kf = t[CONV_T_FWD] * s, kd = t[CONV_T_BWD_DATA] * s, kw = t[CONV_T_BWD_WEIGHTS] * s;
            const double rf = kf > 0 ? gf / kf * 1e3 : 0, rd = kd > 0 ? gd / kd * 1e3 : 0, rw = kw > 0 ? gf / kw * 1e3 : 0;
            fprintf(stderr, "%-18s %8.2f %8.2f %7.2f | %7.2f %7.2f %7.2f %7.2f | %7.1f %7.1f %7.1f | %5.0f %5.0f %5.0f\n",
                    l->name, f, b, idle, kf, kd, kw, t[CONV_T_LAYOUT] * s, rf, rd, rw, 100 * rf / peak, 100 * rd / peak,
                    100 * rw / peak);
            t_kern += kf + kd + kw;
            t_layout += t[CONV_T_LAYOUT] * s;
            flops_all += 2 * gf + gd;
        } else {
            if (!strcmp(kind, "linear")) {
                t_lin += f + b;
                flops_all += 3 * 2.0 * l->fin * l->fout * (double)batch * 1e-9;
            }
            fprintf(stderr, "%-18s %8.2f %8.2f %7.2f |\n", l->name, f, b, idle);
        }
    }
    const double step = step_cpu * 1e3, opt = opt_cpu * s, rest = step - t_kern - t_layout - t_lin;
    fprintf(stderr, "step %.2f CPU-ms: convolution kernels %.2f (%.0f%%), their layout work %.2f (%.0f%%), linear "
                    "%.2f, the rest %.2f (%.0f%%: batch norm, ReLU, pooling, adds, loss, optimizer %.2f, untimed "
                    "%.2f)\n",
            step, t_kern, 100 * t_kern / step, t_layout, 100 * t_layout / step, t_lin, rest, 100 * rest / step, opt,
            step - t_layers - opt);
    fprintf(stderr, "step %.2f GFLOP (direct count) at %.1f GFLOP per CPU-second = %.0f%% of peak; in the "
                    "convolution kernels alone %.1f (%.0f%%)\n",
            flops_all, flops_all / step * 1e3, 100 * flops_all / step * 1e3 / peak,
            t_kern > 0 ? (flops_all - 0) / (t_kern + t_lin) * 1e3 : 0.0,
            t_kern > 0 ? 100 * flops_all / (t_kern + t_lin) * 1e3 / peak : 0.0);
    const double budget = step_wall * 1e3 * threads;
    fprintf(stderr, "step %.2f wall-ms x %d threads = %.2f CPU-ms available: %.2f (%.0f%%) idle, %.2f of it inside the "
                    "layers (column idle), the rest in the loss, the optimizer and between layers\n",
            step_wall * 1e3, threads, budget, budget - step, 100 * (budget - step) / budget, t_idle);
}

int main(int argc, char **argv) {
    if (phase_version(argc, argv) == 0) return 0;
    engine_exec_wait_policy(argv);
    swap_set_progname("swap-bench");
    const BenchArgs b = parse_args(argc, argv);
    engine_set_threads((int)b.threads);
    nn_set_precision(b.prec);
    if (b.ablate) {
        nn_set_ablation(b.ablate);
        fprintf(stderr, "swap-bench: --ablate: parts of the step are skipped; the timing is an upper bound on what "
                        "they cost, every result (loss included) is wrong\n");
    }
    ModelSpec spec;
    Model *m = bench_model(&b, &spec);
    const SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f, .decay_bn_and_bias = 1};
    const float lr = 0.01f;
    float loss = 0.0f;
    double t0 = 0.0, c0 = 0.0, opt_cpu = 0.0;
    for (long s = 0; s < b.warmup + b.steps; s++) {
        if (s == b.warmup) {
            if (b.profile) {
                model_profile_enable(m);
                conv2d_profile_enable();
            }
            t0 = now_s(CLOCK_MONOTONIC);
            c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        }
        if (b.eval) {
            model_forward(m, 0, 0);
            continue;
        }
        const int timed = b.profile && s >= b.warmup;
        double o0 = timed ? now_s(CLOCK_PROCESS_CPUTIME_ID) : 0.0;
        sgd_zero_grad(&m->ps);
        if (timed) opt_cpu += now_s(CLOCK_PROCESS_CPUTIME_ID) - o0;
        loss = model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        if (timed) o0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        sgd_step(&m->ps, &sgd, lr);
        if (timed) opt_cpu += now_s(CLOCK_PROCESS_CPUTIME_ID) - o0;
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
           "gflops=%.1f peak_rss_mib=%.0f blas=%s conv=%s loops=%s images_per_s=%.1f%s\n",
           model_label, b.eval ? "eval" : "train", nn_precision_name(b.prec), b.batch, b.threads, m->ps.n_params, b.steps, loss, 1e3 * step_s,
           1e3 * dc / (double)b.steps, gflops, (double)ru.ru_maxrss / 1024.0, openblas_get_corename(),
           kernels[0] ? kernels : "none", cpu_clones_level(), (double)b.batch / step_s,
           b.ablate == NN_ABLATE_LAYOUT ? " ablate=layout" : b.ablate == NN_ABLATE_BN ? " ablate=bn"
           : b.ablate ? " ablate=layout,bn" : "");
    fflush(stdout);
    if (b.profile) print_profile(m, b.steps, b.batch, dc / (double)b.steps, opt_cpu, b.prec, (int)b.threads, step_s);
    model_free(m);
    return 0;
}
