#!/usr/bin/env bash
# Install the Debian packages the project needs, skipping those already present (idempotent).
#   scripts/dev/deps.sh          build + run (make demo)
#   scripts/dev/deps.sh --test   also what the tests need (make check)
set -euo pipefail
pkgs=(build-essential cmake pkg-config git libopenblas-dev libhdf5-dev hdf5-tools mpich libmpich-dev
      liblua5.4-dev lua5.4 lua-argparse lua-cjson zlib1g-dev libxxhash-dev libcjson-dev libdnnl-dev dataset-fashion-mnist gnuplot-nox
      python3 python3-h5py python3-numpy python3-pil)  # the last four: python/swap_data.py, the dataset converter
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(python3 python3-torch python3-h5py python3-numpy python3-onnx slurm-wlm munge iproute2 util-linux clang libclang-rt-14-dev
        shellcheck)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "deps: apt-get update failed; trying the cached package lists" >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
