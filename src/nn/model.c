#include "nn/model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

/* Column scratch for im2col is capped so memory stays bounded for large batches; chunks of images are still
 * large enough to keep SGEMM efficient. */
#define COL_CAP_FLOATS ((size_t)8 << 20)

/* Process CPU time: per-layer profiles stay meaningful when other jobs share the cores. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* lowest gradient offset a layer owns (its weight|gamma and bias|beta views) */
static size_t layer_grad_lo(const Model *m, const Layer *l) {
    size_t lo = m->ps.views[l->p0].offset;
    if (l->p1 >= 0 && m->ps.views[l->p1].offset < lo) lo = m->ps.views[l->p1].offset;
    return lo;
}

int model_add_slot(Model *m, int c, int h, int w, int nf) {
    if (m->n_slots == m->cap_slots) {
        m->cap_slots = m->cap_slots ? 2 * m->cap_slots : 32;
        m->slots = xRealloc(m->slots, (size_t)m->cap_slots * sizeof *m->slots);
    }
    Slot *s = &m->slots[m->n_slots];
    memset(s, 0, sizeof *s);
    s->c = c; s->h = h; s->w = w; s->nf = nf;
    s->producer = -1;
    s->last_consumer = -1;
    s->grad_off = SIZE_MAX;
    return m->n_slots++;
}

Layer *model_add_layer(Model *m, LayerKind kind, const char *name, int in) {
    if (m->n_layers == m->cap_layers) {
        m->cap_layers = m->cap_layers ? 2 * m->cap_layers : 32;
        m->layers = xRealloc(m->layers, (size_t)m->cap_layers * sizeof *m->layers);
    }
    Layer *l = &m->layers[m->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in = in; l->in2 = -1; l->out = -1;
    l->p0 = l->p1 = l->rmean = l->rvar = -1;
    return l;
}

static size_t slot_size(const Slot *s) { return (size_t)s->c * s->h * s->w; }

void model_free(Model *m) {
    if (!m) return;
    arena_free(&m->arena);
    ps_free(&m->ps);
    free(m->layers);
    free(m->slots);
    free(m->labels);
    free(m->prof_fwd);
    free(m->prof_bwd);
    free(m);
}

/* A BN whose output feeds only the ReLU right after it runs as one fused layer (one pass instead of two each
 * way, and one activation and one gradient buffer fewer). Idempotent. */
static void plan_fusion(Model *m) {
    for (int s = 0; s < m->n_slots; s++) m->slots[s].readers = 0;
    for (int j = 0; j < m->n_layers; j++) {
        m->slots[m->layers[j].in].readers++;
        if (m->layers[j].in2 >= 0) m->slots[m->layers[j].in2].readers++;
    }
    for (int i = 0; i + 1 < m->n_layers; i++) {
        Layer *b = &m->layers[i], *r = &m->layers[i + 1];
        if (b->kind != L_BN || r->kind != L_RELU || r->in != b->out) continue;
        if (m->slots[b->out].readers != 1 || b->out == m->n_slots - 1) continue;
        b->fused = r->fused = 1;
        m->slots[b->out].elided = 1;
    }
}

/* Gradient buffers are shared between slots whose backward lifetimes do not overlap: a slot's gradient is
 * live from the backward of its last consumer to the backward of its producer. Greedy best-fit over blocks
 * in backward order; sizes are per sample. Returns the total per-sample floats of gradient blocks. */
static size_t plan_grad_blocks(Model *m) {
    typedef struct { size_t off, size; int free_after; } Block;
    Block *blocks = xCalloc((size_t)m->n_slots, sizeof *blocks);
    int nb = 0;
    size_t total = 0;
    const int L = m->n_layers;
    /* backward time of layer i is L-1-i; the logits gradient is born at time -1 (loss backward) */
    for (int t = -1; t < L; t++) {
        for (int s = 1; s < m->n_slots; s++) {
            Slot *sl = &m->slots[s];
            if (sl->elided) continue;
            int born = sl->last_consumer < 0 ? -1 : L - 1 - sl->last_consumer;
            if (born != t) continue;
            /* a fused ReLU's output gradient is read by the BN's backward, one step later */
            const int producer = m->layers[sl->producer].fused && m->layers[sl->producer].kind == L_RELU
                                     ? sl->producer - 1
                                     : sl->producer;
            int dies = L - 1 - producer;
            size_t need = slot_size(sl);
            int best = -1;
            for (int b = 0; b < nb; b++)
                if (blocks[b].free_after < t && blocks[b].size >= need &&
                    (best < 0 || blocks[b].size < blocks[best].size))
                    best = b;
            if (best < 0) {
                best = nb++;
                blocks[best].off = total;
                blocks[best].size = need;
                total += arena_float_bytes(need) / sizeof(float); /* keep blocks aligned per sample */
            }
            blocks[best].free_after = dies;
            sl->grad_off = blocks[best].off;
        }
    }
    free(blocks);
    return total;
}

/* Slot buffers are laid out for the active batch n: a slot's activations and its gradient block both scale
 * with n, so shrinking n keeps every buffer inside its planned region. */
static void point_buffers(Model *m, int n) {
    m->batch = n;
    for (int s = 0; s < m->n_slots; s++)
        m->slots[s].dx = m->slots[s].grad_off == SIZE_MAX ? NULL : m->grad_base + m->slots[s].grad_off * n;
}

void model_set_batch(Model *m, int n) {
    xCheck(n > 0, "batch size must be positive");
    if (n <= m->cap_batch) {
        point_buffers(m, n);
        return;
    }
    arena_free(&m->arena);
    free(m->labels);
    m->cap_batch = n;

    plan_fusion(m);
    m->grad_per_sample = plan_grad_blocks(m);
    size_t col = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        if (l->kind != L_CONV) continue;
        int chunk = conv_chunk(&l->conv, n, COL_CAP_FLOATS);
        size_t need = (size_t)l->conv.ci * l->conv.k * l->conv.k * chunk * l->conv.ho * l->conv.wo;
        if (need > col) col = need;
    }
    size_t bytes = arena_float_bytes(m->grad_per_sample * n) + arena_float_bytes(col) +
                   arena_float_bytes((size_t)n * m->spec.classes) + 64;
    for (int s = 0; s < m->n_slots; s++)
        if (!m->slots[s].elided) bytes += arena_float_bytes(slot_size(&m->slots[s]) * n);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_BN) bytes += 2 * arena_float_bytes((size_t)m->layers[i].conv.co);
    arena_init(&m->arena, bytes);

    for (int s = 0; s < m->n_slots; s++)
        m->slots[s].x = m->slots[s].elided ? NULL : arena_floats(&m->arena, slot_size(&m->slots[s]) * n);
    m->grad_base = arena_floats(&m->arena, m->grad_per_sample * n);
    m->col_cap = col;
    m->col = col ? arena_floats(&m->arena, col) : NULL;
    m->probs = arena_floats(&m->arena, (size_t)n * m->spec.classes);
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = &m->layers[i];
        if (l->kind != L_BN) continue;
        l->save_mean = arena_floats(&m->arena, (size_t)l->conv.co);
        l->save_rstd = arena_floats(&m->arena, (size_t)l->conv.co);
    }
    m->labels = xCalloc((size_t)n, sizeof(int));
    point_buffers(m, n);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_CONV) conv2d_prepare(&m->layers[i].conv, n);
}

