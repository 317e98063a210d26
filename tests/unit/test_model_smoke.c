/* Each named model builds, plans, runs forward/backward and a training step lowers the loss on a fixed batch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/presets.h"
#include "core/rng.h"
#include "nn/model.h"
#include "optim/sgd.h"
#include "testlib.h"

static void run(const char *name, int c, int hw, int width) {
    ModelSpec spec = {.in_c = c, .in_h = hw, .in_w = hw, .classes = 10, .width = width};
    Model *m = model_create(name, &spec);
    model_init(m, 42);
    model_set_batch(m, 16);
    Rng r;
    rng_seed(&r, 7);
    float *x = model_input(m);
    for (size_t i = 0; i < (size_t)16 * c * hw * hw; i++) x[i] = rng_normal(&r);
    for (int i = 0; i < 16; i++) model_labels(m)[i] = (int)rng_below(&r, 10);
    SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    float first = 0, last = 0;
    for (int step = 0; step < 20; step++) {
        sgd_zero_grad(&m->ps);
        float loss = model_forward(m, 1, 1);
        T_CHECK(isfinite(loss), "%s: loss not finite at step %d", name, step);
        model_backward(m, 1.0f);
        sgd_step(&m->ps, &sgd, 0.05f);
        if (step == 0) first = loss;
        last = loss;
    }
    T_CHECK(last < 0.5f * first, "%s: loss did not fall on a fixed batch (%g -> %g)", name, first, last);
    printf("%s: params=%zu loss %.4f -> %.4f\n", name, m->ps.n_params, first, last);
    model_free(m);
}

/* Parameter counts of the presets at the published width (64) for CIFAR-10, against the published networks
 * (ResNet-18 as PAPA/WASH train it: 11,173,962; VGG-11 with BN and one linear classifier; ResNet-20 with
 * option-B projections: the 269,722 of option A (He et al.'s 0.27M) plus two 1x1 conv + BN shortcuts). */
static void count(const char *name, int width, size_t want) {
    ModelSpec spec = {.in_c = 3, .in_h = 32, .in_w = 32, .classes = 10, .width = width};
    Model *m = model_create(name, &spec);
    T_CHECK(m->ps.n_params == want, "%s at width %d: %zu parameters, expected %zu", name, width, m->ps.n_params, want);
    model_free(m);
}

int main(void) {
    run("mlp", 1, 28, 0);
    run("cnn", 1, 28, 0);
    run("resnet9", 3, 32, 8);
    run("resnet18", 3, 32, 8);
    run("resnet20", 3, 32, 16);
    run("vgg11", 3, 32, 8);
    count("resnet18", 64, 11173962);
    count("resnet20", 64, 269722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64));
    count("vgg11", 64, 9231114);
    return t_exit("test_model_smoke");
}
