// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Scatter-join for the stream DSL: `parallel_then(n, f)` and
// `parallel_then_unordered(n, f)`. The data path, in one direction:
//
//   upstream -> scatter (numbers items, waits for a token per item)
//            -> n worker actors (share one work channel, demand-driven)
//            -> gather (restores order, returns one token per emitted item)
//            -> downstream
//
// A reorder gate bounds the items between scatter and gather to `window`, so
// the gather's reorder buffer never holds more than `window` items, however
// slow the item at its head is: the gather counts the items it emitted in an
// atomic shared with the scatter, the scatter dispatches item `seq` only while
// `seq - emitted < window`, and when it has to wait it parks and the gather
// wakes it with one token (on a control channel) once half the window is free.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/detail/scope_guard.hpp>
#include <caf/optional.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "actorflow/flow.hpp"

namespace actorflow {

namespace detail {

/// What a worker of a parallel stage hands the gather for one item: its
/// result, or nothing when the stage dropped the item (error_policy::skip).
/// (caf::optional would do, but its to_string trips g++ 12's -Wrestrict.)
template <class U>
struct maybe {
  std::optional<U> value;
};

template <class Inspector, class U>
std::enable_if_t<Inspector::reads_state, typename Inspector::result_type>
inspect(Inspector& f, maybe<U>& x) {
  if (x.value)
    return f(true, *x.value);
  return f(false);
}

template <class Inspector, class U>
std::enable_if_t<Inspector::writes_state, typename Inspector::result_type>
inspect(Inspector& f, maybe<U>& x) {
  bool flag = false;
  U tmp{};
  caf::optional_inspect_helper<U> helper{flag, tmp};
  auto guard = caf::detail::make_scope_guard([&] {
    if (flag)
      x.value.emplace(std::move(tmp));
    else
      x.value.reset();
  });
  return f(flag, helper);
}

/// The reorder gate of an ordered parallel stage, shared by its scatter and
/// gather (two actors of one process). The gather publishes how many items it
/// emitted; the scatter reads that instead of taking a token per item and
/// only when it runs out of window does it park and wait for one wake-up
/// token, which the gather sends once enough of the window is free again.
///
/// Parking is a Dekker handshake on two sequentially consistent atomics: the
/// scatter stores `parked` and then reads `emitted`, the gather stores
/// `emitted` and then reads `parked`, so at least one of them sees the other's
/// store and a wake-up is never lost. Whoever clears `parked` (the scatter
/// cancelling, or the gather claiming the wake-up) decides whether a token
/// travels, so exactly one token answers each claimed park.
struct reorder_gate {
  explicit reorder_gate(uint64_t window) : window(window) {
    // nop
  }

  /// How many items the scatter may dispatch ahead of the gather's output.
  const uint64_t window;

  /// Items the gather emitted (in order) so far.
  std::atomic<uint64_t> emitted{0};

  /// Non-zero while the scatter is parked: the value of `emitted` at which
  /// it wants to be woken.
  std::atomic<uint64_t> parked{0};

  /// Scatter: how many items, starting at `seq`, may go out now.
  size_t room(uint64_t seq) const noexcept {
    return static_cast<size_t>(
      window - (seq - emitted.load(std::memory_order_acquire)));
  }

  /// Scatter: true if item `seq` may go out now.
  bool open(uint64_t seq) const noexcept {
    return room(seq) > 0;
  }

  /// Scatter, when `open(seq)` returned false: parks. Returns true if the
  /// scatter must now wait for a wake-up token, false if it may go on (the
  /// gather caught up meanwhile and no token will come).
  bool park(uint64_t seq) noexcept {
    // Wake when half the window (at least the one slot `seq` needs) is free.
    auto want = seq + 1 - window + window / 2;
    parked.store(want, std::memory_order_seq_cst);
    if (emitted.load(std::memory_order_seq_cst) < want)
      return true;
    // Caught up: cancel the park, unless the gather claimed it already.
    auto expected = want;
    return !parked.compare_exchange_strong(expected, 0,
                                           std::memory_order_seq_cst);
  }

