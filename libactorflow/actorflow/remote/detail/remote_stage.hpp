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
#include "actorflow/flow/detail/reorder_buffer.hpp"
#include "actorflow/remote/detail/awaiters.hpp"
#include "actorflow/remote/detail/join.hpp"
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

/// Spawns the gather of a remote stage (ordered or not) on the results.
template <class Out>
using remote_gather_spawner
  = void (*)(build_context& ctx, std::string name, receiver<job<Out>> results,
             sender<uint64_t> acks, sender<Out> out, size_t window);

/// A remote stage as `remote_stage` checked it, before the pipeline runs:
/// where its workers go, the local stage function and the item types.
template <class In, class Out>
struct remote_plan {
  /// "remote_parallel_then" or "remote_parallel_then_unordered".
  const char* op = nullptr;
  remote_gather_spawner<Out> spawn_gather = nullptr;
  placement where;
  std::string stage;
  remote_options opts;
  size_t remote = 0;
  size_t local = 0;
  std::shared_ptr<stage_body<In, Out>> local_body{};
  item_type_info in{};
  item_type_info out{};

  /// An error of this stage: `op("stage"): what`.
  caf::error error(error_code code, const std::string& what) const {
    return make_error(code, std::string{op} + "(\"" + stage + "\"): " + what);
  }
};

/// Counts the remote and the local workers of `plan.where`.
template <class In, class Out>
caf::error count_workers(remote_plan<In, Out>& plan) {
  for (auto& w : plan.where) {
    if (w.workers == 0)
      return plan.error(error_code::invalid_argument,
                        "zero workers at " + w.where);
    if (w.where == "local")
      plan.local += w.workers;
    else if (parse_address(w.where))
      plan.remote += w.workers;
    else
      return plan.error(error_code::invalid_argument,
                        "bad node address '" + w.where
                          + "' (expected host:port or local)");
  }
  if (plan.remote + plan.local == 0)
    return plan.error(error_code::invalid_argument,
                      "needs at least one worker");
  return caf::none;
}

/// Finds the stage function of the local workers, if there are any.
template <class In, class Out>
caf::error find_local_stage(remote_plan<In, Out>& plan) {
  if (plan.local == 0)
    return caf::none;
  auto entry = plan.opts.local_stages ? plan.opts.local_stages->find(plan.stage)
                                      : nullptr;
  if (entry == nullptr)
    return plan.error(error_code::unknown_stage,
                      "local workers need the stage in "
                      "remote_options::local_stages");
  if (entry->in != typeid(In) || entry->out != typeid(Out))
    return plan.error(error_code::type_mismatch,
                      "the local stage has other item types");
  plan.local_body = std::static_pointer_cast<stage_body<In, Out>>(entry->body);
  return caf::none;
}

/// Checks `plan` and fills in what the workers need; the first error found.
template <class In, class Out>
caf::error resolve(remote_plan<In, Out>& plan) {
  if (auto err = count_workers(plan))
    return err;
  if (auto err = find_local_stage(plan))
    return err;
  auto in_info = item_info(typeid(In), "input");
  if (!in_info)
    return in_info.error();
  plan.in = *in_info;
  auto out_info = item_info(typeid(Out), "output");
  if (!out_info)
    return out_info.error();
  plan.out = *out_info;
  return caf::none;
}

/// Spawns the supervisor of the remote worker `name` at `where`, on exported
/// ends of `work` and `results`; `ticket` is set for a worker that joins a
/// running stage.
template <class In, class Out>
void spawn_supervisor(build_context& ctx, const remote_plan<In, Out>& plan,
                      const std::string& name, const std::string& where,
                      const receiver<job<In>>& work,
                      const sender<job<Out>>& results,
                      const sender<uint64_t>& acks,
                      std::shared_ptr<join_ticket> ticket) {
  auto addr = *parse_address(where);
  auto wh = export_handle(work);
  auto rh = export_handle(results);
  auto request = caf::make_message(node_spawn_atom::value, plan.stage,
                                   plan.in.name, plan.in.layout, plan.out.name,
                                   plan.out.layout, wh, rh, name + "@" + where);
  auto opts = plan.opts;
  opts.control.reset(); // it gets the control's state alone
  ctx.spawn(name + ".supervisor", supervise, where, addr.second, addr.first,
            std::move(request), wh, rh, acks, std::move(opts),
            std::move(ticket),
            plan.opts.control ? plan.opts.control->state() : nullptr);
}

