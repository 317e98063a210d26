/* Phase 3's measurements of candidate models: test and validation scores, the workers' output ensemble, and the
 * greedy soup (Wortsman et al. 2022) built on the validation split. */
#ifndef SWAP_PHASES_SOUP_H
#define SWAP_PHASES_SOUP_H
#include "phases/phase.h"

typedef struct {
    double loss, acc;
} Score;

typedef struct {
    int worker;
    double val_acc; /* of the soup with this worker added, BN recomputed */
    int kept;
} SoupStep;

typedef struct {
    int batch, bn_batch, bn_batches;
    uint64_t bn_seed;
    const Augment *bn_aug; /* NULL: plain images */
} SoupEval;

/* On the test set; probs (n x classes) receives the softmax outputs when not NULL. */
Score soup_score_test(Phase *p, Model *m, int batch, float *probs);
/* On the validation split (data.val_split); NaN without one. */
Score soup_score_val(Phase *p, Model *m, int batch, float *probs);
/* Ensemble accuracy: mean of the members' softmax outputs (summed in sum_probs, n x k). */
Score soup_ensemble_score(const double *sum_probs, const Dataset *d, int k, int members);
/* Path of worker i's phase-2 model. */
void soup_worker_path(Phase *p, char *path, size_t n, int worker);
/* Greedy soup: see soup.c. Leaves m holding the soup with BN recomputed; returns the number of members. */
int soup_greedy(Phase *p, Model *m, const int *have, const Score *wv, int W, const SoupEval *e, int *members,
                SoupStep *steps, int *n_steps, double *soup_val);

#endif
