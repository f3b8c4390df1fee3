// This file is part of actorflow. See README.md for the project's license.
//
// w2_parallel/tbb.cpp: oneTBB's parallel_pipeline, (t): serial_in_order
// source -> parallel f -> serial_in_order checksum, in a task_arena of n
// threads.

#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include "tbb_source.hpp"
#include "w2_parallel/w2.hpp"

namespace bench {

struct tbb_arena::impl {
  explicit impl(size_t threads) : arena(static_cast<int>(threads)) {
    // nop
  }
  tbb::task_arena arena;
};

tbb_arena::tbb_arena(size_t threads) : impl_(std::make_unique<impl>(threads)) {
  // nop
}

tbb_arena::~tbb_arena() = default;

result run_tbb(tbb_arena& arena, const par_options& opt, const workload& w) {
  using tbb::filter_mode;
  auto t0 = clock_type::now();
  uint64_t next = 0;
  auto n = static_cast<uint64_t>(w.items);
  uint64_t h = 0;
  arena.impl_->arena.execute([&] {
    tbb::parallel_pipeline(
      opt.tbb_tokens,
      tbb::make_filter<void, uint64_t>(filter_mode::serial_in_order,
                                       tbb_counter(next, n))
        & tbb::make_filter<uint64_t, uint64_t>(
          filter_mode::parallel, [w](uint64_t x) { return work(w, x); })
        & tbb::make_filter<uint64_t, void>(
          filter_mode::serial_in_order, [&](uint64_t y) { h = h * 31 + y; }));
  });
  return {seconds_since(t0), h};
}

} // namespace bench