/// Spawns the workers of `plan`: local ones on the channels themselves,
/// remote ones by a supervisor each, on exported ends.
template <class In, class Out>
void spawn_remote_workers(build_context& ctx, const remote_plan<In, Out>& plan,
                          const std::string& base, channel_pair<job<In>>& work,
                          channel_pair<job<Out>>& results,
                          sender<uint64_t>& acks) {
  size_t index = 0;
  for (auto& w : plan.where) {
    for (size_t i = 0; i < w.workers; ++i) {
      auto name = base + ".worker" + std::to_string(++index);
      if (w.where == "local")
        ctx.spawn(name, *plan.local_body, work.rx, results.tx);
      else
        spawn_supervisor(ctx, plan, name, w.where, work.rx, results.tx, acks,
                         nullptr);
    }
  }
}

/// What a stage with a `stage_control` needs to start workers while it runs:
/// the channel of join requests, the run's spawner, and ends of the stage's
/// channels that it keeps open for the workers to come. Owned by the
/// scatter: it disarms the control when the scatter lets go of it.
template <class In, class Out>
struct stage_growth {
  std::shared_ptr<control_state> control;
  receiver<join_request> requests;
  build_context ctx;
  remote_plan<In, Out> plan;
  std::string base;
  size_t workers = 0; // numbers the workers, the first ones included
  receiver<job<In>> work;
  sender<job<Out>> results;
  sender<uint64_t> acks;

  stage_growth(std::shared_ptr<control_state> control,
               receiver<join_request> requests, const build_context& ctx,
               remote_plan<In, Out> plan, std::string base,
               receiver<job<In>> work, sender<job<Out>> results,
               sender<uint64_t> acks)
    : control(std::move(control)),
      requests(std::move(requests)),
      ctx(ctx),
      plan(std::move(plan)),
      base(std::move(base)),
      workers(this->plan.remote + this->plan.local),
      work(std::move(work)),
      results(std::move(results)),
      acks(std::move(acks)) {
    // nop
  }

  stage_growth(const stage_growth&) = delete;
  stage_growth& operator=(const stage_growth&) = delete;

  ~stage_growth() {
    control->disarm();
  }

  /// Starts the supervisors that `req` asks for; returns how many.
  size_t start(join_request& req) {
    if (!req.ticket)
      return 0; // nobody waits for it (see inspect)
    for (size_t i = 0; i < req.workers; ++i)
      spawn_supervisor(ctx, plan, base + ".worker" + std::to_string(++workers),
                       req.where, work, results, acks, req.ticket);
    return req.workers;
  }
};

