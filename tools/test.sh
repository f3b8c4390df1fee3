#!/usr/bin/env bash
# Installs dependencies, builds actorflow in build/ (Release, warnings are
# errors) and runs the whole ctest suite. Safe to re-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
# Options are spelled out so that a reused build/ (e.g. from quickstart.sh or
# a hand configuration) cannot carry other cached values into the test run.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
  -DACTORFLOW_WARNINGS_AS_ERRORS=ON -DACTORFLOW_SANITIZERS= \
  -DACTORFLOW_BUILD_TESTS=ON -DACTORFLOW_BUILD_EXAMPLES=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
