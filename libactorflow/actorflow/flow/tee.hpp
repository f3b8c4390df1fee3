// This file is part of actorflow. See README.md for the project's license.

#pragma once

// `flow<T>::tee(branch)`: a stage that hands a copy of every item to a side
// branch and passes the item on. The branch is an ordinary pipeline, built
// by `branch(flow<T>)` from a flow whose source is the tee stage itself:
//
//   upstream -> tee --copy--> branch stages -> branch sink
//                   \------------------------> downstream (unchanged)
//
// The tee stage sends every item to the branch first, then downstream, each
// under credit: the slowest of the two sets the pace, and nothing piles up
// in between. The branch runs in the same pipeline run: its stages are
// named like the others (`tee#3`, `for_each#4`, ...), and a failing branch
// fails (and cancels) the whole pipeline.

#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "actorflow/error.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/pipeline.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"
#include "actorflow/worker.hpp"

namespace actorflow {

namespace detail {

/// Where the branch's source leaves the sender it was built with.
template <class T>
struct tee_slot {
  std::mutex mtx;
  std::optional<sender<T>> tx;
};

} // namespace detail

/// Every item also goes to a side branch: `branch` gets a `flow<T>` of all
/// items (copies) and returns the branch's pipeline, e.g. ending in
/// `for_each`, `to` or `to_actor`; its result is dropped. The stream
/// continues unchanged. The branch sees every item in order; the slowest of
/// branch and main stream sets the pace. When one side stops taking items
/// (e.g. a `take`), the other still gets them; the stage ends when its input
/// ends or both sides are gone.
///
/// ~~~
/// auto sum = actorflow::iota(0, 100)
///              .tee([](actorflow::flow<int> all) {
///                return std::move(all).for_each([](int x) { log(x); });
///              })
///              .fold(0, [](int acc, int x) { return acc + x; })
///              .run(sys);
/// ~~~
template <class T>
template <class F>
flow<T> flow<T>::tee(F branch) && {
  static_assert(std::is_copy_constructible_v<T>,
                "tee(branch): the item type must be copyable (the branch "
                "gets a copy of every item)");
  constexpr bool invocable = std::is_invocable_v<F&, flow<T>&&>;
  static_assert(invocable,
                "tee(branch): branch must be callable with a flow<T> (all "
                "items) and return the branch's pipeline, e.g. [](auto f) { "
                "return std::move(f).for_each(g); }");
  using result = typename detail::body_result<invocable, F, flow<T>>::type;
  static_assert(!invocable || detail::is_pipeline<result>::value,
                "tee(branch): branch must return a pipeline (end the branch "
                "in a sink such as for_each, fold, collect, to or to_actor)");
  if constexpr (invocable && detail::is_pipeline<result>::value) {
    if (err_ || !build_)
      return flow<T>{nullptr, moved_or(err_)};
    // The branch's source: whatever sender it is built with goes into the
    // slot, for the tee stage to send to.
    auto slot = std::make_shared<detail::tee_slot<T>>();
    flow<T> input{[slot](detail::build_context&, sender<T> out) {
      slot->tx.emplace(std::move(out));
    }};
    auto [start, err] = branch(std::move(input)).release();
    if (err)
      return flow<T>{nullptr, std::move(err)};
    auto build = std::move(build_);
    return flow<T>{[build = std::move(build), start = std::move(start),
                    slot](detail::build_context& ctx, sender<T> out) {
      auto in = ctx.make_channel<T>({});
      if (!in)
        return;
      build(ctx, std::move(in->tx));
      auto name = ctx.stage_name("tee");
      std::optional<sender<T>> side;
      {
        // Builds run one at a time per thread; the lock guards against two
        // runs of copies of this flow being built at once.
        std::lock_guard guard{slot->mtx};
        (void)start(ctx); // spawns the branch; its source fills the slot
        side = std::move(slot->tx);
        slot->tx.reset();
      }
      if (!side) {
        if (!ctx.error)
          ctx.error = make_error(error_code::invalid_argument,
                                 "tee(branch): the branch's pipeline does "
                                 "not read the flow it was given");
        return;
      }
      ctx.spawn(
        std::move(name),
        [](receiver<T> in, sender<T> side, sender<T> out) -> task<> {
          bool side_open = true;
          bool main_open = true;
          while (auto x = co_await in.recv()) {
            if (side_open) {
              T copy = *x;
              if (!co_await side.send(std::move(copy))) {
                side_open = false;
                side.close();
              }
            }
            if (main_open && !co_await out.send(std::move(*x))) {
              main_open = false;
              out.close();
            }
            if (!side_open && !main_open)
              co_return;
          }
        },
        std::move(in->rx), std::move(*side), std::move(out));
    }};
  } else {
    return flow<T>{};
  }
}

} // namespace actorflow
