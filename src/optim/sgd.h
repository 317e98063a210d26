/* SGD with momentum, Nesterov option and coupled L2 weight decay — torch.optim.SGD semantics (dampening 0):
 *   d = g + wd*p;  buf = mu*buf + d;  d = nesterov ? d + mu*buf : buf;  p -= lr*d
 * Runs over the flat parameter store: one loop over tensors, no allocation. */
#ifndef SWAP_SGD_H
#define SWAP_SGD_H
#include "core/params.h"

typedef struct {
    float momentum;
    int nesterov;
    float weight_decay;
    int decay_bn_and_bias; /* 0: exempt BN affine parameters and biases from weight decay */
} SgdConfig;

void sgd_step(ParamStore *ps, const SgdConfig *c, float lr);
void sgd_zero_grad(ParamStore *ps);

#endif
