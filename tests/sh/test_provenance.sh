#!/usr/bin/env bash
# Build provenance is the source tree at BUILD time: a checkpoint's git_commit is the commit the sources are at,
# with "-dirty" when tracked files differ from it (git_dirty = 1), as of the last build (make check builds first).
source "$(dirname "$0")/lib.sh"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
git -C "$SRC" rev-parse HEAD >/dev/null 2>&1 || skip "build provenance: $SRC is not a git checkout"
head=$(git -C "$SRC" rev-parse HEAD)
dirty=0; [ -z "$(git --no-optional-locks -C "$SRC" status --porcelain --untracked-files=no)" ] || dirty=1
"$TOOLS/make_ckpt" "$T/p.h5" > /dev/null || fail "make_ckpt"
read -r commit flag < <("$BIN/swap-inspect" "$T/p.h5" --json | /usr/bin/python3 -c \
  'import json,sys; d=json.load(sys.stdin); b=d["provenance"]; print(b["git_commit"], int(b["git_dirty"]))')
want=$head; [ $dirty = 0 ] || want="$head-dirty"
[ "$commit" = "$want" ] && [ "$flag" = "$dirty" ] \
  || fail "checkpoint records $commit (dirty=$flag), sources are at $want: built before the last commit/edit? rebuild"
ok "checkpoints record the commit at build time: $commit"
rm -rf "$T"
