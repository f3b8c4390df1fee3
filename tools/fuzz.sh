#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang in build-fuzz/ and runs
# each for a bounded time on a copy of its seed corpus (fuzz/corpus/<name>/),
# one after the other. Fails if the build fails or any harness finds
# something (crash, sanitizer report, leak, timeout, out-of-memory, or a
# hung run); prints per harness its executions, executions/s, coverage,
# corpus size and findings. Findings stay in build-fuzz/fuzz-run/<name>/.
#
#   tools/fuzz.sh [seconds-per-harness]      (default 60)
#
# Needs clang++ and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev;
# tools/deps.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/fuzz.sh [seconds-per-harness]" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: needs clang++ (Debian: clang libclang-rt-14-dev)" >&2
  exit 1
fi

harnesses=(batch remote_handle spawn_request node_message)
build=build-fuzz
jobs=$(nproc 2>/dev/null || echo 2)

# Options spelled out, so that a reused build-fuzz/ cannot carry others.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DBUILD_SHARED_LIBS=OFF \
  -DACTORFLOW_SANITIZERS_SKIP= \
  -DACTORFLOW_BUILD_FUZZERS=ON -DACTORFLOW_SANITIZERS=address,undefined \
  -DACTORFLOW_WARNINGS_AS_ERRORS=ON -DACTORFLOW_BUILD_TESTS=OFF \
  -DACTORFLOW_BUILD_EXAMPLES=OFF -DACTORFLOW_BUILD_TOOLS=OFF \
  -DACTORFLOW_BUILD_NODE=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target actorflow_fuzzers

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/ubsan.supp"
export ASAN_OPTIONS="detect_leaks=1"

# final_stat <log> <name>: the value of libFuzzer's final `stat::<name>:` line.
final_stat() {
  sed -n "s/^stat::$2: *//p" "$1" | tail -n 1
}

# last_cov <log>: the coverage libFuzzer reported last (none if it crashed
# on a seed).
last_cov() {
  { grep -o 'cov: [0-9]*' "$1" || true; } | tail -n 1 | cut -d' ' -f2
}

failed=()
printf '%-14s %12s %8s %6s %7s %9s\n' harness executions exec/s cov corpus findings
for h in "${harnesses[@]}"; do
  run="$build/fuzz-run/$h"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp -R "fuzz/corpus/$h/." "$run/corpus/"
  dict=()
  if [[ -f "fuzz/corpus/$h.dict" ]]; then
    dict=("-dict=fuzz/corpus/$h.dict")
  fi
  rc=0
  # -timeout: one input taking 10 s is a hang; `timeout` bounds the whole
  # run even if libFuzzer itself got stuck.
  timeout --kill-after=10 $((seconds + 120)) \
    "$build/fuzz/${h}_fuzz" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$run/artifacts/" "${dict[@]}" "$run/corpus" \
    >"$run/log" 2>&1 || rc=$?
  findings=$(find "$run/artifacts" -type f | wc -l)
  cov=$(last_cov "$run/log")
  printf '%-14s %12s %8s %6s %7s %9s\n' "$h" \
    "$(final_stat "$run/log" number_of_executed_units)" \
    "$(final_stat "$run/log" average_exec_per_sec)" "${cov:-?}" \
    "$(find "$run/corpus" -type f | wc -l)" "$findings"
  if [[ $rc -ne 0 || $findings -ne 0 ]]; then
    failed+=("$h")
    echo "--- $h: exit code $rc, findings in $run/artifacts; end of $run/log:"
    tail -n 40 "$run/log"
  fi
done

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#harnesses[@]} harnesses, ${seconds} s each, no findings"
