// This file is part of actorflow. See README.md for the project's license.
//
// w2_parallel/w2.hpp: the parallel workloads W2/W3/W4 (source 0..N-1 -> f on
// n workers -> checksum, f = calibrated hash_work), run by bench_parallel and
// bench_suite. Every peer has its file beside this one and defines its
// variants there; each run_* function times one run and returns its
// checksum, which run_par_variant compares with the sequential loop's.

#pragma once

#include <memory>

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

// -- the workload -------------------------------------------------------------

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

// -- the variants, one file per peer ------------------------------------------

// sequential.cpp

/// The sequential loop over items [first, last); it computes both
/// checksums.
checksum sequential(const workload& w, int64_t first, int64_t last);

/// (s) The sequential loop over all items (the reference every other variant is
/// checked against).
checksum sequential(const workload& w);

// threads.cpp

/// (p) The machine's ceiling: n threads each run the sequential loop over a
/// contiguous 1/n of the items at once, with no communication at all. Its
/// efficiency is what n busy cores give over one here (shared caches,
/// SMT siblings and turbo make it less than 1); returns the sum of f(x).
result run_independent(const par_options& opt, const workload& w);

// actorflow.cpp

/// (o) iota(0, N).parallel_then(n, f, window).fold(h*31 + y).
result run_af_ordered(caf::actor_system& sys, const par_options& opt,
                      const workload& w);

/// (u) iota(0, N).parallel_then_unordered(n, f, window).fold(sum).
result run_af_unordered(caf::actor_system& sys, const par_options& opt,
                        const workload& w);

/// (c) iota(0, N).batch(K).parallel_then(n, f over each chunk, window)
/// .unbatch().fold(h*31 + y).
result run_af_chunked(caf::actor_system& sys, const par_options& opt,
                      const workload& w);

// tbb.cpp

/// The oneTBB task_arena of n threads that variant t runs in, made once per
/// program and kept across runs. Only tbb.cpp includes oneTBB.
class tbb_arena {
public:
  explicit tbb_arena(size_t threads);
  ~tbb_arena();
  tbb_arena(const tbb_arena&) = delete;
  tbb_arena& operator=(const tbb_arena&) = delete;

private:
  struct impl;
  friend result run_tbb(tbb_arena& arena, const par_options& opt,
                        const workload& w);
  std::unique_ptr<impl> impl_;
};

/// (t) oneTBB parallel_pipeline: serial_in_order source -> parallel f ->
/// serial_in_order checksum (h*31 + y), opt.tbb_tokens live tokens.
result run_tbb(tbb_arena& arena, const par_options& opt, const workload& w);

// -- verification -------------------------------------------------------------

/// Runs variant `id` (s: sequential, p: n independent loops, o: ordered,
/// u: unordered, c: chunked, t: oneTBB) on `w` and verifies it against
/// `ref` (which the first sequential run, or the first run of any variant,
/// fills in); returns the wall time.
inline double run_par_variant(char id, caf::actor_system& sys, tbb_arena& arena,
                              const par_options& opt, const workload& w,
                              std::optional<checksum>& ref) {
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
