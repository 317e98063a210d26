/* Slurm sends SIGUSR1 (--signal) before a time limit and SIGTERM on preemption/cancel; SIGINT (Ctrl-C) and SIGHUP
 * (the terminal went away) mean the same: "finish the current step, write a resumable checkpoint, exit 3". */
#include <signal.h>
#include <string.h>

#include "phases/signals.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

void signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);  /* Ctrl-C: a checkpoint too */
    sigaction(SIGHUP, &sa, NULL);  /* a closed terminal or ssh session */
}

int signals_pending(void) { return g_stop != 0; }
