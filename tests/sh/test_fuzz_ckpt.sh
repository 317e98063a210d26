#!/usr/bin/env bash
# Fuzz the checkpoint loader for a bounded time (FUZZ_SECONDS, default 30) with libFuzzer + ASan/UBSan, seeded
# with real checkpoints. Built here with clang directly; skipped when clang or libFuzzer is unavailable.
source "$(dirname "$0")/lib.sh"
SECONDS_BUDGET=${FUZZ_SECONDS:-30}
command -v clang >/dev/null || skip "checkpoint fuzzing: clang not installed (Debian package clang)"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$T/probe.c"
clang -fsanitize=fuzzer "$T/probe.c" -o "$T/probe" 2>/dev/null || skip "checkpoint fuzzing: clang cannot link libFuzzer (Debian package libclang-rt-14-dev)"

HDF5_CFLAGS=$(pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS=$(pkg-config --libs hdf5 2>/dev/null || echo "-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5")
HDF5_LIBDIR=$(echo "$HDF5_LIBS" | tr ' ' '\n' | sed -n 's/^-L//p' | head -1)
BLAS_CFLAGS=$(pkg-config --cflags openblas)
BLAS_LIBS=$(pkg-config --libs openblas)
mkdir -p "$T/gen"
cat > "$T/gen/build_info.h" <<H
#define SWAP_GIT_COMMIT "fuzz"
#define SWAP_GIT_DIRTY 0
#define SWAP_COMPILER "clang"
#define SWAP_CFLAGS "-fsanitize=fuzzer,address,undefined"
#define SWAP_BUILD_TYPE "Fuzz"
H
# the checkpoint reader expands a 1.1 file's preset name through the Lua presets (src/config)
SRCS=("$SRC"/src/ckpt/*.c "$SRC"/src/core/*.c "$SRC"/src/nn/*.c "$SRC"/src/config/presets.c "$SRC"/src/config/config.c)
LUA_CFLAGS=$(pkg-config --cflags lua5.4)
LUA_LIBS=$(pkg-config --libs lua5.4)
clang -std=c11 -O1 -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -fopenmp -I"$SRC/src" -I"$T/gen" $HDF5_CFLAGS $BLAS_CFLAGS $LUA_CFLAGS -DSWAP_LUA_DIR="\"$SRC/lua\"" \
  "$SRC/tests/fuzz/fuzz_ckpt_load.c" "${SRCS[@]}" -o "$T/fuzz_ckpt_load" \
  $HDF5_LIBS ${HDF5_LIBDIR:+-L$HDF5_LIBDIR} -lhdf5_hl -lxxhash -lcjson $BLAS_LIBS $LUA_LIBS -lm 2> "$T/build.log" \
  || { cat "$T/build.log"; fail "fuzz target does not build"; }
ok "fuzz target built"

# seeds: real checkpoints of each model, with and without momentum and metadata
mkdir -p "$T/corpus"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
[ -x "$TOOLS/make_ckpt" ] || fail "make_ckpt tool missing ($TOOLS)"
"$TOOLS/make_ckpt" "$T/corpus/cnn.h5" --history 3 --momentum
"$TOOLS/make_ckpt" "$T/corpus/mlp.h5" --model mlp --in 1 8 8 --classes 3
"$TOOLS/make_ckpt" "$T/corpus/r9.h5" --model resnet9 --in 3 8 8 --width 1 --classes 2 --parent "$T/corpus/mlp.h5"

cd "$T"
# HDF5 1.10.8 itself leaks a few bytes on some corrupt files (reproduced with H5Fopen + H5Gopen2 + H5Fclose
# alone); leaks allocated inside libhdf5 are suppressed, leaks of our own allocations still fail the run.
echo "leak:libhdf5" > lsan.supp
set +e
LSAN_OPTIONS=suppressions=$T/lsan.supp ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  ./fuzz_ckpt_load -max_total_time="$SECONDS_BUDGET" -max_len=600000 -rss_limit_mb=2048 -timeout=20 \
  -print_final_stats=1 corpus > fuzz.log 2>&1
rc=$?
set -e
tail -5 fuzz.log
[ $rc -eq 0 ] || { grep -m1 -A30 "ERROR\|==ERROR\|deadly\|runtime error" fuzz.log; fail "fuzzer found a problem (exit $rc); crash input in $T"; }
runs=$(sed -n 's/.*stat::number_of_executed_units: *//p' fuzz.log)
[ "${runs:-0}" -gt 100 ] || fail "fuzzer ran only ${runs:-0} inputs"
ok "fuzzed the loader for ${SECONDS_BUDGET}s: $runs inputs, no crash"
