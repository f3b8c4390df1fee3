#!/usr/bin/env bash
# Quick start: install dependencies, build the library and the flagship
# example (Release) in build/, and run it. Builds nothing else, so the first
# output comes in minutes; tools/test.sh builds and runs everything. Safe to
# re-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs" --target wordfreq

example=build/examples/wordfreq
input=/usr/include
if [[ -x "$example" ]]; then
  if [[ -d "$input" ]]; then
    echo "== $example $input"
    "$example" "$input"
  else
    echo "== $example"
    "$example"
  fi
else
  echo "note: $example does not exist yet; the build itself succeeded."
fi