  /// Gather: publishes `n` emitted items. Returns true if it claimed the
  /// scatter's park and must send it one wake-up token.
  bool publish(uint64_t n) noexcept {
    emitted.store(n, std::memory_order_seq_cst);
    auto want = parked.load(std::memory_order_seq_cst);
    if (want == 0 || n < want)
      return false;
    return parked.compare_exchange_strong(want, 0, std::memory_order_seq_cst);
  }
};

} // namespace detail

/// @private The stage behind parallel_then(_unordered).
template <class T>
template <bool Ordered, class F>
auto flow<T>::scatter_gather(std::optional<size_t> n, F f,
                             stage_options so) && {
  constexpr bool invocable = std::is_invocable_v<F&, T&&>;
  static_assert(invocable,
                "parallel_then(n, f): f must be callable with the stream's "
                "item type T (by value or const reference)");
  using raw = typename detail::body_result<invocable, F, T>::type;
  constexpr bool foreign = detail::is_foreign_awaitable<raw>::value;
  static_assert(!foreign,
                "parallel_then(n, f): f returns an awaitable that is not "
                "actorflow::task<U>; make f a coroutine returning task<U> "
                "that co_awaits it");
  using U = typename detail::stage_value<raw>::type;
  static_assert(!std::is_void_v<U>,
                "parallel_then(n, f): f must return a value");
  if constexpr (!invocable || foreign || std::is_void_v<U>) {
    return flow<T>{}; // not reached: a static_assert above failed
  } else {
    using job = std::pair<uint64_t, T>;
    // An empty result stands for a dropped item (error_policy::skip): the
    // gather still has to see its sequence number.
    using done = std::pair<uint64_t, detail::maybe<U>>;
    const char* op = Ordered ? "parallel_then" : "parallel_then_unordered";
    if (n && *n == 0)
      return flow<U>{
        nullptr,
        make_error(error_code::invalid_argument,
                   std::string{op} + "(0, f): needs at least one worker")};
    if (so.concurrency > 1 && !detail::is_task<raw>::value)
      return flow<U>{nullptr, make_error(error_code::invalid_argument,
                                         std::string{op}
                                           + "(n, f): concurrency > 1 needs a "
                                             "coroutine f returning task<U>")};
    if (err_ || !build_)
      return flow<U>{nullptr, moved_or(err_)};
    auto build = std::move(build_);
    return flow<U>{[build = std::move(build), n, f = std::move(f), op,
                    so](detail::build_context& ctx, sender<U> out) {
      // Worker count and window are settled when the pipeline starts: the
      // default is one worker per scheduler thread.
      size_t workers = n ? *n
                       : so.workers != 0
                         ? so.workers
                         : std::max<size_t>(1,
                                            ctx.sys.scheduler().num_workers());
      // The window defaults to four times the pipeline's channel capacity:
      // the reorder buffer needs the slack of a few worker chunks, because
      // a parked scatter only runs again once a busy worker yields its core
      // (bench_parallel, 1 us items, 2 workers: 0.82-0.84 of the 2x limit
      // with 1 x capacity, 0.90 with 4 x).
      size_t window = so.window != 0 ? so.window
                                     : std::max<size_t>(4 * ctx.base_capacity(),
                                                        64 * workers);
      window = std::max(window, workers);
      auto in
        = ctx.make_channel<T>({.capacity = so.capacity, .batch = so.batch});
      // Unless told otherwise, workers adapt their read-ahead to about 1 ms
      // of work: dispatch stays demand-driven for slow items (a busy worker
      // does not sit on items an idle one could take), while cheap items
      // travel in large batches. A worker runs its whole read-ahead in one
      // activation; then its thread runs the actors that refill it (pull,
      // items, results push, the gather, the scatter): some 10-15 us per
      // refill, whatever the read-ahead, while the worker waits. At 400 us
      // that was 3% of the work of 10 us items; at 1 ms it is about 1%
      // (bench_suite --only w2,w3,w4, measured under CAF's work-stealing
      // scheduler: W2 0.965-0.973 -> 0.980-0.985 of the 2x limit; W4,
      // skewed items, unchanged at 0.97-0.98). The work
      // channel's batches of up to 512 items let 1 us items fill about 1 ms
      // of read-ahead in two messages.
      auto work_batch = static_cast<uint32_t>(
        std::clamp<size_t>(window / (4 * workers), 1, 512));
      stage_options wo{.capacity = window, .batch = work_batch};
      std::chrono::nanoseconds adapt{0};
      if (so.read_ahead != 0) {
        wo.read_ahead = so.read_ahead;
        wo.capacity = std::max<size_t>(window, size_t{so.read_ahead} * workers);
      } else {
        adapt = std::chrono::milliseconds(1);
      }
      auto work = ctx.make_channel<job>(wo, adapt);
      auto results = ctx.make_channel<done>({.capacity = window});
      auto tokens = ctx.make_channel<uint8_t>({.capacity = window});
      if (!in || !work || !results || !tokens)
        return;
      ctx.mark_control(*tokens); // not items: waiting for a token is a stall
      build(ctx, std::move(in->tx));
      auto base = ctx.stage_name(op);
      // -- scatter --
      auto gate = std::make_shared<detail::reorder_gate>(window);
      ctx.spawn(
        base + ".scatter",
        [](receiver<T> in, receiver<uint8_t> tokens, sender<job> work,
           std::shared_ptr<detail::reorder_gate> gate) -> task<> {
          (void)gate; // unordered: no gate
          uint64_t seq = 0;
          auto number = [&seq](T&& x) {
            return std::optional<job>{std::in_place, seq++, std::move(x)};
          };
          for (;;) {
            // Whole chunks while input, credit and window are there ...
            auto room = Ordered ? gate->room(seq) : static_cast<size_t>(-1);
            if (room > 0 && detail::map_ready(in, work, number, room) > 0)
              continue;
            // ... else one item, waiting where needed.
            auto x = co_await in.recv();
            if (!x)
              co_return;
            if constexpr (Ordered) {
              // Wait until the gather emitted item seq - window; a closed
              // token channel means the gather is gone.
              if (!gate->open(seq) && gate->park(seq)) {
                if (!co_await tokens.recv())
                  co_return;
              }
            }
            auto j = number(std::move(*x));
            if (!co_await work.send(std::move(*j)))
              co_return;
          }
        },
        std::move(in->rx), std::move(tokens->rx), std::move(work->tx), gate);
      // -- workers --
      for (size_t i = 0; i < workers; ++i) {
        ctx.spawn(
          base + ".worker" + std::to_string(i + 1),
          [f, so](receiver<job> work, sender<done> results) mutable -> task<> {
            if constexpr (detail::is_task<raw>::value) {
              if (so.concurrency > 1) {
                // Up to `concurrency` calls in flight in this worker.
                auto call = [&f, &so](job j, size_t) -> task<done> {
                  auto c = detail::apply_at(so, static_cast<size_t>(j.first), f,
                                            std::move(j.second));
                  auto y = co_await std::move(c);
                  auto r = done{j.first, detail::maybe<U>{std::move(y)}};
                  co_return std::move(r);
                };
                detail::ordered_calls<job, done, decltype(call)> calls{
                  so.concurrency, work, std::move(call)};
                while (auto r = co_await calls.next()) {
                  if (!co_await results.send(std::move(*r))) {
                    co_await calls.drain();
                    co_return;
                  }
                }
                co_return;
              }
            }
            if constexpr (detail::is_task<raw>::value) {
              while (auto j = co_await work.recv()) {
                auto index = static_cast<size_t>(j->first);
                auto call = detail::apply_at(so, index, f,
                                             std::move(j->second));
                auto y = co_await std::move(call);
                auto r = done{j->first, detail::maybe<U>{std::move(y)}};
                if (!co_await results.send(std::move(r)))
                  co_return;
              }
            } else {
              auto step = [&f, &so](job&& j) {
                auto index = static_cast<size_t>(j.first);
                auto y = detail::apply_at(so, index, f, std::move(j.second));
                return std::optional<done>{std::in_place, j.first,
                                           detail::maybe<U>{std::move(y)}};
              };
              co_await detail::map_stage(work, results, step);
            }
          },
          work->rx, results->tx);
      }
      work->rx.close();
      results->tx.close();
      // -- gather --
      ctx.spawn(
        base + ".gather",
        [window](receiver<done> results, sender<uint8_t> tokens, sender<U> out,
                 std::shared_ptr<detail::reorder_gate> gate) -> task<> {
          if constexpr (Ordered) {
            // Slot i holds the result of the item with sequence number i
            // (mod window) once it arrived; an empty one was dropped.
            std::vector<std::optional<detail::maybe<U>>> pending(window);
            auto file = [&pending, window](done&& r) {
              pending[r.first % window].emplace(std::move(r.second));
            };
            uint64_t next = 0;
            for (;;) {
              // File every result that is there now (the gate guarantees
              // each a free slot), or wait for one.
              if (detail::drain_ready(results, file) == 0) {
                auto r = co_await results.recv();
                if (!r)
                  co_return;
                file(std::move(*r));
              }
              // Emit the run of results at the head, in chunks as far as
              // credit allows, one `send` when it has to wait for credit.
              auto before = next;
              for (;;) {
                auto room = out.room_now();
                auto appended = false;
                auto* head = &pending[next % window];
                for (; room > 0 && *head; head = &pending[next % window]) {
                  if ((*head)->value) {
                    out.append_now(std::move(*(*head)->value));
                    appended = true;
                    --room;
                  }
                  head->reset();
                  ++next;
                }
                if (appended)
                  out.commit_now();
                if (!*head)
                  break;
                auto y = std::move(**head);
                head->reset();
                ++next;
                if (y.value && !co_await out.send(std::move(*y.value)))
                  co_return;
              }
              if (next != before && gate->publish(next))
                (void)co_await tokens.send(uint8_t{0});
            }
          } else {
            (void)gate;
            tokens.close();
            auto step = [](done&& r) {
              return std::move(r.second.value);
            };
            co_await detail::map_stage(results, out, step);
          }
        },
        std::move(results->rx), std::move(tokens->tx), std::move(out),
        std::move(gate));
    }};
  }
}

/// @private The stage behind route_by_key.
template <class T>
template <class K, class F>
auto flow<T>::route(std::optional<size_t> n, K key, F f, stage_options so) && {
  constexpr bool key_ok = std::is_invocable_v<K&, const T&>;
  static_assert(key_ok,
                "route_by_key(n, key, f): key must be callable with const T&");
  using key_t = std::decay_t<typename std::conditional_t<
    key_ok, std::invoke_result<K&, const T&>, std::type_identity<void*>>::type>;
  constexpr bool hashable
    = std::is_invocable_v<std::hash<key_t>&, const key_t&>;
  static_assert(hashable, "route_by_key(n, key, f): the key type must be "
                          "hashable with std::hash");
  constexpr bool invocable = std::is_invocable_v<F&, T&&>;
  static_assert(invocable, "route_by_key(n, key, f): f must be callable with "
                           "the stream's item type T");
  using raw = typename detail::body_result<invocable, F, T>::type;
  constexpr bool foreign = detail::is_foreign_awaitable<raw>::value;
  static_assert(!foreign,
                "route_by_key(n, key, f): f returns an awaitable that is not "
                "actorflow::task<U>; make f a coroutine returning task<U> "
                "that co_awaits it");
  using U = typename detail::stage_value<raw>::type;
  static_assert(!std::is_void_v<U>,
                "route_by_key(n, key, f): f must return a value");
  if constexpr (!key_ok || !hashable || !invocable || foreign
                || std::is_void_v<U>) {
    return flow<T>{}; // not reached: a static_assert above failed
  } else {
    if (n && *n == 0)
      return flow<U>{nullptr,
                     make_error(error_code::invalid_argument,
                                "route_by_key(0, key, f): needs at least one "
                                "worker")};
    if (so.concurrency > 1 && !detail::is_task<raw>::value)
      return flow<U>{nullptr,
                     make_error(error_code::invalid_argument,
                                "route_by_key(n, key, f): concurrency > 1 "
                                "needs a coroutine f returning task<U>")};
    if (err_ || !build_)
      return flow<U>{nullptr, moved_or(err_)};
    auto build = std::move(build_);
    return flow<U>{[build = std::move(build), n, key = std::move(key),
                    f = std::move(f),
                    so](detail::build_context& ctx, sender<U> out) {
      size_t workers = n ? *n
                       : so.workers != 0
                         ? so.workers
                         : std::max<size_t>(1,
                                            ctx.sys.scheduler().num_workers());
      auto in
        = ctx.make_channel<T>({.capacity = so.capacity, .batch = so.batch});
      if (!in)
        return;
      std::vector<sender<T>> lanes;
      std::vector<receiver<T>> lane_rx;
      for (size_t i = 0; i < workers; ++i) {
        auto lane = ctx.make_channel<T>({.read_ahead = so.read_ahead});
        if (!lane)
          return;
        lanes.push_back(std::move(lane->tx));
        lane_rx.push_back(std::move(lane->rx));
      }
      build(ctx, std::move(in->tx));
      auto base = ctx.stage_name("route_by_key");
      // -- scatter: one lane per worker, chosen by the key's hash --
      ctx.spawn(
        base + ".scatter",
        [key, so](receiver<T> in,
                  std::vector<sender<T>> lanes) mutable -> task<> {
          size_t index = 0;
          while (auto x = co_await in.recv()) {
            auto k = detail::apply_at(so, index++, key, std::as_const(*x));
            if (!k)
              continue;
            auto lane = std::hash<key_t>{}(*k) % lanes.size();
            if (!co_await lanes[lane].send(std::move(*x)))
              co_return;
          }
        },
        std::move(in->rx), std::move(lanes));
      // -- workers, writing into copies of `out` (the gather is the channel) --
      for (size_t i = 0; i < workers; ++i) {
        ctx.spawn(
          base + ".worker" + std::to_string(i + 1),
          [f, so](receiver<T> lane, sender<U> out) mutable -> task<> {
            co_await detail::map_items(so, f, lane, out);
          },
          std::move(lane_rx[i]), sender<U>{out});
      }
    }};
  }
}

} // namespace actorflow
