#!/usr/bin/env bash
# Fetch CIFAR-10 and/or CIFAR-100 (binary versions) and verify them.
#
#   datasets/get-cifar.sh [--dest DIR] [--from PATH] [cifar10] [cifar100]
#
# Without --from, downloads the official tarballs from https://www.cs.toronto.edu/~kriz/, checks their MD5,
# extracts them and checks the MD5 of every extracted .bin file. With --from PATH, takes a local copy instead:
# PATH may be a tarball, a folder holding the tarball, the extracted folder (cifar-10-batches-bin,
# cifar-100-binary) or its parent; the same per-file checks apply. Results land in DEST/cifar-10-batches-bin
# and DEST/cifar-100-binary (DEST defaults to the datasets/ folder beside this script); pass either DEST or
# the folder itself as data_dir. Everything is staged in a temporary folder inside DEST and renamed into place
# only after it verifies, so a failed or interrupted run leaves nothing under the final name.
# Exit status: 0 ok, 1 download/verification failure, 2 bad usage.
set -euo pipefail

prog=get-cifar.sh
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() {
    sed -n '4p' "$0" | sed 's/^#   //' >&2
    exit 2
}

dest="$(cd "$(dirname "$0")" && pwd)"
from=""
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --dest) [ $# -ge 2 ] || usage; dest="$2"; shift 2 ;;
    --from) [ $# -ge 2 ] || usage; from="$2"; shift 2 ;;
    cifar10 | cifar100) targets+=("$1"); shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$prog: unknown argument '$1'" >&2; usage ;;
    esac
done

# Official tarball MD5s (cs.toronto.edu/~kriz/cifar.html) and per-file MD5s of their contents.
# CIFAR-10 file sums match the MD5SUMS shipped with the project's shared copy; CIFAR-100 file sums are the
# widely listed values for the official archive (train.bin 153,700,000 B, test.bin 30,740,000 B).
declare -A TAR_MD5=(
    [cifar10]=c32a1d4ab5d03f1284b67883e8d87530
    [cifar100]=03b5dce01913d631647c71ecec9e9cb8
)
declare -A TAR_NAME=([cifar10]=cifar-10-binary.tar.gz [cifar100]=cifar-100-binary.tar.gz)
declare -A SUBDIR=([cifar10]=cifar-10-batches-bin [cifar100]=cifar-100-binary)
declare -A KEYFILE=([cifar10]=data_batch_1.bin [cifar100]=train.bin)
declare -A EXTRAS=([cifar10]="batches.meta.txt readme.html" [cifar100]="coarse_label_names.txt fine_label_names.txt")
declare -A FILES=(
    [cifar10]="data_batch_1.bin:5dd7e06a14cb22eb9f671a540d1b7c25:30730000
data_batch_2.bin:5ea93a67294ea407fff1d09f752e9692:30730000
data_batch_3.bin:942cd6a4bcdd0dd3c604fbe906cb4421:30730000
data_batch_4.bin:ae636b3ba5c66a11e91e8cb52e771fcb:30730000
data_batch_5.bin:53f37980c15c3d472c316c40844f3f0d:30730000
test_batch.bin:803d5f7f4d78ea53de84dbe85f74fb6d:30730000"
    [cifar100]="train.bin:6172c7755cfe09b2fe270c85cebc1b15:153700000
test.bin:4499cfba6c016c1be1438163640a0898:30740000"
)
URL_BASE=https://www.cs.toronto.edu/~kriz

command -v md5sum >/dev/null || die "md5sum not found (coreutils)"
md5_of() { md5sum "$1" | cut -d' ' -f1; }

