#!/usr/bin/env bash
# Runs actorflow's suites under ThreadSanitizer, against a TSan build of CAF
# (tools/tsan/build_caf.sh): every report fails its test, and
# tests/tsan.supp may name races inside CAF only.
#
#   tools/tsan/test.sh [ctest label regex]   (default: see below)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# The runtime and the stream DSL by default (labels channel, worker, flow,
# stats): CI's budget holds these. '^(channel|worker|flow|stats|dist)$' adds
# the distribution suites that run without TLS.
labels="${1:-^(channel|worker|flow|stats)$}"

prefix="$PWD/build-tsan-caf/prefix"
bash tools/tsan/build_caf.sh "$prefix"

jobs=$(nproc 2>/dev/null || echo 2)
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# TLS off: CAF's OpenSSL module comes from Debian only, and mixing it with
# the instrumented libcaf_io would load two copies of CAF.
cmake -S . -B build-tsan "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCAF_ROOT="$prefix" -DACTORFLOW_TLS=OFF \
  -DACTORFLOW_SANITIZERS=thread -DACTORFLOW_WARNINGS_AS_ERRORS=ON \
  -DACTORFLOW_BUILD_EXAMPLES=OFF -DACTORFLOW_BUILD_TOOLS=OFF
# Only the suites that run (a distribution suite depends on its peers).
mapfile -t suites < <(ctest --test-dir build-tsan -N -L "$labels" |
  grep -v '(Disabled)' | sed -n 's/^ *Test *#[0-9]*: *//p')
cmake --build build-tsan -j"$jobs" --target "${suites[@]}"
ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L "$labels"
