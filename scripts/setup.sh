#!/usr/bin/env bash
# Installs every dependency (Debian packages, npm test peers) and builds volbatch into build/.
# Run as root on Debian bookworm. Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git procps time strace util-linux
  zlib1g-dev libdeflate-dev libzstd-dev liblz4-dev libblosc-dev libbz2-dev liblzma-dev
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libtbb-dev
  libtiff-dev libpng-dev libgtest-dev libbenchmark-dev libcurl4-openssl-dev
  python3 python3-numpy python3-zarr python3-numcodecs python3-tifffile python3-pytest
  python3-dask python3-scipy libtorch-dev python3-torch libyaml-cpp-dev
  slurm-wlm slurmctld slurmd slurm-client munge openmpi-bin libopenmpi-dev
  openssh-server openssh-client python3-kubernetes python3-yaml
  pybind11-dev python3-dev python3-setuptools python3-pip python3-venv python3-wheel
  python3-distributed clang-14 libclang-rt-14-dev llvm-14
  chromium nginx-light python3-boto3 prometheus libhdf5-dev python3-h5py
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null; then missing+=(nodejs); fi
if ! command -v npm >/dev/null; then missing+=(npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The test peers on npm: zarrita (Zarr v3) and s3rver (a loopback S3 server).
if [ -f tests/interop/package.json ] && { [ ! -d tests/interop/node_modules/zarrita ] ||
    [ ! -d tests/interop/node_modules/s3rver ]; }; then
  (cd tests/interop && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Clones at different paths share cache entries.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
# -g puts the build directory into the objects; without this every clone misses the cache.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j"$(nproc)"
