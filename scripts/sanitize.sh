#!/usr/bin/env bash
# The unit tests under sanitizers (issue 8): `asan` builds every layer and its unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs all of them (ctest -L
# unit); `tsan` builds the layers with ThreadSanitizer into build-tsan/ and runs the tests that
# run threads (the engine's pipeline, claims and ledger, concurrent store writes and the unit
# lock, the train layer's cache and loader threads, the exec layer's child processes). Any
# report fails the run. Expects the packages of scripts/setup.sh to be installed.
#
# -O1 -g1: about as fast to compile as -O0 and much faster to run, still one frame per call
# with file:line in reports; no -DNDEBUG, so asserts stay on.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  asan)
    sanitize="address,undefined"
    # UB is an error, not a warning that scrolls past. GCC's -Wmaybe-uninitialized misfires
    # under ASan's instrumentation (inside libstdc++'s <regex>); the normal build keeps it.
    extra_flags="-fno-sanitize-recover=undefined -Wno-maybe-uninitialized"
    ;;
  tsan)
    sanitize="thread"
    extra_flags=""
    ;;
  *)
    echo "usage: $0 asan|tsan" >&2
    exit 2
    ;;
esac
build="build-$mode"
supp="$PWD/scripts/sanitizers"

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="$extra_flags" -DCMAKE_C_FLAGS="$extra_flags" \
  -DVOLBATCH_SANITIZE="$sanitize" \
  -DVOLBATCH_WITH_TORCH=OFF -DVOLBATCH_WITH_PYTHON=OFF -DVOLBATCH_WITH_SUITES=OFF >/dev/null

# Only the unit-test executables (not the CLI, the benchmark or the fuzz targets). Builds are
# serialized with other heavy builds on this machine (the fuzzing build) by one lock.
# tsan: every test of the layers whose code runs threads (the engine's pipeline, claims and
# ledgers; the store's parallel unit reads and writes, unit lock and concurrent writers; the
# file store's concurrent sets and sweeps; the train layer's cache and loader threads), and the
# threaded tests of the others (ParallelFor, the sharding codec's parallel inner chunks, codecs
# used from two threads, the exec layer's command runner with its pipe threads).
whole_tsan=(engine_test store_test kvstore_test train_test)
picked_tsan=('^ParallelFor\.' '^Handed\.' '^Sharding' '^BytesCodecs\.ThreadsShareNothing$'
  '^RunCommand\.')
if [ "$mode" = asan ]; then
  targets=(core_test codec_test kvstore_test store_test tile_test ops_test engine_test exec_test
    train_test cli_test)
else
  targets=("${whole_tsan[@]}" core_test codec_test exec_test)
fi
flock /tmp/vb-build.lock ninja -C "$build" -j2 "${targets[@]}"

# Any report fails the test: ASan and TSan exit non-zero after a report, UBSan aborts at the
# first. ASan and UBSan need no suppressions; TSan's are for oneTBB only (see the file).
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"

cd "$build"
if [ "$mode" = asan ]; then
  ctest -L unit --output-on-failure -j2 --timeout 900
else
  # The suites of the whole binaries, read from the binaries themselves.
  suites=()
  for exe in "${whole_tsan[@]}"; do
    while read -r suite; do suites+=("^${suite%.}\\."); done \
      < <(./"$exe" --gtest_list_tests | awk '!/^ /{print $1}')
  done
  regex="$(IFS='|'; echo "${suites[*]}|${picked_tsan[*]}")"
  ctest -L unit --output-on-failure -j2 --timeout 900 -R "$regex"
fi