float *model_input(Model *m) { return m->slots[0].x; }
int *model_labels(Model *m) { return m->labels; }
const float *model_logits(const Model *m) { return m->slots[m->n_slots - 1].x; }

/* A layer's optional tensors (a conv without bias) have view -1: NULL reaches the kernels. */
static float *param_data(const Model *m, int view) { return view < 0 ? NULL : ps_tensor(&m->ps, view); }
static float *param_grad(const Model *m, int view) {
    return view < 0 ? NULL : m->ps.grad + m->ps.views[view].offset;
}

float model_forward(Model *m, int train, int with_loss) {
    const int n = m->batch;
    m->last_train = train;
    for (int i = 0; i < m->n_layers; i++) {
        const double t0 = m->prof_fwd ? cpu_now() : 0.0;
        Layer *l = &m->layers[i];
        const Slot *si = &m->slots[l->in];
        Slot *so = &m->slots[l->out];
        const size_t cnt = slot_size(si) * n;
        switch (l->kind) {
        case L_CONV: {
            int chunk = conv_chunk(&l->conv, n, COL_CAP_FLOATS);
            conv2d_forward(so->x, si->x, param_data(m, l->p0), param_data(m, l->p1), m->col, &l->conv, n, chunk);
            break;
        }
        case L_BN: {
            const size_t plane = (size_t)n * si->h * si->w;
            if (train) {
                float mom = m->bn_momentum;
                if (mom < 0) mom = 1.0f / (float)(m->bn_count + 1);
                if (l->fused)
                    batchnorm_relu_forward_train(m->slots[l[1].out].x, l->save_mean, l->save_rstd, param_data(m, l->rmean),
                                                 param_data(m, l->rvar), si->x, param_data(m, l->p0), param_data(m, l->p1), si->c, plane, mom,
                                                 m->bn_eps);
                else
                    batchnorm_forward_train(so->x, l->save_mean, l->save_rstd, param_data(m, l->rmean), param_data(m, l->rvar),
                                            si->x, param_data(m, l->p0), param_data(m, l->p1), si->c, plane, mom, m->bn_eps);
            } else if (l->fused) {
                batchnorm_relu_forward_eval(m->slots[l[1].out].x, si->x, param_data(m, l->p0), param_data(m, l->p1), param_data(m, l->rmean),
                                            param_data(m, l->rvar), si->c, plane, m->bn_eps);
            } else {
                batchnorm_forward_eval(so->x, si->x, param_data(m, l->p0), param_data(m, l->p1), param_data(m, l->rmean), param_data(m, l->rvar),
                                       si->c, plane, m->bn_eps);
            }
            break;
        }
        case L_RELU: if (!l->fused) relu_forward(so->x, si->x, cnt); break;
        case L_MAXPOOL2: maxpool2_forward(so->x, si->x, (size_t)si->c * n, si->h, si->w); break;
        case L_GAVGPOOL: global_avgpool_forward(so->x, si->x, si->c, n, si->h * si->w); break;
        case L_GMAXPOOL: global_maxpool_forward(so->x, si->x, si->c, n, si->h * si->w); break;
        case L_FLATTEN: flatten_forward(so->x, si->x, si->c, n, si->h * si->w); break;
        case L_LINEAR: linear_forward(so->x, si->x, param_data(m, l->p0), param_data(m, l->p1), n, l->fin, l->fout); break;
        case L_ADD: add_forward(so->x, si->x, m->slots[l->in2].x, cnt); break;
        case L_SCALE: scale_forward(so->x, si->x, l->scale, cnt); break;
        }
        if (m->prof_fwd) m->prof_fwd[i] += cpu_now() - t0;
    }
    if (train && m->bn_momentum < 0) m->bn_count++;
    if (!with_loss) return 0.0f;
    return xent_forward(m->probs, model_logits(m), m->labels, n, m->spec.classes, m->spec.label_smoothing);
}

