#!/usr/bin/env bash
# Build provenance is the source tree at BUILD time: cmake/build_info.cmake (run by the swap_build_info target at
# every build) writes the commit the sources are at then, with "-dirty" when tracked files differ from it, and
# rewrites the header only when that changes (no needless recompiles); a checkpoint written by this build
# records the commit HEAD is at (make check builds right before testing).
source "$(dirname "$0")/lib.sh"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
command -v git >/dev/null || skip "build provenance: git not installed"

# 1. the script on a scratch repository: commit A, then commit B without reconfiguring, then an edit
R=$T/repo; mkdir -p "$R" && cd "$R"
git init -q . && git config user.email t@t && git config user.name t
echo one > f && git add f && git commit -qm A
gen() { cmake -DSRC="$R" -DIN="$SRC/src/core/build_info.h.in" -DOUT="$T/build_info.h" -DC_ID=GNU -DC_VERSION=0 \
          -DCFLAGS=-O2 -DBUILD_TYPE=Release -P "$SRC/cmake/build_info.cmake"; }
commit_in() { sed -n 's/^#define SWAP_GIT_COMMIT "\(.*\)"$/\1/p' "$T/build_info.h"; }
dirty_in() { sed -n 's/^#define SWAP_GIT_DIRTY \(.*\)$/\1/p' "$T/build_info.h"; }
gen; a=$(git rev-parse HEAD)
[ "$(commit_in)" = "$a" ] && [ "$(dirty_in)" = 0 ] || fail "clean tree at A: header says $(commit_in) dirty=$(dirty_in)"
touch -d '2000-01-01' "$T/build_info.h"; gen
[ "$(stat -c %Y "$T/build_info.h")" = "$(date -d 2000-01-01 +%s)" ] || fail "unchanged provenance rewrote the header"
echo two > f && git commit -qam B; gen; b=$(git rev-parse HEAD)
[ "$(commit_in)" = "$b" ] || fail "after commit B the header still says $(commit_in) (configure-time commit?)"
echo three > f; gen
[ "$(commit_in)" = "$b-dirty" ] && [ "$(dirty_in)" = 1 ] || fail "edited tree: header says $(commit_in) dirty=$(dirty_in)"
ok "the commit at build time, -dirty for uncommitted changes, header rewritten only when it changes"

# 2. this build's checkpoints carry it
cd "$T"
git -C "$SRC" rev-parse HEAD >/dev/null 2>&1 || skip "checkpoint provenance: $SRC is not a git checkout (part 1 passed)"
head=$(git -C "$SRC" rev-parse HEAD)
"$TOOLS/make_ckpt" "$T/p.h5" > /dev/null || fail "make_ckpt"
read -r commit flag < <("$BIN/swap-inspect" "$T/p.h5" --json | /usr/bin/python3 -c \
  'import json,sys; b=json.load(sys.stdin)["provenance"]; print(b["git_commit"], int(b["git_dirty"]))')
[ "${commit%-dirty}" = "$head" ] || fail "checkpoint records $commit, sources are at $head: built before the last commit? rebuild"
{ [ "$flag" = 1 ] && [ "$commit" = "$head-dirty" ]; } || { [ "$flag" = 0 ] && [ "$commit" = "$head" ]; } \
  || fail "git_commit $commit and git_dirty $flag disagree"
ok "checkpoints record the build's commit: $commit"
rm -rf "$T"
