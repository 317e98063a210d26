#!/usr/bin/env bash
# datasets/get-cifar.sh --from: a good local CIFAR-10 copy installs and verifies (and a rerun is a no-op);
# a copy with one flipped byte, or a tarball that is not the official one, is rejected with a one-line error
# naming the file, a non-zero exit, and nothing left in the destination. Skips if no local CIFAR-10 exists.
set -uo pipefail
root="${SWAP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$root/datasets/get-cifar.sh"
src=""
# main checkout: <work>/main beside <work>/shared; worktrees sit one level deeper
for c in "$root/../shared/datasets/cifar-10-batches-bin" "$root/../../shared/datasets/cifar-10-batches-bin"; do
    if [ -f "$c/test_batch.bin" ]; then src="$c"; break; fi
done
if [ -z "$src" ]; then
    echo "SKIP: datasets/get-cifar.sh --from: no local CIFAR-10 copy at $root/../shared/datasets/cifar-10-batches-bin"
    exit 77
fi
tmp="${SWAP_TEST_TMP:-/tmp}/get_cifar.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
leftovers() { find "$1" -maxdepth 1 -name '.get-cifar.*' | wc -l; }

# 1. good copy
if ! bash "$script" --from "$src" --dest "$tmp/ok" cifar10 >"$tmp/out1" 2>&1; then
    fail "install from $src failed: $(cat "$tmp/out1")"
fi
for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
    cmp -s "$src/$f" "$tmp/ok/cifar-10-batches-bin/$f" || fail "$f not copied intact"
done
[ "$(leftovers "$tmp/ok")" = 0 ] || fail "staging folder left behind after success"
# 2. rerun: verified in place, nothing copied
bash "$script" --from "$src" --dest "$tmp/ok" cifar10 >"$tmp/out2" 2>&1 || fail "rerun failed: $(cat "$tmp/out2")"
grep -q "already present and verified" "$tmp/out2" || fail "rerun did not verify in place: $(cat "$tmp/out2")"

# 3. one flipped byte in data_batch_3.bin
mkdir -p "$tmp/bad/cifar-10-batches-bin"
cp "$src"/*.bin "$tmp/bad/cifar-10-batches-bin/"
chmod u+w "$tmp/bad/cifar-10-batches-bin/"*.bin
f="$tmp/bad/cifar-10-batches-bin/data_batch_3.bin"
off=1234567
b=$(od -An -tu1 -j $off -N1 "$f" | tr -d ' ')
printf '%b' "\\$(printf %03o $((b ^ 255)))" | dd of="$f" bs=1 seek=$off conv=notrunc status=none
cmp -s "$f" "$src/data_batch_3.bin" && fail "byte flip did not take"
bash "$script" --from "$tmp/bad" --dest "$tmp/out" cifar10 >"$tmp/out3" 2>"$tmp/err3"
rc=$?
[ $rc -ne 0 ] || fail "corrupted copy accepted"
[ "$(wc -l <"$tmp/err3")" = 1 ] || fail "expected one error line, got: $(cat "$tmp/err3")"
grep -q "data_batch_3.bin: MD5 mismatch" "$tmp/err3" || fail "error does not name the bad file: $(cat "$tmp/err3")"
[ ! -e "$tmp/out/cifar-10-batches-bin" ] || fail "corrupted copy installed under the final name"
[ "$(leftovers "$tmp/out")" = 0 ] || fail "staging folder left behind after failure"
echo "rejected as expected: $(cat "$tmp/err3")"

# 4. a tarball that is not the official one
mkdir -p "$tmp/tb"
echo "not cifar" | gzip >"$tmp/tb/cifar-10-binary.tar.gz"
bash "$script" --from "$tmp/tb" --dest "$tmp/out" cifar10 >/dev/null 2>"$tmp/err4" && fail "bogus tarball accepted"
grep -q "cifar-10-binary.tar.gz: MD5 mismatch" "$tmp/err4" || fail "bogus tarball error: $(cat "$tmp/err4")"
if [ -e "$tmp/out/cifar-10-batches-bin" ] || [ "$(leftovers "$tmp/out")" != 0 ]; then fail "bogus tarball left files"; fi

# 5. an existing but damaged install is reported, not silently kept or replaced
cp "$f" "$tmp/ok/cifar-10-batches-bin/data_batch_3.bin"
bash "$script" --from "$src" --dest "$tmp/ok" cifar10 >/dev/null 2>"$tmp/err5" && fail "damaged install accepted"
grep -q "data_batch_3.bin: MD5 mismatch" "$tmp/err5" || fail "damaged install error: $(cat "$tmp/err5")"

# 6. usage errors exit 2
bash "$script" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown option should exit 2"

if [ $fails -ne 0 ]; then echo "test_get_cifar: $fails failures"; exit 1; fi
echo "test_get_cifar: ok"
