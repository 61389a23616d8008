#!/usr/bin/env bash
# Fuzzing with libFuzzer (issue 8; RELIABILITY.md "Fuzzing"). Builds the targets under fuzz/
# with clang 14, AddressSanitizer and UndefinedBehaviorSanitizer into build-fuzz/, then for each
# target replays its saved corpus (fuzz/corpus/<target>) and fuzzes it for
# $VOLBATCH_FUZZ_SECONDS seconds (default 30), two targets at a time, into a scratch copy of the
# corpus under build-fuzz/ so the repository is not modified. Prints one line per target
# (executions, coverage, corpus size, crashes) and exits non-zero on any crash, sanitizer
# report, leak, timeout or out-of-memory, naming the reproducer. Expects the packages of
# scripts/setup.sh to be installed.
#
#   bash scripts/fuzz.sh                   # CI: replay + 30 s per target
#   VOLBATCH_FUZZ_SECONDS=300 bash scripts/fuzz.sh --save    # longer, keep what it finds
#   bash scripts/fuzz.sh --replay-only     # the saved corpus only (regression check)
#   bash scripts/fuzz.sh roundtrip_fuzz key_path_fuzz        # some targets only
#
# --save merges the inputs that add coverage (and the reproducers of any findings) into
# fuzz/corpus/<target>/, minimized by libFuzzer's -merge.
# The body is one brace group, parsed whole before it runs, so editing this file while it runs
# (a long --save session) cannot garble the rest of the run.
{
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

seconds="${VOLBATCH_FUZZ_SECONDS:-30}"
jobs="${VOLBATCH_FUZZ_JOBS:-2}"
save=0
replay_only=0
selected=()
for arg in "$@"; do
  case "$arg" in
    --save) save=1 ;;
    --replay-only) replay_only=1 ;;
    -h | --help)
      sed -n '2,17p' "$0"
      exit 0
      ;;
    -*)
      echo "fuzz.sh: unknown option $arg" >&2
      exit 2
      ;;
    *) selected+=("$arg") ;;
  esac
done

all_targets=(
  gzip_decode_fuzz zlib_decode_fuzz zstd_decode_fuzz lz4_decode_fuzz n5_lz4_decode_fuzz
  bz2_decode_fuzz xz_decode_fuzz blosc_decode_fuzz crc32c_decode_fuzz bytes_decode_fuzz
  transpose_decode_fuzz sharding_indexed_decode_fuzz
  numcodecs.zlib_decode_fuzz numcodecs.gzip_decode_fuzz numcodecs.bz2_decode_fuzz
  numcodecs.lzma_decode_fuzz numcodecs.zstd_decode_fuzz numcodecs.lz4_decode_fuzz
  numcodecs.blosc_decode_fuzz numcodecs.crc32_decode_fuzz numcodecs.adler32_decode_fuzz
  numcodecs.fletcher32_decode_fuzz numcodecs.shuffle_decode_fuzz numcodecs.delta_decode_fuzz
  numcodecs.astype_decode_fuzz numcodecs.bitround_decode_fuzz
  numcodecs.fixedscaleoffset_decode_fuzz numcodecs.quantize_decode_fuzz
  numcodecs.packbits_decode_fuzz
  n5_block_header_fuzz shard_index_fuzz shard_read_fuzz
  n5_metadata_fuzz zarr2_metadata_fuzz zarr3_metadata_fuzz
  key_path_fuzz roundtrip_fuzz hdf5_attribute_fuzz
)
targets=("${all_targets[@]}")
if [ ${#selected[@]} -gt 0 ]; then targets=("${selected[@]}"); fi

# Longest input the fuzzer makes up, per target: big enough for the seeds' chunks, small
# enough to keep executions fast.
max_len() {
  case "$1" in
    key_path_fuzz) echo 512 ;;
    shard_index_fuzz | shard_read_fuzz) echo 2048 ;;
    *_metadata_fuzz | n5_block_header_fuzz | roundtrip_fuzz | hdf5_attribute_fuzz) echo 4096 ;;
    *) echo 16384 ;;
  esac
}

# A dictionary of the tokens a target's parser looks for, where one helps.
dict_option() {
  case "$1" in
    *_metadata_fuzz) echo "-dict=fuzz/metadata.dict" ;;
  esac
}

build=build-fuzz
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

