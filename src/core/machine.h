/* The machine a result was measured on, in one line: results quote speeds and times, and a hostname ("vm",
 * "node042") does not say what CPU made them. Recorded in checkpoints (root attribute `cpu`) and summaries. */
#ifndef SWAP_MACHINE_H
#define SWAP_MACHINE_H
#include <stddef.h>

/* "AMD EPYC (family 26, model 2), 2 CPUs" from /proc/cpuinfo and the online CPU count; "unknown CPU, N
 * CPUs" where /proc/cpuinfo has no model name. Always NUL-terminated. */
void machine_cpu(char *buf, size_t n);

#endif
