/* Communicating phase-2 modes, one member per MPI rank:
 *  WASH (Fournier et al. 2024): after every step, entry e of trainable tensor l (of L, network order) is
 *   picked with probability p_l = p * (1 - l/(L-1)) (p for every tensor when layer_decay is off), divided by
 *   (1 - 1/W) when scale_by_w (a permutation leaves an entry in place with probability 1/W), and the W members' values
 *   of each picked entry are permuted by a random permutation. Picks and permutations come from a stream
 *   keyed by (seed, step), identical on all ranks, so only values travel (one MPI_Alltoallv).
 *  PAPA: every K steps, w <- a*w + (1-a)*mean(w) over members (one MPI_Allreduce), (1-a) optionally scaled by
 *   lr/lr0.
 * Bytes sent per member are counted and reported next to what averaging all parameters every step costs. */
#ifndef SWAP_WASH_H
#define SWAP_WASH_H
#include "phases/trainer.h"

void wash_attach(TrainJob *j, const char *mode);
void wash_report(TrainJob *j);
/* This member's totals so far: bytes sent to other members, entries picked (WASH), hook calls. */
void wash_counters(const TrainJob *j, double *bytes_sent, double *picks, double *steps);


#endif