/// The scatter: numbers items, keeps each until its ack, sends it (again
/// after a loss) to the workers, and starts the workers that join while it
/// runs (`grow`, if the stage has a `stage_control`). When its workers are
/// gone because a supervisor failed (`failed_marker`), that supervisor's
/// error is the one the pipeline reports; the scatter fails with
/// `workers_lost` only when nobody else explains the loss.
template <class In, class Out>
task<> remote_scatter(receiver<In> in, receiver<uint64_t> acks,
                      sender<job<In>> work, size_t window, size_t remote,
                      size_t local, std::string stage,
                      std::shared_ptr<stage_growth<In, Out>> grow) {
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
    // 0: an item from upstream, 1: an ack, 2: a join request. A select
    // yields the first of its channels that has something: join requests
    // come first, or a busy upstream would starve them.
    bool take = upstream && store.size() < window;
    int which = 1;
    if (grow && take) {
      auto ready = co_await select(grow->requests, in, acks);
      which = ready == 0 ? 2 : ready - 1;
    } else if (grow) {
      auto ready = co_await select(grow->requests, acks);
      which = ready == 0 ? 2 : 1;
    } else if (take) {
      which = co_await select(in, acks);
    }
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
    if (which == 2) {
      if (auto r = co_await grow->requests.recv())
        remote += grow->start(*r);
      else
        grow.reset(); // its control is gone: no more requests
      continue;
    }
    auto a = co_await acks.recv();
    if (!a) {
      acks_open = false;
      why = "the gather and every supervisor ended";
    } else if (*a == failed_marker) {
      failed = true;
    } else if (*a == lost_marker || *a == withdrawn_marker) {
      // A worker was lost, or one left without loss (it was to join and
      // never ran, or it was drained).
      if (*a == lost_marker)
        ++lost;
      else
        --remote;
      if (local == 0 && lost >= remote) {
        all_lost = true;
        why = lost > 0 ? std::to_string(lost) + " lost"
                       : "the last ones were drained";
        break;
      }
      if (*a == withdrawn_marker)
        continue; // it holds no items
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
  // No more workers join, and the ends kept for them close: the acks channel
  // ends once the gather and the supervisors did.
  grow.reset();
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
  // Holds at most `window` results: the scatter never has more than that
  // unacknowledged, and `file` refuses duplicates (a lost worker's item done
  // twice).
  reorder_buffer<Out> pending{window};
  while (auto r = co_await results.recv()) {
    auto s = r->first;
    if (!pending.file(s, std::move(r->second)))
      continue;
    if (s != pending.next()) {
      (void)co_await acks.send(s | held_flag);
      continue;
    }
    for (;;) {
      auto emitted = pending.next();
      auto y = pending.pop();
      if (!y)
        break;
      if (!co_await out.send(std::move(*y)))
        co_return;
      (void)co_await acks.send(emitted);
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

template <class Out>
void spawn_remote_gather_ordered(build_context& ctx, std::string name,
                                 receiver<job<Out>> results,
                                 sender<uint64_t> acks, sender<Out> out,
                                 size_t window) {
  ctx.spawn(std::move(name), remote_gather_ordered<Out>, std::move(results),
            std::move(acks), std::move(out), window);
}

template <class Out>
void spawn_remote_gather_unordered(build_context& ctx, std::string name,
                                   receiver<job<Out>> results,
                                   sender<uint64_t> acks, sender<Out> out,
                                   size_t) {
  ctx.spawn(std::move(name), remote_gather_unordered<Out>, std::move(results),
            std::move(acks), std::move(out));
}

/// Builds the remote stage of `plan` when its pipeline starts: its channels,
/// then scatter, workers and gather.
template <class In, class Out>
void build_remote_stage(build_context& ctx, const build_fn<In>& upstream,
                        const remote_plan<In, Out>& plan, sender<Out> out) {
  auto n = plan.remote + plan.local;
  auto window = plan.opts.window != 0 ? plan.opts.window : 64 * n;
  window = std::max(window, n);
  auto batch = std::max<uint32_t>(1, plan.opts.batch);
  auto in_ch = ctx.make_channel<In>({});
  // Like the workers of parallel_then, remote workers read about 1 ms of
  // work ahead: a worker runs its read-ahead in one activation, and its
  // node's thread deserializes nothing else meanwhile (an exit message
  // from a cancelled pipeline included).
  auto work = ctx.make_channel<job<In>>(
    {std::max<size_t>(4 * batch * n, 64), batch}, std::chrono::milliseconds(1));
  auto results = ctx.make_channel<job<Out>>({window, 0});
  auto acks = ctx.make_channel<uint64_t>({2 * window + n + 8, 0});
  if (!in_ch || !work || !results || !acks)
    return;
  // A stage_control gets the sending end of the join requests first, as
  // it may serve another running stage.
  std::optional<receiver<join_request>> requests;
  if (plan.opts.control) {
    auto ch = ctx.make_channel<join_request>({16, 1});
    if (!ch)
      return;
    ctx.mark_control(*ch);
    auto patience = plan.opts.connect_timeout + plan.opts.spawn_timeout
                    + std::chrono::seconds{1};
    if (!plan.opts.control->state()->arm(std::move(ch->tx), plan.stage,
                                         patience)) {
      ctx.error = plan.error(error_code::invalid_argument,
                             "its stage_control serves another running stage");
      return;
    }
    requests.emplace(std::move(ch->rx));
  }
  upstream(ctx, std::move(in_ch->tx));
  auto base = ctx.stage_name(plan.op);
  std::shared_ptr<stage_growth<In, Out>> grow;
  if (requests)
    grow = std::make_shared<stage_growth<In, Out>>(plan.opts.control->state(),
                                                   std::move(*requests), ctx,
                                                   plan, base, work->rx,
                                                   results->tx, acks->tx);
  ctx.spawn(base + ".scatter", remote_scatter<In, Out>, std::move(in_ch->rx),
            std::move(acks->rx), std::move(work->tx), window, plan.remote,
            plan.local, plan.stage, std::move(grow));
  spawn_remote_workers(ctx, plan, base, *work, *results, acks->tx);
  work->rx.close();
  results->tx.close();
  plan.spawn_gather(ctx, base + ".gather", std::move(results->rx),
                    std::move(acks->tx), std::move(out), window);
}

/// `upstream` followed by the remote stage `stage` (see
/// `remote_parallel_then`), or a flow that fails with the first error found.
template <class Out, class In>
flow<Out> remote_stage(flow<In>&& upstream, placement where, std::string stage,
                       remote_options opts, const char* op,
                       remote_gather_spawner<Out> spawn_gather) {
  auto [build, err] = std::move(upstream).release();
  if (err)
    return flow<Out>{nullptr, std::move(err)};
  remote_plan<In, Out> plan{.op = op,
                            .spawn_gather = spawn_gather,
                            .where = std::move(where),
                            .stage = std::move(stage),
                            .opts = std::move(opts)};
  if (auto bad = resolve(plan))
    return flow<Out>{nullptr, std::move(bad)};
  return flow<Out>{[build = std::move(build), plan = std::move(plan)](
                     build_context& ctx, sender<Out> out) {
    build_remote_stage(ctx, build, plan, std::move(out));
  }};
}

} // namespace actorflow::detail
