// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The actors of a parallel stage (`parallel_then`, `parallel_then_unordered`)
// as named coroutines: a scatter that numbers the items, the workers, and a
// gather that restores their order (ordered) or passes them on as they come
// (unordered). flow/parallel_then.hpp sizes and wires them.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <caf/detail/scope_guard.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "actorflow/flow/detail/apply.hpp"
#include "actorflow/flow/detail/ordered_calls.hpp"
#include "actorflow/flow/detail/reorder_buffer.hpp"
#include "actorflow/flow/detail/reorder_gate.hpp"
#include "actorflow/flow/detail/stage_loops.hpp"
#include "actorflow/flow/detail/stage_traits.hpp"
#include "actorflow/flow/options.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow::detail {

/// An item with its sequence number: what the scatter hands the workers
/// (`sequenced<T>`) and the workers hand the gather
/// (`sequenced<maybe<U>>`).
template <class T>
struct sequenced {
  uint64_t seq = 0;
  T value;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, sequenced<T>& x) {
  return f(caf::meta::type_name("sequenced"), x.seq, x.value);
}

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

/// Numbers the items of a scatter: item `seq` becomes `{seq, item}`.
template <class T>
auto numbering(uint64_t& seq) {
  return [&seq](T&& x) {
    return std::optional<sequenced<T>>{sequenced<T>{seq++, std::move(x)}};
  };
}

/// The scatter of `parallel_then`: numbers the items and dispatches them to
/// the workers' shared work channel, at most `gate->window` ahead of the
/// gather's output.
template <class T>
task<> ordered_scatter(receiver<T> in, receiver<uint8_t> tokens,
                       sender<sequenced<T>> work,
                       std::shared_ptr<reorder_gate> gate) {
  uint64_t seq = 0;
  auto number = numbering<T>(seq);
  for (;;) {
    // Whole chunks while input, credit and window are there ...
    auto room = gate->room(seq);
    if (room > 0 && map_ready(in, work, number, room) > 0)
      continue;
    // ... else one item, waiting where needed.
    auto x = co_await in.recv();
    if (!x)
      co_return;
    // Wait until the gather emitted item seq - window; a closed token
    // channel means the gather is gone.
    if (!gate->open(seq) && gate->park(seq)) {
      if (!co_await tokens.recv())
        co_return;
    }
    auto j = number(std::move(*x));
    if (!co_await work.send(std::move(*j)))
      co_return;
  }
}

/// The scatter of `parallel_then_unordered`: numbers the items and
/// dispatches them to the workers' shared work channel as credit allows.
template <class T>
task<> scatter(receiver<T> in, sender<sequenced<T>> work) {
  uint64_t seq = 0;
  auto number = numbering<T>(seq);
  co_await map_stage(in, work, number);
}

/// One worker of a parallel stage: applies `f` to the items of the shared
/// work channel under the stage's error policy and sends every result,
/// with its sequence number, to the gather. An empty result stands for a
/// dropped item (error_policy::skip): the gather still has to see its
/// sequence number. A coroutine `f` has up to `so.concurrency` calls in
/// flight.
template <class F, class T, class U>
task<> parallel_worker(F f, stage_options so, receiver<sequenced<T>> work,
                       sender<sequenced<maybe<U>>> results) {
  using job = sequenced<T>;
  using done = sequenced<maybe<U>>;
  if constexpr (is_task<std::invoke_result_t<F&, T&&>>::value) {
    if (so.concurrency > 1) {
      // Up to `concurrency` calls in flight in this worker.
      auto call = [&f, &so](job j, size_t) -> task<done> {
        auto c = apply_at(so, static_cast<size_t>(j.seq), f,
                          std::move(j.value));
        auto y = co_await std::move(c);
        auto r = done{j.seq, maybe<U>{std::move(y)}};
        co_return std::move(r);
      };
      ordered_calls<job, done, decltype(call)> calls{so.concurrency, work,
                                                     std::move(call)};
      co_await send_results(calls, results, [](done&& r) {
        return std::optional<done>{std::move(r)};
      });
      co_return;
    }
    while (auto j = co_await work.recv()) {
      auto index = static_cast<size_t>(j->seq);
      auto call = apply_at(so, index, f, std::move(j->value));
      auto y = co_await std::move(call);
      auto r = done{j->seq, maybe<U>{std::move(y)}};
      if (!co_await results.send(std::move(r)))
        co_return;
    }
  } else {
    auto step = [&f, &so](job&& j) {
      auto index = static_cast<size_t>(j.seq);
      auto y = apply_at(so, index, f, std::move(j.value));
      return std::optional<done>{done{j.seq, maybe<U>{std::move(y)}}};
    };
    co_await map_stage(work, results, step);
  }
}

/// The gather of `parallel_then`: restores the input order in a reorder
/// buffer of `gate->window` slots, publishes how many items it emitted to
/// the gate and sends the scatter a wake-up token when it claimed its park.
template <class U>
task<> ordered_gather(receiver<sequenced<maybe<U>>> results,
                      sender<uint8_t> tokens, sender<U> out,
                      std::shared_ptr<reorder_gate> gate) {
  reorder_buffer<maybe<U>> pending{static_cast<size_t>(gate->window)};
  auto file = [&pending](sequenced<maybe<U>>&& r) {
    pending.file(r.seq, std::move(r.value));
  };
  // Appends the run at the head as far as credit allows; a dropped item
  // (no value) only frees its slot.
  size_t room = 0;
  bool appended = false;
  auto append = [&out, &room, &appended](maybe<U>& y) {
    if (!y.value)
      return true;
    if (room == 0)
      return false;
    out.append_now(std::move(*y.value));
    appended = true;
    --room;
    return true;
  };
  for (;;) {
    // File every result that is there now (the gate guarantees each a free
    // slot), or wait for one.
    if (drain_ready(results, file) == 0) {
      auto r = co_await results.recv();
      if (!r)
        co_return;
      file(std::move(*r));
    }
    // Emit the run of results at the head, in chunks as far as credit
    // allows, one `send` when it has to wait for credit.
    auto before = pending.next();
    for (;;) {
      room = out.room_now();
      appended = false;
      pending.pop_ready(append);
      if (appended)
        out.commit_now();
      auto y = pending.pop();
      if (!y)
        break;
      if (y->value && !co_await out.send(std::move(*y->value)))
        co_return;
    }
    if (pending.next() != before && gate->publish(pending.next()))
      (void)co_await tokens.send(uint8_t{0});
  }
}

/// The gather of `parallel_then_unordered`: passes the results on as they
/// come and drops the empty ones.
template <class U>
task<> unordered_gather(receiver<sequenced<maybe<U>>> results, sender<U> out) {
  auto step = [](sequenced<maybe<U>>&& r) {
    return std::move(r.value.value);
  };
  co_await map_stage(results, out, step);
}

} // namespace actorflow::detail
