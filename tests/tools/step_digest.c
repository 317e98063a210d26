/* Prints which CPU clone of the hot loops this build runs (core/clones.h) and, per network and precision, a
 * digest of [parameters | gradients | logits] after three SGD steps on seeded data. tests/sh/test_cpu_clones.sh
 * runs it from the release build (AVX2/AVX-512 clones) and from the sanitizer build (baseline loops, no clones):
 * the clones must give the same bits. The networks cover every kind whose loops are cloned: batch norm (alone and
 * fused with ReLU), ReLU, both max pools, average pool, both global pools, flatten, residual adds, SGD. */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "config/presets.h"
#include "core/clones.h"
#include "core/rng.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/parallel.h"
#include "optim/sgd.h"

/* every kind in one network (as test_grad_layers' every_kind), then one that flattens */
static const char *EVERY_KIND =
    "{\"name\":\"every_kind\",\"layers\":["
    "{\"kind\":\"conv\",\"out\":8,\"k\":3,\"stride\":2,\"pad\":1,\"bias\":true},{\"kind\":\"bn\"},{\"kind\":\"relu\"},"
    "{\"kind\":\"residual\",\"body\":[{\"kind\":\"conv\",\"out\":16,\"k\":3,\"bias\":false},"
    "{\"kind\":\"bn\"},{\"kind\":\"relu\"},{\"kind\":\"conv\",\"out\":16,\"k\":3}],"
    "\"shortcut\":[{\"kind\":\"conv\",\"out\":16,\"k\":1,\"pad\":0}]},"
    "{\"kind\":\"residual\",\"body\":[{\"kind\":\"bn\"},{\"kind\":\"relu\"},{\"kind\":\"conv\",\"out\":16,\"k\":3}]},"
    "{\"kind\":\"maxpool\",\"k\":2,\"stride\":1},{\"kind\":\"avgpool\",\"k\":3,\"stride\":2},"
    "{\"kind\":\"residual\",\"body\":[{\"kind\":\"global_avgpool\"}],\"shortcut\":[{\"kind\":\"global_maxpool\"}]},"
    "{\"kind\":\"linear\",\"out\":10}]}";
static const char *FLAT = "{\"name\":\"flat\",\"layers\":[{\"kind\":\"conv\",\"out\":12,\"k\":3},{\"kind\":\"bn\"},"
                          "{\"kind\":\"maxpool\",\"k\":2},{\"kind\":\"flatten\"},{\"kind\":\"linear\",\"out\":10}]}";

static void digest(const char *name, const char *json, int c, int hw, int width, int batch) {
    ModelSpec spec = {.in_c = c, .in_h = hw, .in_w = hw, .classes = 10, .width = width, .label_smoothing = 0.1f};
    Model *m = json ? model_create_json(json, &spec) : model_create(name, &spec);
    model_init(m, 7);
    model_set_batch(m, batch);
    Rng r;
    rng_seed(&r, 13);
    const SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < (size_t)batch * c * hw * hw; i++) model_input(m)[i] = rng_normal(&r);
        for (int i = 0; i < batch; i++) model_labels(m)[i] = (int)rng_below(&r, 10);
        sgd_zero_grad(&m->ps);
        model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        sgd_step(&m->ps, &sgd, 0.05f);
    }
    model_forward(m, 0, 0); /* eval mode too: batch norm from its running statistics */
    XXH64_state_t *h = XXH64_createState();
    XXH64_reset(h, 0);
    XXH64_update(h, m->ps.data, m->ps.n_total * sizeof(float));
    XXH64_update(h, m->ps.grad, m->ps.n_params * sizeof(float));
    XXH64_update(h, model_logits(m), (size_t)batch * 10 * sizeof(float));
    printf("%s %s %016llx\n", nn_precision_name(nn_precision()), name, (unsigned long long)XXH64_digest(h));
    XXH64_freeState(h);
    model_free(m);
}

int main(void) {
    engine_set_threads(2);
    printf("clones %s\n", cpu_clones_level());
    for (int p = 0; p < 2; p++) {
        if (p == 1 && nn_bf16_missing()) {
            printf("bf16 not run: %s\n", nn_bf16_missing());
            break;
        }
        nn_set_precision(p ? PREC_BF16 : PREC_FP32);
        digest("cnn", NULL, 3, 16, 0, 5);
        digest("resnet9", NULL, 3, 32, 4, 3);
        digest("every_kind", EVERY_KIND, 2, 17, 0, 5);
        digest("flat", FLAT, 1, 9, 0, 5);
    }
    return 0;
}
