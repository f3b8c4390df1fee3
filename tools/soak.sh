#!/usr/bin/env bash
# Runs chosen tests many times in a row to find (or rule out) flakes,
# optionally beside a CPU hog, and stops at the first failure.
#
#   tools/soak.sh [--build DIR] [--runs N] [--hog [K]] [--logs DIR]
#                 [ctest arguments...]
#   tools/soak.sh [--runs N] [--hog [K]] [--logs DIR] -- command [args...]
#
# The first form runs `ctest --test-dir DIR --output-on-failure <ctest
# arguments>` (e.g. -R 'remote_' or -L dist) N times; the second runs any
# command N times, e.g. one test case of a suite:
#
#   tools/soak.sh --runs 500 --hog -- build/tests/remote_failure \
#     --run_test=remote_failure/kill_9_beside_a_local_worker
#
# --hog K starts K busy loops (default 2, one per core of the CI machine)
# that compete with the tests for the CPU, so that the tests run preempted;
# they are killed by PID when the script ends, however it ends. The log of
# the failing run is kept (and its path printed); the logs of passing runs
# are not. The last line says "N passed, M failed"; the exit code is 0 only
# if every run passed.
set -euo pipefail

build=build
runs=100
hog=0
logs=""
cmd=()
ctest_args=()

usage() {
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --hog)
      if [[ $# -gt 1 && "$2" =~ ^[0-9]+$ ]]; then
        hog="$2"; shift 2
      else
        hog=2; shift
      fi ;;
    --logs) logs="$2"; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    --) shift; cmd=("$@"); break ;;
    *) ctest_args+=("$1"); shift ;;
  esac
done

if ! [[ "$runs" =~ ^[0-9]+$ ]] || [[ "$runs" -eq 0 ]]; then
  echo "soak.sh: --runs needs a positive number, got '$runs'" >&2
  exit 2
fi
if [[ ${#cmd[@]} -eq 0 ]]; then
  if [[ ! -f "$build/CTestTestfile.cmake" ]]; then
    echo "soak.sh: $build is not a configured build directory" >&2
    exit 2
  fi
  cmd=(ctest --test-dir "$build" --output-on-failure "${ctest_args[@]}")
elif [[ ${#ctest_args[@]} -gt 0 ]]; then
  echo "soak.sh: ctest arguments (${ctest_args[*]}) and a command given" >&2
  exit 2
fi
if [[ -z "$logs" ]]; then
  logs=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
fi
mkdir -p "$logs"

hog_pids=()
stop_hogs() {
  for pid in "${hog_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  hog_pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < hog; ++i)); do
  bash -c 'while :; do :; done' &
  hog_pids+=("$!")
done

echo "soak: ${cmd[*]}"
echo "soak: $runs runs, $hog hog process(es)${hog_pids[*]:+ (PIDs ${hog_pids[*]})}, logs in $logs"
passed=0
failed=0
start=$SECONDS
for ((run = 1; run <= runs; ++run)); do
  log="$logs/run-$run.log"
  if "${cmd[@]}" > "$log" 2>&1; then
    # ctest exits 0 when no test matched: that is no evidence.
    if grep -q "No tests were found" "$log"; then
      echo "soak: no test matched (${ctest_args[*]})" >&2
      failed=1
      break
    fi
    passed=$((passed + 1))
    rm -f "$log"
  else
    failed=$((failed + 1))
    echo "soak: run $run FAILED after $((SECONDS - start)) s; log: $log"
    grep -E "error|FAIL|WATCHDOG|Failed|\*\*\*" "$log" | head -20 || true
    break
  fi
  if ((run % 10 == 0)); then
    echo "soak: $run runs, $((SECONDS - start)) s"
  fi
done
stop_hogs
echo "soak: $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