stages=()
cleanup() { for s in "${stages[@]}"; do [ -n "$s" ] && rm -rf -- "$s"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every listed .bin file present, of the right size and MD5; prints the first problem as "FILE: what".
verify_dir() {
    local kind="$1" dir="$2" line name sum size got
    while IFS= read -r line; do
        IFS=: read -r name sum size <<<"$line"
        [ -f "$dir/$name" ] || { echo "$name: missing"; return 1; }
        got=$(stat -c %s "$dir/$name")
        [ "$got" = "$size" ] || { echo "$name: size $got, expected $size"; return 1; }
        got=$(md5_of "$dir/$name")
        [ "$got" = "$sum" ] || { echo "$name: MD5 mismatch (got $got, expected $sum)"; return 1; }
    done <<<"${FILES[$kind]}"
}

check_tar() {
    local kind="$1" tarball="$2" got
    got=$(md5_of "$tarball")
    [ "$got" = "${TAR_MD5[$kind]}" ] ||
        die "$tarball: MD5 mismatch (got $got, expected ${TAR_MD5[$kind]}); not the official ${TAR_NAME[$kind]}"
}

download() {
    local url="$1" out="$2"
    if command -v curl >/dev/null; then
        curl -fL --retry 3 --connect-timeout 30 -o "$out" "$url" || die "$url: download failed"
    elif command -v wget >/dev/null; then
        wget -q --tries=3 -O "$out" "$url" || die "$url: download failed"
    else
        die "neither curl nor wget is installed; download $url by hand and use --from"
    fi
}

# Where in --from PATH the data of this kind is: prints "tar FILE" or "dir DIR", or nothing.
locate_from() {
    local kind="$1" sub="${SUBDIR[$1]}" tarname="${TAR_NAME[$1]}"
    if [ -f "$from" ]; then
        case "$(basename "$from")" in "$tarname") echo "tar $from" ;; esac
    elif [ -f "$from/${KEYFILE[$kind]}" ]; then echo "dir $from"
    elif [ -f "$from/$sub/${KEYFILE[$kind]}" ]; then echo "dir $from/$sub"
    elif [ -f "$from/$tarname" ]; then echo "tar $from/$tarname"
    fi
}

install_one() {
    local kind="$1" sub="${SUBDIR[$1]}" final="$dest/${SUBDIR[$1]}" problem src how stage f origin
    if [ -e "$final" ]; then
        if problem=$(verify_dir "$kind" "$final"); then
            echo "$prog: $final already present and verified"
            return 0
        fi
        die "$final/$problem; the existing copy does not verify: remove it and rerun"
    fi
    stage=$(mktemp -d "$dest/.get-cifar.XXXXXX") || die "$dest: cannot create a staging folder"
    stages+=("$stage")
    if [ -n "$from" ]; then
        src=$(locate_from "$kind")
        [ -n "$src" ] || die "$from: no ${KEYFILE[$kind]} or ${TAR_NAME[$kind]} found for $kind"
        how=${src%% *}
        src=${src#* }
        origin="$src/"
        if [ "$how" = dir ]; then
            mkdir "$stage/$sub"
            while IFS= read -r f; do
                f=${f%%:*}
                [ -f "$src/$f" ] || die "$src/$f: missing"
                { cp -- "$src/$f" "$stage/$sub/" && chmod 0644 "$stage/$sub/$f"; } || die "$src/$f: copy failed"
            done <<<"${FILES[$kind]}"
            for f in ${EXTRAS[$kind]}; do [ -f "$src/$f" ] && cp -- "$src/$f" "$stage/$sub/"; done
        else
            origin="$src: $sub/"
            check_tar "$kind" "$src"
            tar -xzf "$src" -C "$stage" || die "$src: extraction failed"
        fi
    else
        origin="$URL_BASE/${TAR_NAME[$kind]}: $sub/"
        echo "$prog: downloading $URL_BASE/${TAR_NAME[$kind]}"
        download "$URL_BASE/${TAR_NAME[$kind]}" "$stage/${TAR_NAME[$kind]}"
        check_tar "$kind" "$stage/${TAR_NAME[$kind]}"
        tar -xzf "$stage/${TAR_NAME[$kind]}" -C "$stage" || die "${TAR_NAME[$kind]}: extraction failed"
        rm -f -- "$stage/${TAR_NAME[$kind]}"
    fi
    [ -d "$stage/$sub" ] || die "${TAR_NAME[$kind]}: archive has no $sub/ folder"
    problem=$(verify_dir "$kind" "$stage/$sub") || die "$origin$problem"
    (cd "$stage/$sub" && md5sum -- *.bin >MD5SUMS)
    mv -T -- "$stage/$sub" "$final" || die "$final: cannot move the verified copy into place"
    rm -rf -- "$stage"
    echo "$prog: $kind ready in $final"
}

if [ ${#targets[@]} -eq 0 ]; then
    if [ -n "$from" ]; then
        for k in cifar10 cifar100; do [ -n "$(locate_from "$k")" ] && targets+=("$k"); done
        [ ${#targets[@]} -gt 0 ] || die "$from: no CIFAR-10 or CIFAR-100 binary files or tarballs found"
    else
        targets=(cifar10 cifar100)
    fi
fi
mkdir -p -- "$dest" || die "$dest: cannot create"
dest="$(cd "$dest" && pwd)"
for k in "${targets[@]}"; do install_one "$k"; done
