/* Seeded, portable RNG (xoshiro256**, seeded through splitmix64). Streams are derived from a tuple of keys,
 * e.g. (seed, epoch, worker), so data order is reproducible per worker and epoch independent of history.
 * The state is 4 words and is saved in checkpoints. */
#ifndef SWAP_RNG_H
#define SWAP_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

/* Stream tags keep derived streams apart even when the numeric keys coincide. */
enum { RNG_INIT = 1, RNG_SHUFFLE = 2, RNG_AUGMENT = 3, RNG_WASH = 4, RNG_BENCH = 5, RNG_SUBSET = 6, RNG_SPLIT = 7,
       RNG_CHUNKS = 8 };

void rng_seed(Rng *r, uint64_t seed);
/* Independent stream keyed by (seed, tag, a, b). */
void rng_stream(Rng *r, uint64_t seed, uint64_t tag, uint64_t a, uint64_t b);
uint64_t rng_u64(Rng *r);
uint32_t rng_below(Rng *r, uint32_t n); /* uniform in [0, n), unbiased; n > 0 */
float rng_uniform(Rng *r);             /* [0, 1) with 24 random bits */
double rng_uniform_double(Rng *r);     /* [0, 1) with 53 random bits */
float rng_normal(Rng *r);
void rng_permutation(Rng *r, uint32_t *perm, size_t n); /* Fisher-Yates over 0..n-1 */

#endif
