/* CPU_CLONES: the loops that are not oneDNN's or OpenBLAS's (batch norm, ReLU, pooling, residual adds, SGD) are
 * compiled three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and the build's baseline (x86-64-v2, so one
 * binary runs on every node of a cluster), and the loader picks one for the CPU it runs on (GCC's
 * target_clones: an ELF ifunc, resolved once; OpenMP's outlined loop bodies are cloned with their function).
 *
 * The clones compute bit-identical results, so a run resumed on another node, or a worker on a different CPU,
 * reproduces: floating-point contraction is off (-ffp-contract=off), nothing is reassociated (no -ffast-math),
 * and every reduction spells out its lanes in the source, so a wider vector changes only how many lanes one
 * instruction holds. tests/sh/test_cpu_clones.sh checks it against the sanitizer build, which is compiled
 * without clones (SWAP_NO_CLONES): its baseline loops must give the same bits. */
#ifndef SWAP_CLONES_H
#define SWAP_CLONES_H

/* CLONE_INLINE marks the helpers a CPU_CLONES function calls: GCC does not inline a function built for the
 * baseline into a clone built for another -march unless told to, and a helper left as a call per few elements
 * made the AVX-512 batch norm 3x slower than the baseline one. */
#define CLONE_INLINE static inline __attribute__((always_inline))

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(SWAP_NO_CLONES)
#define CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define CPU_CLONES_ON 1
#else
#define CPU_CLONES
#define CPU_CLONES_ON 0
#endif

/* The clone this CPU runs: "x86-64-v4", "x86-64-v3" or "baseline"; "baseline-only" in a build without clones. */
const char *cpu_clones_level(void);

#endif
