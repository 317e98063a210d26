/* Evaluation of a model over a dataset and the recomputation of its BN statistics: what phase 3, the training
 * loop and swap-inspect measure with. */
#ifndef SWAP_EVALUATE_H
#define SWAP_EVALUATE_H
#include <stdint.h>

#include "data/dataset.h"
#include "nn/model.h"

/* Evaluation in eval mode over a dataset, sharded across `shards` ranks (shard `rank`); sums are local:
 * the caller reduces. probs (optional) receives softmax outputs [d->n][classes] for this shard's samples.
 * flip: test-time augmentation (the experiment's `tta = "flip"`), see eval_batch. */
void eval_dataset(Model *m, const Dataset *d, int batch, int rank, int shards, int flip, double *loss_sum,
                  double *correct, double *count, float *probs);
/* One batch already in the model's input (model_input, model_labels; m->batch samples): returns the summed loss
 * (plain cross-entropy, without the label smoothing the model may train with: every test and validation loss
 * we report, from the training log to summary.json, swap-inspect and the ensemble, is the same quantity) and writes each sample's predicted class to pred.
 * m->probs holds the softmax outputs after it. With flip, each image and its mirror image (left-right) are both
 * run and their softmax outputs averaged: the prediction, the loss and m->probs are the average's. The input is
 * left mirrored. tta: scratch of m->batch x classes floats (flip only). */
double eval_batch(Model *m, int flip, float *tta, int *pred);
/* Recompute BN running statistics: `batches` train-mode forwards of `batch` samples in a seeded order, each
 * sample augmented by aug (NULL: plain images) from the same seed; cumulative average
 * (torch.optim.swa_utils.update_bn semantics; fed the training augmentation, as update_bn usually is with the
 * training loader, the statistics match what the weights were trained on). */
void bn_recompute(Model *m, const Dataset *d, int batch, int batches, uint64_t seed, const Augment *aug);
/* The samples bn_recompute uses: batches x batch indices, batch-major (exposed for tests and tools). */
void bn_batch_indices(uint32_t *idx, const Dataset *d, int batch, int batches, uint64_t seed);

#endif
