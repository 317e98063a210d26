/* End-to-end sanity of data + model + optimizer: `cnn` trained for one epoch on the first 10k Fashion-MNIST
 * training images must reach > 80% accuracy on the full 10k test set (eval mode). Exit 77 (ctest SKIP) when
 * Fashion-MNIST is not installed. Recipe: batch 32, SGD nesterov 0.9, wd 5e-4, lr 0.2 with 2% warm-up and
 * linear decay to 0 over the epoch. Not a unit test: it takes seconds and is not run under sanitizers. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "config/presets.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "testlib.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(void) {
    const char *dir = dataset_default_dir("fashion-mnist");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", dir);
    if (access(probe, R_OK) != 0) {
        printf("SKIP: Fashion-MNIST not found at %s (Debian package dataset-fashion-mnist)\n", dir);
        return 77;
    }
    double t0 = now();
    Dataset *train = dataset_load("fashion-mnist", dir, 1);
    Dataset *test = dataset_load("fashion-mnist", dir, 0);
    dataset_truncate(train, 10000);

    /* Batch 32: with batch 128 this model reaches only ~75% after 78 steps (the same in PyTorch with the
     * same architecture and recipe); 312 smaller steps give ~81%. */
    enum { B = 32, EVAL_B = 500 };
    const uint64_t seed = 1;
    ModelSpec spec = {.in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    Model *m = model_create("cnn", &spec);
    model_init(m, seed);
    SgdConfig sgd = {.momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
    /* short warm-up, then linear decay to zero over the epoch: a one-epoch run needs the low-lr tail */
    Schedule sched = {.kind = SCHED_LINEAR, .base_lr = 0.2, .total = 1.0, .warmup = 0.02, .final_frac = 0.0};

    uint32_t *perm = malloc((size_t)train->n * sizeof *perm);
    dataset_epoch_order(perm, (size_t)train->n, seed, 0, 0);
    model_set_batch(m, B);
    const int steps = train->n / B;
    float first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        dataset_fill_batch(model_input(m), model_labels(m), train, perm + (size_t)s * B, B, NULL, seed, 0, 0,
                           (size_t)s * B);
        sgd_zero_grad(&m->ps);
        float loss = model_forward(m, 1, 1);
        model_backward(m, 1.0f);
        sgd_step(&m->ps, &sgd, (float)sched_lr(&sched, (double)s / steps));
        if (s == 0) first = loss;
        last = loss;
    }
    double t1 = now();

    uint32_t *order = malloc((size_t)test->n * sizeof *order);
    for (int i = 0; i < test->n; i++) order[i] = (uint32_t)i;
    model_set_batch(m, EVAL_B);
    int correct = 0, seen = 0;
    for (int s = 0; s + EVAL_B <= test->n; s += EVAL_B) {
        dataset_fill_batch(model_input(m), model_labels(m), test, order + s, EVAL_B, NULL, seed, 0, 0, (size_t)s);
        model_forward(m, 0, 1);
        correct += model_count_correct(m);
        seen += EVAL_B;
    }
    double t2 = now();
    double acc = (double)correct / seen;
    printf("train_sanity: %d steps, loss %.3f -> %.3f, test accuracy %.4f (%d/%d); train %.1f s, eval %.1f s\n",
           steps, first, last, acc, correct, seen, t1 - t0, t2 - t1);
    T_CHECK(seen == 10000, "evaluated the full test set (%d)", seen);
    T_CHECK(acc > 0.80, "test accuracy %.4f should exceed 0.80 after one epoch on 10k images", acc);
    free(perm);
    free(order);
    model_free(m);
    dataset_free(train);
    dataset_free(test);
    return t_exit("train_sanity");
}
