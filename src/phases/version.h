/* `--version` of every executable: the version, then the build and libraries a checkpoint records
 * (git_commit, compiler, cflags, build_type, blas, hdf5_version, mpi_version; see docs/checkpoint-format.md). */
#ifndef SWAP_PHASES_VERSION_H
#define SWAP_PHASES_VERSION_H

/* Prints prog's version report to stdout and returns 0, when argv[1] is --version; else returns -1. */
int phase_version(int argc, char **argv);

#endif