/* A slot's gradient is zeroed when its backward lifetime starts, unless the layer starting it is the only
 * reader and writes (rather than adds to) every element: then `*set` is 1 and the zeroing is skipped. */
static void zero_if_born(Model *m, int slot, int layer, int can_set, int *set) {
    Slot *s = &m->slots[slot];
    if (set) *set = 0;
    if (!s->dx || s->last_consumer != layer) return;
    if (can_set && s->readers == 1) {
        *set = 1;
        return;
    }
    const size_t n = slot_size(s) * m->batch, block = (size_t)1 << 16;
    float *dx = s->dx;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += block) memset(dx + b, 0, (n - b < block ? n - b : block) * sizeof(float));
}

void model_backward(Model *m, float dloss) {
    const int n = m->batch;
    xCheck(m->last_train, "backward needs a train-mode forward");
    Slot *logits = &m->slots[m->n_slots - 1];
    memset(logits->dx, 0, slot_size(logits) * n * sizeof(float));
    xent_backward(logits->dx, m->probs, m->labels, n, m->spec.classes, m->spec.label_smoothing, dloss);
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const double t0 = m->prof_bwd ? cpu_now() : 0.0;
        Layer *l = &m->layers[i];
        const int can_set = (l->kind == L_BN && l->fused) || l->kind == L_MAXPOOL2;
        int set;
        zero_if_born(m, l->in, i, can_set, &set);
        if (l->in2 >= 0) zero_if_born(m, l->in2, i, 0, NULL);
        const Slot *si = &m->slots[l->in], *so = &m->slots[l->out];
        float *din = si->dx; /* NULL for the network input */
        const size_t cnt = slot_size(si) * n;
        switch (l->kind) {
        case L_CONV: {
            int chunk = conv_chunk(&l->conv, n, COL_CAP_FLOATS);
            conv2d_backward(din, param_grad(m, l->p0), param_grad(m, l->p1), so->dx, si->x, param_data(m, l->p0), m->col, &l->conv, n, chunk);
            break;
        }
        case L_BN:
            if (l->fused) {
                const Slot *sr = &m->slots[l[1].out];
                (set ? batchnorm_relu_backward_set : batchnorm_relu_backward)(
                    din, param_grad(m, l->p0), param_grad(m, l->p1), sr->dx, sr->x, si->x, param_data(m, l->p0), l->save_mean, l->save_rstd,
                    si->c, (size_t)n * si->h * si->w);
            } else {
                batchnorm_backward(din, param_grad(m, l->p0), param_grad(m, l->p1), so->dx, si->x, param_data(m, l->p0), l->save_mean,
                                   l->save_rstd, si->c, (size_t)n * si->h * si->w);
            }
            break;
        case L_RELU: if (din && !l->fused) relu_backward(din, so->dx, so->x, cnt); break;
        case L_MAXPOOL2:
            if (din)
                (set ? maxpool2_backward_set : maxpool2_backward)(din, so->dx, si->x, so->x, (size_t)si->c * n,
                                                                  si->h, si->w);
            break;
        case L_GAVGPOOL: if (din) global_avgpool_backward(din, so->dx, si->c, n, si->h * si->w); break;
        case L_GMAXPOOL: if (din) global_maxpool_backward(din, so->dx, si->x, so->x, si->c, n, si->h * si->w); break;
        case L_FLATTEN: if (din) flatten_backward(din, so->dx, si->c, n, si->h * si->w); break;
        case L_LINEAR: linear_backward(din, param_grad(m, l->p0), param_grad(m, l->p1), so->dx, si->x, param_data(m, l->p0), n, l->fin, l->fout); break;
        case L_ADD: add_backward(din, m->slots[l->in2].dx, so->dx, cnt); break;
        case L_SCALE: if (din) scale_backward(din, so->dx, l->scale, cnt); break;
        }
        if (m->prof_bwd) m->prof_bwd[i] += cpu_now() - t0;
        if (m->grad_ready && l->p0 >= 0) m->grad_ready(m->grad_ready_ctx, layer_grad_lo(m, l));
    }
}

