// This file is part of actorflow. See README.md for the project's license.
//
// w2_parallel/actorflow.cpp: the actorflow variants of the parallel
// workloads: (o) parallel_then, ordered, (u) parallel_then_unordered and (c)
// batch(K).parallel_then(f over each chunk).unbatch(), ordered.

#include "w2_parallel/w2.hpp"

namespace bench {

namespace {

actorflow::run_options af_options(const par_options& opt) {
  actorflow::run_options ro;
  if (opt.capacity != 0)
    ro.capacity = opt.capacity;
  ro.batch = opt.batch;
  return ro;
}

} // namespace

result run_af_ordered(caf::actor_system& sys, const par_options& opt,
                      const workload& w) {
  auto t0 = clock_type::now();
  auto h = actorflow::iota<uint64_t>(0, static_cast<uint64_t>(w.items))
             .parallel_then(
               opt.workers, [w](uint64_t x) { return work(w, x); }, opt.window)
             .fold(uint64_t{0},
                   [](uint64_t& acc, uint64_t y) { return acc * 31 + y; })
             .run(sys, af_options(opt));
  auto dt = seconds_since(t0);
  if (!h)
    die("variant o: pipeline failed: " + actorflow::to_string_any(h.error()));
  return {dt, *h};
}

result run_af_unordered(caf::actor_system& sys, const par_options& opt,
                        const workload& w) {
  auto t0 = clock_type::now();
  auto s = actorflow::iota<uint64_t>(0, static_cast<uint64_t>(w.items))
             .parallel_then_unordered(
               opt.workers, [w](uint64_t x) { return work(w, x); }, opt.window)
             .fold(uint64_t{0},
                   [](uint64_t& acc, uint64_t y) { return acc + y; })
             .run(sys, af_options(opt));
  auto dt = seconds_since(t0);
  if (!s)
    die("variant u: pipeline failed: " + actorflow::to_string_any(s.error()));
  return {dt, *s};
}

result run_af_chunked(caf::actor_system& sys, const par_options& opt,
                      const workload& w) {
  auto t0 = clock_type::now();
  auto h = actorflow::iota<uint64_t>(0, static_cast<uint64_t>(w.items))
             .batch(opt.chunk)
             .parallel_then(
               opt.workers,
               [w](std::vector<uint64_t> xs) {
                 for (auto& x : xs)
                   x = work(w, x);
                 return xs;
               },
               opt.window)
             .unbatch()
             .fold(uint64_t{0},
                   [](uint64_t& acc, uint64_t y) { return acc * 31 + y; })
             .run(sys, af_options(opt));
  auto dt = seconds_since(t0);
  if (!h)
    die("variant c: pipeline failed: " + actorflow::to_string_any(h.error()));
  return {dt, *h};
}

} // namespace bench
