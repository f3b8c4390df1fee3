#!/usr/bin/env bash
# Bounded memory across the wire at scale: runs the remote_wire_memory suite
# (tests/remote/wire_memory_test.cpp) with many items per case and prints
# each case's figures: items/s and the VmRSS of driver and node after the
# warm-up against their peak over the rest of the run.
#
#   tools/wire_memory.sh [--build DIR] [--items N] [--case NAME]
#
# Defaults: build/, 100000000 items, every case (a stopping driver sink, a
# stopping node stage, a link that delays every chunk by 2 ms). Builds
# nothing: cmake --build DIR --target remote_wire_memory actorflow_node
# test_stages. The exit code is 0 only if every case passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build
items=100000000
only=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --items) items="$2"; shift 2 ;;
    --case) only=(--run_test="wire_memory/$2"); shift 2 ;;
    --help|-h) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "wire_memory.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

suite="$build/tests/remote_wire_memory"
if [[ ! -x "$suite" ]]; then
  echo "wire_memory.sh: $suite not found (build the target remote_wire_memory)" >&2
  exit 2
fi
status=0
"$suite" --log_level=message --report_level=short "${only[@]}" \
  -- --items "$items" 2>&1 |
  sed 's/\x1b\[[0-9;]*m//g' | grep -avE '^actorflow_node: serving' ||
  status=$?
exit "$status"
