// This file is part of actorflow. See README.md for the project's license.
//
// w2_parallel/w2.hpp: the variants of the parallel workloads W2/W3/W4 (source
// 0..N-1 -> f on n workers -> checksum, f = calibrated hash_work), shared by
// bench_parallel and bench_suite. Each run_* function times one run and
// returns its checksum; the caller compares it with `sequential`.

#pragma once

#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include "common.hpp"

namespace bench {

/// Settings of the parallel variants.
struct par_options {
  /// Parallel workers / TBB threads.
  size_t workers = 2;
  /// Window argument of parallel_then (0: the library's choice).
  size_t window = 0;
  /// run_options.capacity (0: the library's choice by item size).
  size_t capacity = 0;
  /// run_options.batch (0: the library's choice).
  uint32_t batch = 0;
  /// TBB max_number_of_live_tokens.
  size_t tbb_tokens = 8;
  /// Items per chunk of the chunked variant.
  size_t chunk = 64;
};

struct checksum {
  uint64_t ordered = 0; // h = h*31 + f(x) in output order
  uint64_t sum = 0;     // sum of f(x)
};

// -- variants -----------------------------------------------------------------

struct workload {
  double us;
  uint32_t iters;
  int64_t items;
  /// Every 100th item (x % 100 == 0) costs `skew` times `iters` (1: uniform).
  uint32_t skew = 1;
};

/// f(x) of workload `w`.
inline uint64_t work(const workload& w, uint64_t x) {
  return hash_work(x, x % 100 == 0 ? w.iters * w.skew : w.iters);
}

/// Sequential CPU work of `w` in units of one uniform item.
inline double work_units(const workload& w) {
  auto slow = (w.items + 99) / 100;
  return static_cast<double>(w.items - slow)
         + static_cast<double>(slow) * w.skew;
}

struct result {
  double seconds;
  uint64_t value; // the checksum this variant computes
};

/// The sequential loop over items [first, last); it computes both
/// checksums.
inline checksum sequential(const workload& w, int64_t first, int64_t last) {
  checksum c;
  for (auto x = first; x < last; ++x) {
    auto y = work(w, static_cast<uint64_t>(x));
    c.ordered = c.ordered * 31 + y;
    c.sum += y;
  }
  return c;
}

/// The sequential loop over all items (the reference every other variant is
/// checked against).
inline checksum sequential(const workload& w) {
  return sequential(w, 0, w.items);
}

/// The machine's ceiling: n threads each run the sequential loop over a
/// contiguous 1/n of the items at once, with no communication at all. Its
/// efficiency is what n busy cores give over one here (shared caches,
/// SMT siblings and turbo make it less than 1); returns the sum of f(x).
inline result run_independent(const par_options& opt, const workload& w) {
  auto n = std::max<size_t>(1, opt.workers);
  std::vector<uint64_t> sums(n, 0);
  std::vector<std::thread> threads;
  auto t0 = clock_type::now();
  for (size_t t = 0; t < n; ++t) {
    auto first = w.items * static_cast<int64_t>(t) / static_cast<int64_t>(n);
    auto last = w.items * static_cast<int64_t>(t + 1) / static_cast<int64_t>(n);
    threads.emplace_back([&w, &sums, t, first, last] {
      sums[t] = sequential(w, first, last).sum;
    });
  }
  for (auto& th : threads)
    th.join();
  auto dt = seconds_since(t0);
  uint64_t sum = 0;
  for (auto s : sums)
    sum += s;
  return {dt, sum};
}

inline actorflow::run_options af_options(const par_options& opt) {
  actorflow::run_options ro;
  if (opt.capacity != 0)
    ro.capacity = opt.capacity;
  ro.batch = opt.batch;
  return ro;
}

inline result run_af_ordered(caf::actor_system& sys, const par_options& opt,
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

inline result run_af_unordered(caf::actor_system& sys, const par_options& opt,
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

inline result run_af_chunked(caf::actor_system& sys, const par_options& opt,
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

inline result run_tbb(tbb::task_arena& arena, const par_options& opt,
                      const workload& w) {
  using tbb::filter_mode;
  auto t0 = clock_type::now();
  uint64_t next = 0;
  auto n = static_cast<uint64_t>(w.items);
  uint64_t h = 0;
  arena.execute([&] {
    tbb::parallel_pipeline(
      opt.tbb_tokens,
      tbb::make_filter<void, uint64_t>(filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) {
                                         if (next >= n) {
                                           fc.stop();
                                           return uint64_t{0};
                                         }
                                         return next++;
                                       })
        & tbb::make_filter<uint64_t, uint64_t>(
          filter_mode::parallel, [w](uint64_t x) { return work(w, x); })
        & tbb::make_filter<uint64_t, void>(
          filter_mode::serial_in_order, [&](uint64_t y) { h = h * 31 + y; }));
  });
  return {seconds_since(t0), h};
}

/// Runs variant `id` (s: sequential, p: n independent loops, o: ordered,
/// u: unordered, c: chunked, t: oneTBB) on `w` and verifies it against
/// `ref` (which the first sequential run, or the first run of any variant,
/// fills in); returns the wall time.
inline double run_par_variant(char id, caf::actor_system& sys,
                              tbb::task_arena& arena, const par_options& opt,
                              const workload& w, std::optional<checksum>& ref) {
  if (id == 's') {
    auto t0 = clock_type::now();
    auto c = sequential(w);
    auto dt = seconds_since(t0);
    if (!ref)
      ref = c;
    else if (c.ordered != ref->ordered || c.sum != ref->sum)
      die("variant s: the sequential loop is not deterministic");
    return dt;
  }
  if (!ref)
    ref = sequential(w);
  result r{};
  uint64_t expected = ref->ordered;
  switch (id) {
    case 'o':
      r = run_af_ordered(sys, opt, w);
      break;
    case 'p':
      r = run_independent(opt, w);
      expected = ref->sum;
      break;
    case 'u':
      r = run_af_unordered(sys, opt, w);
      expected = ref->sum;
      break;
    case 'c':
      r = run_af_chunked(sys, opt, w);
      break;
    default:
      r = run_tbb(arena, opt, w);
      break;
  }
  if (r.value != expected) {
    std::ostringstream os;
    os << "variant " << id << ": wrong checksum for " << w.us
       << " us, N=" << w.items << ": got " << r.value << ", expected "
       << expected;
    die(os.str());
  }
  return r.seconds;
}

} // namespace bench
