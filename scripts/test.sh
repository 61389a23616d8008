#!/usr/bin/env bash
# Sets everything up, builds, and runs every test (unit tests and the interoperability suite
# against zarr-python, numcodecs and zarrita) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 1800
