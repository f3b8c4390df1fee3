#!/usr/bin/env bash
# Chaos run of a distributed pipeline: trial after trial, three nodes behind
# faulty links (delay, jitter, stalls, cuts), one node killed (kill -9) or
# stopped (SIGSTOP) at a random moment; every trial must give the sequential
# result in order, each item once, or `workers_lost` when no worker is left,
# and never hang. See tests/remote/chaos_test.cpp for what a trial picks.
#
#   tools/chaos.sh [--build DIR] [--trials N] [--seed S] [--items N]
#                  [--log FILE]
#
# Builds nothing: configure and build the test first, e.g.
#   cmake --build build --target remote_chaos actorflow_node test_stages
# The seed is random unless given, and printed; trial i uses seed S + i, so
# a failed trial runs again alone with `--trials 1 --seed <its seed>`. The
# summary lines (counts and recovery times) close the output; the exit code
# is 0 only if every trial passed.
set -euo pipefail

build=build
trials=200
seed=""
items=""
log=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --trials) trials="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --items) items="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --help|-h) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

exe="$build/tests/remote_chaos"
if [[ ! -x "$exe" ]]; then
  echo "chaos.sh: $exe not found: build the target remote_chaos first" >&2
  exit 2
fi
if [[ -z "$seed" ]]; then
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fi
args=(--trials "$trials" --seed "$seed")
if [[ -n "$items" ]]; then
  args+=(--items "$items")
fi
if [[ -z "$log" ]]; then
  log=$(mktemp "${TMPDIR:-/tmp}/chaos.XXXXXX.log")
fi

echo "chaos: $exe -- ${args[*]} (log: $log)"
status=0
"$exe" --log_level=message --report_level=short -- "${args[@]}" \
  > "$log" 2>&1 || status=$?
# The trials and the summary, without the nodes' start-up lines.
sed 's/\x1b\[[0-9;]*m//g' "$log" |
  grep -aE "^(trial|chaos)|error|WATCHDOG|\*\*\*" || true
exit "$status"
