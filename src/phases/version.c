#include "phases/version.h"

#include <cblas.h>
#include <hdf5.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "comm/comm.h"

int phase_version(int argc, char **argv) {
    if (argc != 2 || strcmp(argv[1], "--version") != 0) return -1;
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    char mpi[256];
    comm_library_version(mpi, sizeof mpi);
    const char *blas = openblas_get_config();
    printf("%s %s\n", prog, SWAP_VERSION);
    printf("commit      %s\n", SWAP_GIT_COMMIT);
    printf("build_type  %s\n", SWAP_BUILD_TYPE);
    printf("compiler    %s\n", SWAP_COMPILER);
    printf("cflags      %s\n", SWAP_CFLAGS);
    printf("blas        %s\n", blas ? blas : "");
    printf("hdf5        %u.%u.%u\n", maj, min, rel);
    printf("mpi         %s\n", mpi);
    printf("lua         %s\n", LUA_RELEASE);
    return 0;
}
