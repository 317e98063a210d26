#include "nn/model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/zero.h"
#include "nn/layer.h"

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

Layer *model_add_layer(Model *m, const LayerOps *ops, const char *name, int in) {
    if (m->n_layers == m->cap_layers) {
        m->cap_layers = m->cap_layers ? 2 * m->cap_layers : 32;
        m->layers = xRealloc(m->layers, (size_t)m->cap_layers * sizeof *m->layers);
    }
    Layer *l = &m->layers[m->n_layers++];
    memset(l, 0, sizeof *l);
    l->ops = ops;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in = in; l->in2 = -1; l->out = -1;
    l->p0 = l->p1 = l->rmean = l->rvar = -1;
    return l;
}

#define slot_size slot_numel

void model_free(Model *m) {
    if (!m) return;
    arena_free(&m->arena);
    ps_free(&m->ps);
    free(m->layers);
    free(m->slots);
    free(m->arch);
    free(m->labels);
    free(m->prof_fwd);
    free(m->prof_bwd);
    free(m->prof_wall);
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
        if (!b->ops->fuses || r->in != b->out || !b->ops->fuses(b, r)) continue;
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
            const int producer = m->layers[sl->producer].fused && !m->layers[sl->producer].ops->fuses
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
        const size_t need = l->ops->scratch ? l->ops->scratch(l, n) : 0;
        if (need > col) col = need;
    }
    size_t bytes = arena_float_bytes(m->grad_per_sample * n) + arena_float_bytes(col) +
                   arena_float_bytes((size_t)n * m->spec.classes) + 64;
    for (int s = 0; s < m->n_slots; s++)
        if (!m->slots[s].elided) bytes += arena_float_bytes(slot_size(&m->slots[s]) * n);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].ops->state) bytes += arena_float_bytes(m->layers[i].ops->state(&m->layers[i], n));
    arena_init(&m->arena, bytes);

    for (int s = 0; s < m->n_slots; s++)
        m->slots[s].x = m->slots[s].elided ? NULL : arena_floats(&m->arena, slot_size(&m->slots[s]) * n);
    m->grad_base = arena_floats(&m->arena, m->grad_per_sample * n);
    m->col_cap = col;
    m->col = col ? arena_floats(&m->arena, col) : NULL;
    m->probs = arena_floats(&m->arena, (size_t)n * m->spec.classes);
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = &m->layers[i];
        l->state = l->ops->state ? arena_floats(&m->arena, l->ops->state(l, n)) : NULL;
    }
    m->labels = xCalloc((size_t)n, sizeof(int));
    point_buffers(m, n);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].ops->prepare) m->layers[i].ops->prepare(&m->layers[i], n);
}

float *model_input(Model *m) { return m->slots[0].x; }
int *model_labels(Model *m) { return m->labels; }
const float *model_logits(const Model *m) { return m->slots[m->n_slots - 1].x; }

float model_forward(Model *m, int train, int with_loss) {
    const int n = m->batch;
    m->last_train = train;
    for (int i = 0; i < m->n_layers; i++) {
        const double t0 = m->prof_fwd ? cpu_now() : 0.0, w0 = m->prof_fwd ? wall_seconds() : 0.0;
        Layer *l = &m->layers[i];
        l->ops->forward(m, l, train);
        if (m->prof_fwd) {
            m->prof_fwd[i] += cpu_now() - t0;
            m->prof_wall[i] += wall_seconds() - w0;
        }
    }
    if (train && m->bn_momentum < 0) m->bn_count++;
    if (!with_loss) return 0.0f;
    return xent_forward(m->probs, model_logits(m), m->labels, n, m->spec.classes, m->spec.label_smoothing);
}

/* A slot's gradient is zeroed when its backward lifetime starts: at its last reader in forward order, the first
 * to run backward. If that layer can write (rather than add to) every element, `*set` is 1 and the zeroing is
 * skipped: the readers that run after it add to what it wrote. */
