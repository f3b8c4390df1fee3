#!/usr/bin/env bash
# Runs the node-attack suite (tests/remote/node_attack_test.cpp) at larger
# sizes than ctest does and prints its figures: connections opened and
# dropped per second, milliseconds per short pipeline, and the node's RSS
# and open fds before and after each attack.
#
#   tools/node_attack.sh [BUILD_DIR] [CONNECTIONS] [PIPELINES] [RUNS]
#
# Defaults: build/, 10000 connections, 500 pipelines, 1 run. The suite must
# be built (cmake --build BUILD_DIR --target remote_node_attack).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${1:-build}
connections=${2:-10000}
pipelines=${3:-500}
runs=${4:-1}
suite="$build/tests/remote_node_attack"
if [[ ! -x "$suite" ]]; then
  echo "node_attack.sh: $suite not found (build the target remote_node_attack)" >&2
  exit 1
fi

# The suite's watchdog ends a test case after 60 s: 100000 connections and
# 5000 pipelines take about 13 s each on a loaded 2-core machine.
for ((run = 1; run <= runs; ++run)); do
  echo "=== run $run of $runs: $connections connections, $pipelines pipelines"
  ACTORFLOW_ATTACK_CONNECTIONS=$connections \
    ACTORFLOW_ATTACK_PIPELINES=$pipelines \
    "$suite" --log_level=message --report_level=short 2>&1 |
    grep -E "RSS|connections|pipelines|passed|failed|error" |
    sed 's/\x1b\[[0-9;]*m//g'
done
