/* Dumps one model's training trajectory as .npy files for the PyTorch oracle (tests/py/test_oracle.py).
 *
 *   oracle_dump MODEL WIDTH CxHxW BATCH SEED SMOOTHING OUTDIR [fp32|bf16]
 * (the last argument sets the convolutions' precision, layers.h; fp32 when absent)
 *
 * MODEL is a preset name or @FILE, a network spec in JSON (docs/networks.md).
 * Writes into OUTDIR (which must exist):
 *   arch.json           the network as built (canonical JSON, what checkpoints store as model_config)
 *   init.<tensor>.npy   every parameter and buffer after model_init(SEED), before training
 *   input.npy           float32 [C][N][H][W] (our CNHW layout), labels.npy int32 [N]
 *   logits.npy [N][K], loss.npy [1]   train-mode forward of that batch
 *   grad.<param>.npy    gradient of the mean loss
 *   bn1.<buffer>.npy    BN running statistics after that forward
 *   final.<tensor>.npy  every parameter and buffer after 5 SGD steps on the same batch
 *                       (lr 0.05, momentum 0.9, Nesterov, weight decay 5e-4, BN and biases exempt)
 *   eval_logits.npy     eval-mode logits of the batch after those steps
 *   recompute.<buffer>.npy, recompute_logits.npy
 *                       BN statistics recomputed as a plain average over two batches (the input, then its
 *                       negation; torch.optim.swa_utils.update_bn semantics), and eval logits with them */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/presets.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "nn/model.h"
#include "optim/sgd.h"

static const char *g_dir;

/* NumPy format 1.0: magic, header length, a Python-literal dict padded with spaces to a 64-byte boundary. */
static void write_npy(const char *name, const char *descr, const void *data, size_t elem, int ndim,
                      const int *shape) {
    char path[4096], tmp[4200], header[256], dims[128] = "";
    size_t count = 1, used = 0;
    for (int i = 0; i < ndim; i++) {
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%d%s", shape[i], ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
        count *= (size_t)shape[i];
    }
    int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    while ((10 + hl + 1) % 64) header[hl++] = ' ';
    header[hl++] = '\n';
    snprintf(path, sizeof path, "%s/%s.npy", g_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) swap_fail("%s: cannot create: %s", tmp, strerror(errno));
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
                                   (unsigned char)(hl >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)hl, f) == (size_t)hl &&
             fwrite(data, elem, count, f) == count && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok) swap_fail("%s: write failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) swap_fail("%s: cannot rename into place: %s", path, strerror(errno));
}

static void write_f32(const char *name, const float *data, int ndim, const int *shape) {
    write_npy(name, "<f4", data, sizeof(float), ndim, shape);
}

/* prefix.<name> for every view; grads only for trainable ones; buffers_only for BN statistics. */
static void dump_views(const Model *m, const char *prefix, int grads, int buffers_only) {
    char name[128];
    for (int i = 0; i < m->ps.n_views; i++) {
        const TensorView *v = &m->ps.views[i];
        if ((grads || buffers_only) && v->trainable == buffers_only) continue;
        snprintf(name, sizeof name, "%s.%s", prefix, v->name);
        write_f32(name, grads ? m->ps.grad + v->offset : ps_tensor(&m->ps, i), v->ndim, v->shape);
    }
}

int main(int argc, char **argv) {
    swap_set_progname("oracle_dump");
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: oracle_dump MODEL WIDTH CxHxW BATCH SEED SMOOTHING OUTDIR [fp32|bf16]\n");
        return SWAP_EXIT_USAGE;
    }
    ModelSpec spec = {.classes = 10, .width = atoi(argv[2]), .label_smoothing = (float)atof(argv[6])};
    if (sscanf(argv[3], "%dx%dx%d", &spec.in_c, &spec.in_h, &spec.in_w) != 3)
        swap_fail("input shape '%s': expected CxHxW", argv[3]);
    const int n = atoi(argv[4]);
    if (n < 1) swap_fail("batch '%s': expected a positive integer", argv[4]);
    const uint64_t seed = strtoull(argv[5], NULL, 10);
    g_dir = argv[7];
    Precision prec = PREC_FP32;
    if (argc == 9 && nn_precision_parse(argv[8], &prec) != 0)
        swap_fail("precision '%s': expected fp32 or bf16", argv[8]);
    nn_set_precision(prec);

    Model *m;
    if (argv[1][0] == '@') {
        char *json = read_file(argv[1] + 1, NULL);
        m = model_create_json(json, &spec);
        free(json);
    } else {
        m = model_create(argv[1], &spec);
    }
    model_init(m, seed);
    model_set_batch(m, n);
    char path[4200];
    snprintf(path, sizeof path, "%s/arch.json", g_dir);
    write_file_atomic(path, m->arch, strlen(m->arch));
    Rng r;
    rng_stream(&r, seed, RNG_BENCH, 1, 0);
    float *x = model_input(m);
    const size_t nx = (size_t)spec.in_c * n * spec.in_h * spec.in_w;
    for (size_t i = 0; i < nx; i++) x[i] = rng_normal(&r);
    int32_t *labels = xMalloc((size_t)n * sizeof *labels);
    for (int b = 0; b < n; b++) labels[b] = model_labels(m)[b] = (int)rng_below(&r, (uint32_t)spec.classes);

    dump_views(m, "init", 0, 0);
    const int xshape[4] = {spec.in_c, n, spec.in_h, spec.in_w}, lshape[1] = {n};
    write_f32("input", x, 4, xshape);
    write_npy("labels", "<i4", labels, sizeof(int32_t), 1, lshape);

    const SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    const float lr = 0.05f;
    for (int step = 0; step < 5; step++) {
        sgd_zero_grad(&m->ps);
        const float loss = model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        if (step == 0) {
            const int zshape[2] = {n, spec.classes}, one[1] = {1};
            write_f32("logits", model_logits(m), 2, zshape);
            write_f32("loss", &loss, 1, one);
            dump_views(m, "grad", 1, 0);
            dump_views(m, "bn1", 0, 1);
        }
        sgd_step(&m->ps, &sgd, lr);
    }
    dump_views(m, "final", 0, 0);
    const int zshape[2] = {n, spec.classes};
    model_forward(m, 0, 0);
    write_f32("eval_logits", model_logits(m), 2, zshape);

    if (model_has_bn(m)) {
        float *x0 = xMalloc(nx * sizeof *x0);
        memcpy(x0, x, nx * sizeof *x0);
        model_bn_recompute_begin(m);
        model_forward(m, 1, 0);
        for (size_t i = 0; i < nx; i++) x[i] = -x0[i];
        model_forward(m, 1, 0);
        model_bn_recompute_end(m);
        dump_views(m, "recompute", 0, 1);
        memcpy(x, x0, nx * sizeof *x0);
        model_forward(m, 0, 0);
        write_f32("recompute_logits", model_logits(m), 2, zshape);
        free(x0);
    }
    free(labels);
    model_free(m);
    return 0;
}