static void zero_if_born(Model *m, int slot, int layer, int can_set, int *set) {
    Slot *s = &m->slots[slot];
    *set = 0;
    if (!s->dx || s->last_consumer != layer) return;
    if (can_set) {
        *set = 1;
        return;
    }
    zero_floats(s->dx, slot_size(s) * m->batch);
}

void model_backward(Model *m, float dloss) {
    const int n = m->batch;
    xCheck(m->last_train, "backward needs a train-mode forward");
    Slot *logits = &m->slots[m->n_slots - 1];
    memset(logits->dx, 0, slot_size(logits) * n * sizeof(float));
    xent_backward(logits->dx, m->probs, m->labels, n, m->spec.classes, m->spec.label_smoothing, dloss);
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const double t0 = m->prof_bwd ? cpu_now() : 0.0, w0 = m->prof_bwd ? wall_seconds() : 0.0;
        Layer *l = &m->layers[i];
        const int can_set = l->ops->backward_sets && l->ops->backward_sets(l);
        int set, set2 = 0;
        zero_if_born(m, l->in, i, can_set, &set);
        if (l->in2 >= 0) zero_if_born(m, l->in2, i, can_set && l->in2 != l->in, &set2);
        l->ops->backward(m, l, set | set2 << 1);
        if (m->prof_bwd) {
            m->prof_bwd[i] += cpu_now() - t0;
            m->prof_wall[i] += wall_seconds() - w0;
        }
        if (m->grad_ready && l->p0 >= 0) m->grad_ready(m->grad_ready_ctx, layer_grad_lo(m, l));
    }
}

int model_predicted(const Model *m, int b) {
    const int k = m->spec.classes;
    const float *z = model_logits(m) + (size_t)b * k;
    int arg = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[arg]) arg = j;
    return arg;
}

int model_count_correct(const Model *m) {
    int correct = 0;
    for (int b = 0; b < m->batch; b++) correct += model_predicted(m, b) == m->labels[b];
    return correct;
}

int model_has_bn(const Model *m) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].rmean >= 0) return 1;
    return 0;
}

void model_bn_recompute_begin(Model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        if (l->rmean < 0) continue;
        float *rm = layer_param(m, l->rmean), *rv = layer_param(m, l->rvar);
        for (size_t c = 0; c < m->ps.views[l->rmean].numel; c++) { rm[c] = 0.0f; rv[c] = 1.0f; }
    }
    m->bn_count = 0;
    m->bn_momentum = -1.0f;
}

void model_bn_recompute_end(Model *m) { m->bn_momentum = 0.1f; }

double model_layer_flops(const Model *m, int layer) {
    const Layer *l = &m->layers[layer];
    return l->ops->flops ? l->ops->flops(m, l) : 0.0;
}

const char *model_layer_kind(const Model *m, int layer) { return m->layers[layer].ops->kind; }

size_t model_layer_params(const Model *m, int layer) {
    size_t n = 0;
    for (int v = 0; v < m->ps.n_views; v++)
        if (m->ps.views[v].layer_index == layer) n += m->ps.views[v].numel;
    return n;
}

double model_train_flops_per_sample(const Model *m) {
    double f = 0.0;
    for (int i = 0; i < m->n_layers; i++) f += model_layer_flops(m, i);
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
    m->prof_wall = xCalloc((size_t)m->n_layers, sizeof(double));
}

void model_conv_kernels(const Model *m, char *buf, size_t cap) {
    buf[0] = '\0';
    if (m->cap_batch < 1) return; /* never planned: no kernel has run */
    for (int i = 0; i < m->n_layers; i++) {
        if (!m->layers[i].ops->kernel) continue;
        const char *k = m->layers[i].ops->kernel(&m->layers[i], m->cap_batch);
        if (!*k) continue;
        const size_t kl = strlen(k), have = strlen(buf);
        int seen = 0;
        for (const char *q = buf; (q = strstr(q, k)) != NULL; q += kl)
            if ((q == buf || q[-1] == ',') && (q[kl] == ',' || q[kl] == '\0')) seen = 1;
        if (!seen && have + kl + 2 < cap) snprintf(buf + have, cap - have, "%s%s", have ? "," : "", k);
    }
}