int model_count_correct(const Model *m) {
    const float *z = model_logits(m);
    const int k = m->spec.classes;
    int correct = 0;
    for (int b = 0; b < m->batch; b++) {
        int arg = 0;
        for (int j = 1; j < k; j++)
            if (z[(size_t)b * k + j] > z[(size_t)b * k + arg]) arg = j;
        correct += arg == m->labels[b];
    }
    return correct;
}

int model_has_bn(const Model *m) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_BN) return 1;
    return 0;
}

void model_bn_recompute_begin(Model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        if (l->kind != L_BN) continue;
        float *rm = param_data(m, l->rmean), *rv = param_data(m, l->rvar);
        for (int c = 0; c < l->conv.co; c++) { rm[c] = 0.0f; rv[c] = 1.0f; }
    }
    m->bn_count = 0;
    m->bn_momentum = -1.0f;
}

void model_bn_recompute_end(Model *m) { m->bn_momentum = 0.1f; }

double model_train_flops_per_sample(const Model *m) {
    double f = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        if (l->kind == L_CONV)
            f += 2.0 * l->conv.co * l->conv.ci * l->conv.k * l->conv.k * l->conv.ho * l->conv.wo;
        else if (l->kind == L_LINEAR)
            f += 2.0 * l->fin * l->fout;
    }
    return 3.0 * f; /* forward + two backward GEMMs */
}

void model_set_grad_ready(Model *m, GradReadyFn fn, void *ctx) {
    /* the tail promise holds only if no earlier layer owns a gradient at or above a later layer's lowest one */
    size_t end = 0;
    for (int i = 0; i < m->n_layers && fn; i++) {
        const Layer *l = &m->layers[i];
        if (l->p0 < 0) continue;
        xCheck(layer_grad_lo(m, l) >= end, "parameters not laid out in layer order");
        for (int k = 0; k < 2; k++) {
            int v = k ? l->p1 : l->p0;
            if (v < 0) continue;
            const TensorView *tv = &m->ps.views[v];
            xCheck(tv->trainable, "layer parameter view is not trainable");
            if (tv->offset + tv->numel > end) end = tv->offset + tv->numel;
        }
    }
    m->grad_ready = fn;
    m->grad_ready_ctx = ctx;
}

void model_profile_enable(Model *m) {
    if (m->prof_fwd) return;
    m->prof_fwd = xCalloc((size_t)m->n_layers, sizeof(double));
    m->prof_bwd = xCalloc((size_t)m->n_layers, sizeof(double));
}

void model_conv_kernels(const Model *m, char *buf, size_t cap) {
    buf[0] = '\0';
    if (m->cap_batch < 1) return; /* never planned: no kernel has run */
    for (int i = 0; i < m->n_layers; i++) {
        if (m->layers[i].kind != L_CONV) continue;
        const char *k = conv2d_kernel(&m->layers[i].conv, m->cap_batch);
        const size_t kl = strlen(k), have = strlen(buf);
        int seen = 0;
        for (const char *q = buf; (q = strstr(q, k)) != NULL; q += kl)
            if ((q == buf || q[-1] == ',') && (q[kl] == ',' || q[kl] == '\0')) seen = 1;
        if (!seen && have + kl + 2 < cap) snprintf(buf + have, cap - have, "%s%s", have ? "," : "", k);
    }
}
