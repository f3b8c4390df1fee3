// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The driver's side of `remote_parallel_then`: its scatter, its gathers and
// how they are wired to the workers on nodes (and local ones).
//
//   driver:  upstream -> scatter ==work==> workers on nodes / local workers
//                        ^  keeps a copy of every item until acknowledged
//                        |                          ==results==> gather
//                        +------ acks (seq) / worker lost <------+
//
// Every arrow is an actorflow channel whose mailbox lives in the driver; the
// nodes hold imported ends of `work` and `results`. A lost worker (its node
// died, hung past the heartbeat timeout, or the connection broke) makes the
// scatter send every unacknowledged item that the gather does not hold yet
// again; the gather drops duplicates by sequence number. So the output is
// exactly-once (and in order for the ordered variant), while a stage function
// may run more than once for an item (at-least-once execution).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/flow.hpp"
#include "actorflow/remote/detail/awaiters.hpp"
#include "actorflow/remote/detail/supervise.hpp"
#include "actorflow/remote/node.hpp"
#include "actorflow/remote/remote_options.hpp"
#include "actorflow/remote/wire.hpp"

namespace actorflow::detail {

/// Parses "host:port"; nullopt if malformed.
ACTORFLOW_EXPORT std::optional<std::pair<std::string, uint16_t>> parse_address(
  const std::string& where);

/// The registered name and layout of `type`, or an error naming it.
ACTORFLOW_EXPORT caf::expected<item_type_info> item_info(std::type_index type,
                                                         const char* role);

/// The scatter: numbers items, keeps each until its ack, sends it (again
/// after a loss) to the workers. When its workers are gone because a
/// supervisor failed (`failed_marker`), that supervisor's error is the one
/// the pipeline reports; the scatter fails with `workers_lost` only when
/// nobody else explains the loss.
template <class In>
task<> remote_scatter(receiver<In> in, receiver<uint64_t> acks,
                      sender<job<In>> work, size_t window, size_t remote,
                      size_t local, std::string stage) {
  std::map<uint64_t, In> store; // unacknowledged, by sequence number
  std::set<uint64_t> held;      // of those, held by the gather
  uint64_t seq = 0;
  size_t lost = 0;
  bool failed = false;   // a supervisor sent failed_marker: it reports why
  bool all_lost = false; // every worker was lost: nobody else reports
  bool upstream = true;
  bool acks_open = true;
  std::string why; // set when the workers are gone
  while (why.empty()) {
    if (!upstream && store.empty())
      co_return;
    if (upstream && store.size() < window) {
      auto which = co_await select(in, acks);
      if (which == 0) {
        auto x = co_await in.recv();
        if (!x) {
          upstream = false;
          continue;
        }
        auto it = store.emplace(seq, std::move(*x)).first;
        job<In> j{seq, it->second};
        ++seq;
        if (!co_await work.send(std::move(j)))
          why = "their work channel closed";
        continue;
      }
    }
    auto a = co_await acks.recv();
    if (!a) {
      acks_open = false;
      why = "the gather and every supervisor ended";
    } else if (*a == failed_marker) {
      failed = true;
    } else if (*a == lost_marker) {
      ++lost;
      if (local == 0 && lost >= remote) {
        all_lost = true;
        why = std::to_string(lost) + " lost";
        break;
      }
      // Send again what nobody but the lost worker might have held.
      for (auto& [s, x] : store) {
        if (held.count(s) != 0)
          continue;
        job<In> j{s, x};
        if (!co_await work.send(std::move(j))) {
          why = "their work channel closed";
          break;
        }
      }
    } else if ((*a & held_flag) != 0) {
      if (store.count(*a & ~held_flag) != 0)
        held.insert(*a & ~held_flag);
    } else {
      store.erase(*a);
      held.erase(*a);
    }
  }
  // Look for a supervisor's failed_marker in the rest of the acks, unless
  // every worker was lost (then no supervisor fails). Bounded: with the
  // work channel closed, every worker, supervisor and then the gather end.
  while (acks_open && !failed && !all_lost) {
    auto a = co_await acks.recv();
    if (!a)
      acks_open = false;
    else if (*a == failed_marker)
      failed = true;
  }
  if (failed)
    co_return; // a supervisor reports why
  fail(make_error(error_code::workers_lost, "every worker of stage '" + stage
                                              + "' is gone (" + why + "); "
                                              + std::to_string(store.size())
                                              + " items unfinished"));
}

/// The ordered gather: restores sequence order, drops duplicates, acks every
/// emitted item (and every item it holds back).
template <class Out>
task<> remote_gather_ordered(receiver<job<Out>> results, sender<uint64_t> acks,
                             sender<Out> out, size_t window) {
  std::vector<std::optional<Out>> pending(window);
  uint64_t next = 0;
  while (auto r = co_await results.recv()) {
    auto s = r->first;
    auto& slot = pending[s % window];
    if (s < next || s >= next + window || slot)
      continue; // a duplicate (a lost worker's item done twice)
    slot.emplace(std::move(r->second));
    if (s != next) {
      (void)co_await acks.send(s | held_flag);
      continue;
    }
    for (;;) {
      auto& head = pending[next % window];
      if (!head)
        break;
      auto y = std::move(*head);
      head.reset();
      if (!co_await out.send(std::move(y)))
        co_return;
      (void)co_await acks.send(next);
      ++next;
    }
  }
}

/// The unordered gather: emits in completion order, drops duplicates.
template <class Out>
task<> remote_gather_unordered(receiver<job<Out>> results,
                               sender<uint64_t> acks, sender<Out> out) {
  uint64_t low = 0;        // every item below was emitted
  std::set<uint64_t> done; // emitted items at or above `low`
  while (auto r = co_await results.recv()) {
    auto s = r->first;
    if (s < low || !done.insert(s).second)
      continue;
    while (!done.empty() && *done.begin() == low) {
      done.erase(done.begin());
      ++low;
    }
    if (!co_await out.send(std::move(r->second)))
      co_return;
    (void)co_await acks.send(s);
  }
}

template <bool Ordered, class Out, class In>
flow<Out> remote_stage(flow<In>&& upstream, placement where, std::string stage,
                       remote_options opts) {
  const char* op = Ordered ? "remote_parallel_then"
                           : "remote_parallel_then_unordered";
  auto [build, err] = std::move(upstream).release();
  if (err)
    return flow<Out>{nullptr, std::move(err)};
  auto fail_with = [&](error_code code, const std::string& what) {
    return flow<Out>{nullptr, make_error(code, std::string{op} + "(\"" + stage
                                                 + "\"): " + what)};
  };
  size_t remote = 0;
  size_t local = 0;
  for (auto& w : where) {
    if (w.workers == 0)
      return fail_with(error_code::invalid_argument,
                       "zero workers at " + w.where);
    if (w.where == "local")
      local += w.workers;
    else if (parse_address(w.where))
      remote += w.workers;
    else
      return fail_with(error_code::invalid_argument,
                       "bad node address '" + w.where
                         + "' (expected host:port or local)");
  }
  if (remote + local == 0)
    return fail_with(error_code::invalid_argument, "needs at least one worker");
  std::shared_ptr<std::function<Out(In)>> local_fn;
  if (local > 0) {
    auto entry = opts.local_stages ? opts.local_stages->find(stage) : nullptr;
    if (entry == nullptr)
      return fail_with(error_code::unknown_stage,
                       "local workers need the stage in "
                       "remote_options::local_stages");
    if (entry->in != typeid(In) || entry->out != typeid(Out))
      return fail_with(error_code::type_mismatch,
                       "the local stage has other item types");
    local_fn = std::static_pointer_cast<std::function<Out(In)>>(entry->fn);
  }
  auto in_info = item_info(typeid(In), "input");
  if (!in_info)
    return flow<Out>{nullptr, in_info.error()};
  auto out_info = item_info(typeid(Out), "output");
  if (!out_info)
    return flow<Out>{nullptr, out_info.error()};
  return flow<Out>{[build = std::move(build), where = std::move(where),
                    stage = std::move(stage), opts, remote, local, local_fn,
                    in = *in_info, out_info = *out_info,
                    op](build_context& ctx, sender<Out> out) {
    auto n = remote + local;
    auto window = opts.window != 0 ? opts.window : 64 * n;
    window = std::max(window, n);
    auto batch = std::max<uint32_t>(1, opts.batch);
    auto in_ch = ctx.make_channel<In>({});
    // Like the workers of parallel_then, remote workers read about 1 ms of
    // work ahead: a worker runs its read-ahead in one activation, and its
    // node's thread deserializes nothing else meanwhile (an exit message
    // from a cancelled pipeline included).
    auto work
      = ctx.make_channel<job<In>>({std::max<size_t>(4 * batch * n, 64), batch},
                                  std::chrono::milliseconds(1));
    auto results = ctx.make_channel<job<Out>>({window, 0});
    auto acks = ctx.make_channel<uint64_t>({2 * window + n + 8, 0});
    if (!in_ch || !work || !results || !acks)
      return;
    build(ctx, std::move(in_ch->tx));
    auto base = ctx.stage_name(op);
    ctx.spawn(base + ".scatter", remote_scatter<In>, std::move(in_ch->rx),
              std::move(acks->rx), std::move(work->tx), window, remote, local,
              stage);
    size_t index = 0;
    for (auto& w : where) {
      for (size_t i = 0; i < w.workers; ++i) {
        auto name = base + ".worker" + std::to_string(++index);
        if (w.where == "local") {
          ctx.spawn(name, stage_worker<In, Out>, local_fn, work->rx,
                    results->tx);
          continue;
        }
        auto addr = *parse_address(w.where);
        auto wh = export_handle(work->rx);
        auto rh = export_handle(results->tx);
        auto request = caf::make_message(node_spawn_atom::value, stage, in.name,
                                         in.layout, out_info.name,
                                         out_info.layout, wh, rh,
                                         name + "@" + w.where);
        ctx.spawn(name + ".supervisor", supervise, w.where, addr.second,
                  addr.first, std::move(request), wh, rh, acks->tx, opts);
      }
    }
    work->rx.close();
    results->tx.close();
    if constexpr (Ordered)
      ctx.spawn(base + ".gather", remote_gather_ordered<Out>,
                std::move(results->rx), std::move(acks->tx), std::move(out),
                window);
    else
      ctx.spawn(base + ".gather", remote_gather_unordered<Out>,
                std::move(results->rx), std::move(acks->tx), std::move(out));
  }};
}

} // namespace actorflow::detail
