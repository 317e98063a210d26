/* Slurm sends SIGUSR1 (--signal) before a time limit and SIGTERM on preemption/cancel; SIGINT and SIGHUP are
 * taken the same way: training loops poll the flag, finish the step, write a resumable checkpoint and exit 3.
 * signals_install is called again after MPI_Init: MPICH's UCX transport installs its own SIGHUP handler. */
#ifndef SWAP_SIGNALS_H
#define SWAP_SIGNALS_H

void signals_install(void);
int signals_pending(void);

#endif