start=$(date +%s)
# The libraries get libFuzzer's coverage instrumentation (fuzzer-no-link); fuzz/CMakeLists.txt
# links each target with -fsanitize=fuzzer. UB aborts like any other finding.
flags="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DVOLBATCH_FUZZ=ON -DVOLBATCH_SANITIZE=address,undefined \
  -DVOLBATCH_WITH_TORCH=OFF -DVOLBATCH_WITH_PYTHON=OFF -DVOLBATCH_WITH_SUITES=OFF >/dev/null
# Only the fuzz targets and the layers they link (core, codec, kvstore, store). Heavy builds on
# this machine are serialized by one lock.
flock /tmp/vb-build.lock ninja -C "$build" -j2 "${targets[@]}"
built=$(date +%s)

symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
if [ -n "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH="$symbolizer"; fi
# No suppressions: every report is a finding.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

work="$build/fuzz-run"
rm -rf "$work"
mkdir -p "$work"

# Runs one target; writes "<runs> <cov> <corpus> <crashes> <reproducer|->" to $work/<t>.result
# and libFuzzer's output to $work/<t>.replay.log and $work/<t>.fuzz.log.
run_target() {
  local t="$1"
  local exe="$build/fuzz/$t" saved="fuzz/corpus/$t" scratch="$work/$t.corpus"
  local artifacts="$work/$t.artifacts/"
  mkdir -p "$scratch" "$artifacts" "$saved"
  local crashes=0 reproducer=- runs=0 cov=0
  # 1. Replay: every saved input once (the reproducers of fixed defects among them).
  if ! "$exe" -runs=0 -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts" \
    "$saved" >"$work/$t.replay.log" 2>&1; then
    crashes=1
  fi
  # 2. Fuzz, into a copy of the saved corpus.
  if [ "$crashes" = 0 ] && [ "$replay_only" = 0 ] && [ "$seconds" -gt 0 ]; then
    cp -r "$saved/." "$scratch/"
    if ! "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -max_len="$(max_len "$t")" $(dict_option "$t") -print_final_stats=1 -artifact_prefix="$artifacts" \
      "$scratch" >"$work/$t.fuzz.log" 2>&1; then
      crashes=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$t.fuzz.log" | tail -1 |
      grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.fuzz.log" | tail -1 | grep -o '[0-9]*$' || true)
  else
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.replay.log" | tail -1 | grep -o '[0-9]*$' || true)
  fi
  if [ "$crashes" = 1 ]; then
    reproducer=$(grep -ho 'Test unit written to [^ ]*' "$work/$t".*.log | tail -1 |
      sed 's/Test unit written to //' || true)
    [ -n "$reproducer" ] || reproducer="(see $work/$t.*.log)"
  fi
  local corpus
  corpus=$(find "$saved" "$scratch" -type f -printf '%f\n' | sort -u | wc -l)
  if [ "$save" = 1 ]; then
    # Keep what adds coverage, and the reproducer of a finding (so it is replayed from now on).
    if [ "$crashes" = 0 ] && [ -n "$(ls -A "$scratch")" ]; then
      "$exe" -merge=1 -rss_limit_mb=2048 -timeout=10 "$saved" "$scratch" \
        >"$work/$t.merge.log" 2>&1 || true
    fi
    if [ -f "$reproducer" ]; then cp "$reproducer" "$saved/"; fi
    corpus=$(find "$saved" -type f | wc -l)
  fi
  echo "${runs:-0} ${cov:-0} $corpus $crashes $reproducer" >"$work/$t.result"
}

running=0
for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/$t" ]; then
    echo "fuzz.sh: no target $t" >&2
    exit 2
  fi
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
total_runs=0
printf '\n%-30s %12s %8s %8s %8s\n' target runs cov corpus crashes
for t in "${targets[@]}"; do
  read -r runs cov corpus crashes reproducer <"$work/$t.result"
  printf '%-30s %12s %8s %8s %8s\n' "$t" "$runs" "$cov" "$corpus" "$crashes"
  total_runs=$((total_runs + runs))
  if [ "$crashes" != 0 ]; then
    failed=1
    echo "  FINDING in $t: reproducer $reproducer; log $work/$t.fuzz.log (or .replay.log)"
    echo "  reproduce: $build/fuzz/$t $reproducer"
  fi
done
end=$(date +%s)
echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each, $total_runs executions;" \
  "build $((built - start)) s, total $((end - start)) s"
if [ "$failed" != 0 ]; then
  echo "fuzz.sh: FAILED (findings above)" >&2
  exit 1
fi
exit 0
}
