#include "core/clones.h"

const char *cpu_clones_level(void) {
#if CPU_CLONES_ON
    /* the same tests, in the same order, as the ifunc resolvers of the CPU_CLONES functions */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
    return "baseline";
#else
    return "baseline-only";
#endif
}
