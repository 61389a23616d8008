#!/usr/bin/env bash
# Sets everything up, builds, and runs every test (unit tests and the interoperability suite
# against zarr-python, numcodecs and zarrita) through ctest; then the unit tests again under
# ASan+UBSan and the thread-heavy ones under TSan (scripts/sanitize.sh), and each libFuzzer
# target briefly plus a replay of its saved corpus (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 1800)
bash scripts/sanitize.sh asan
bash scripts/sanitize.sh tsan
bash scripts/fuzz.sh
