#!/usr/bin/env bash
# The benchmark suite in one command (see README, "Benchmark
# suite"): builds bench_suite and bench_remote (Release) in $BUILD_DIR
# (default: build/) and runs every workload (W1-W4, M1, S1, D1), writing
# docs/benchmarks/README.md and docs/benchmarks/*.svg. About 4-5 minutes on 2
# cores.
#
#   bash tools/bench_suite.sh            # full run, updates docs/benchmarks/
#   bash tools/bench_suite.sh --quick    # smoke run (~15-30 s), written to
#                                        # $BUILD_DIR/bench-quick/
#
# Other arguments go to bench_suite (--scale S, --runs R, --only w1,m1, --out
# DIR, CAF options such as --scheduler.max-threads=2); see
# `build/benchmarks/bench_suite --help`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
out=$root/docs/benchmarks
for arg in "$@"; do
  if [ "$arg" = --quick ]; then
    out=$build/bench-quick
  fi
done
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" --target bench_suite bench_remote -j2
cd "$root"
cmd="bash tools/bench_suite.sh"
for arg in "$@"; do
  cmd+=" $(printf '%q' "$arg")"
done
exec "$build/benchmarks/bench_suite" --out "$out" --command "$cmd" "$@"
