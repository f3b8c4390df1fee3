// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "actorflow/clock.hpp"
#include "actorflow/error_policy.hpp"
#include "actorflow/stall_watchdog.hpp"
#include "actorflow/stats.hpp"

namespace actorflow {

/// Per-stage settings. Zero means "the pipeline's default".
///
/// ~~~
/// src.then(fetch, {.on_error = actorflow::error_policy::retry(2),
///                  .on_failure = [&](const actorflow::item_failure& x) {
///                    ++failures; // or log x.index, x.what, x.action
///                  }});
/// ~~~
struct stage_options {
  /// Capacity of the channel into this stage (items in flight).
  size_t capacity = 0;
  /// Most items per message on that channel.
  uint32_t batch = 0;
  /// How many items the stage asks for ahead of its work (its receiver's
  /// read-ahead); 0 picks two batches, at most half the capacity. For
  /// `parallel_then` and `route_by_key`: the read-ahead of each worker
  /// (`parallel_then`'s default adapts to about 1 ms of the worker's
  /// measured work). Independent of `concurrency`.
  uint32_t read_ahead = 0;
  /// How many calls of a coroutine `f` (returning `task<U>`) one stage actor
  /// keeps in flight: `then` (and every worker of `parallel_then`,
  /// `parallel_then_unordered` and `route_by_key`) starts the next call
  /// while earlier ones wait (e.g. for `actorflow::ask`) and still emits
  /// the results in input order. 0 or 1: one call at a time.
  size_t concurrency = 0;
  /// Worker actors of `parallel_then`, `parallel_then_unordered` and
  /// `route_by_key` called without `n`; 0 picks the scheduler's thread count.
  size_t workers = 0;
  /// Most items between dispatch and gather of `parallel_then` (bounds its
  /// reorder buffer); 0 picks four times the pipeline's capacity
  /// (`run_options::capacity`, 4096 items when that is unset), at least
  /// 64 per worker.
  size_t window = 0;
  /// What the stage does when its function fails on an item (throws, or
  /// returns a `caf::expected` holding an error): end the pipeline (the
  /// default), drop the item, or call the function again.
  error_policy on_error = error_policy::fail();
  /// Called on every failed call of the stage's function, before the stage
  /// acts on it (retry, skip or fail). Runs in the stage's actor: keep it
  /// short, non-blocking and free of exceptions; the workers of a parallel
  /// stage call (copies of) it concurrently.
  std::function<void(const item_failure&)> on_failure = nullptr;
  /// The longest a call of the stage's function may take, on the run's
  /// clock (`run_options::clock`). A call that takes longer fails its item
  /// with `error_code::timeout` (its result is dropped), and `on_error`
  /// applies: fail the pipeline, skip the item or call again. The call is
  /// judged when it returns, not interrupted: C++ cannot stop a running
  /// function, so a coroutine stage should also give its asks a timeout of
  /// their own. Zero: no limit; negative: an error.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// src.then(lookup, {.on_error = actorflow::error_policy::skip(),
  ///                   .timeout = 2s}); // a late answer is dropped
  /// ~~~
  std::chrono::nanoseconds timeout{0};
  /// How long a partly filled batch into this stage may wait for more items
  /// (`channel_options::linger`); 0: the pipeline's default
  /// (`run_options::linger`).
  std::chrono::nanoseconds linger{0};
};

/// Settings of a whole pipeline run.
struct run_options {
  /// Default capacity of every channel between two stages (0 is an
  /// error). Unset (the default), each channel is sized by its item type:
  /// 64 KiB of items by `sizeof(T)`, at least 1024 and at most 16384 items
  /// (16384 `int`s, 1024 items of 64 bytes or more). Small items then
  /// travel in large batches, which is what makes a cheap stage cheap:
  /// every batch costs a few messages.
  std::optional<size_t> capacity;
  /// Default batch size (0: a quarter of the channel's capacity, so that
  /// four batches are in flight on every channel).
  uint32_t batch = 0;
  /// Where the run records its statistics (see stats.hpp); null: a monitor
  /// of its own, read through `running<R>::stats()`. Set it to read the
  /// statistics of a blocking `run`, during the run (from another thread)
  /// or after it returned:
  ///
  /// ~~~
  /// actorflow::run_options opts;
  /// opts.monitor = std::make_shared<actorflow::pipeline_monitor>();
  /// auto r = actorflow::iota(0, 100).then(f).collect().run(sys, opts);
  /// std::cout << actorflow::to_string(opts.monitor->stats());
  /// ~~~
  std::shared_ptr<pipeline_monitor> monitor = nullptr;
  /// The time of the run's time operators (`batch(k, max_delay)`); null:
  /// `actorflow::steady_clock()`. A test passes a `virtual_clock` and
  /// advances it by hand.
  std::shared_ptr<actorflow::clock> clock = nullptr;
  /// The default `stage_options::linger` of every channel: how long a
  /// partly filled batch may wait for more items before it leaves. 0 (the
  /// default): it leaves when its stage suspends, the lowest latency.
  /// Longer: fuller batches and fewer messages per item when items trickle
  /// in, for up to that much more latency (see docs/guide/tuning.md).
  std::chrono::nanoseconds linger{0};
  /// Reports a run that stopped moving, naming the stage that holds it back
  /// (off unless `watchdog.after` is set; see stall_watchdog.hpp).
  stall_watchdog watchdog{};
};

} // namespace actorflow
