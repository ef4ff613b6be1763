#!/usr/bin/env bash
# bootstrap.sh - sourced by run.sh and test.sh: installs the Debian packages spillway needs
# (only those missing) and configures + builds a build tree (incrementally).
#
#   sw_install_packages            apt-get install whatever of SW_PACKAGES is missing
#   sw_build DIR [CMAKE ARGS...]   configure DIR once, then build it (make skips what is done)
set -euo pipefail

SW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build tools, the libraries of DESIGN §1, hdf5-tools for h5dump, and the Python side of
# analysis/ (figures), and Slurm with munge for the sweep test's single-node cluster
# (tests/slurm/). Everything comes from Debian 12's archive.
SW_PACKAGES=(
  build-essential cmake pkg-config git
  libsimgrid-dev libhdf5-dev hdf5-tools libgsl-dev libcriterion-dev
  libzmq3-dev libyaml-dev libopenblas-dev libpcre2-dev libglpk-dev
  python3 python3-numpy python3-h5py python3-matplotlib
  slurm-wlm munge
  # tests/fuzz (sanitizer build): clang with libFuzzer, and clang's OpenMP for kernels/
  clang libclang-rt-14-dev libomp-14-dev
  # tests/net: network namespaces and veth pairs
  iproute2
)

sw_log() { printf '[spillway] %s\n' "$*" >&2; }

sw_install_packages() {
  local missing=() p
  for p in "${SW_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  sw_log "installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      sw_log "error: not root and no sudo; install these packages first: ${missing[*]}"
      exit 2
    fi
  fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

sw_build() {
  local dir=$1
  shift
  if [ ! -f "$SW_ROOT/$dir/CMakeCache.txt" ]; then
    sw_log "configuring $dir $*"
    cmake -S "$SW_ROOT" -B "$SW_ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
  sw_log "building $dir"
  cmake --build "$SW_ROOT/$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}
