/* Print the training-sample indices swap-average's BN recompute uses, one batch per line, so a test can replay
 * the same batches through torch.optim.swa_utils.update_bn.
 * usage: bn_order N_TRAIN BATCH BATCHES SEED   (SEED = the experiment's seed) */
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "phases/trainer.h"

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bn_order N_TRAIN BATCH BATCHES SEED\n");
        return 2;
    }
    Dataset d = {.n = atoi(argv[1])};
    int batch = atoi(argv[2]), batches = atoi(argv[3]);
    if (batch > d.n) batch = d.n;
    uint32_t *idx = xMalloc((size_t)batch * batches * sizeof *idx);
    bn_batch_indices(idx, &d, batch, batches, phase_seed(strtoull(argv[4], NULL, 10), 4, 0));
    for (int b = 0; b < batches; b++) {
        for (int i = 0; i < batch; i++) printf("%s%u", i ? " " : "", idx[(size_t)b * batch + i]);
        printf("\n");
    }
    free(idx);
    return 0;
}
