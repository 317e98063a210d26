/* Slurm sends SIGUSR1 (--signal) before a time limit and SIGTERM on preemption/cancel: training loops poll
 * the flag, finish the step, write a resumable checkpoint and exit 3. */
#ifndef SWAP_SIGNALS_H
#define SWAP_SIGNALS_H

void signals_install(void);
int signals_pending(void);

#endif
