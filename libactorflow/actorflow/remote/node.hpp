// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Nodes: processes that run stages, registered by name, for drivers. C++
// cannot ship closures, so a stage runs only where it is compiled in.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/detail/host.hpp"
#include "actorflow/flow.hpp"
#include "actorflow/flow/detail/ordered_calls.hpp"
#include "actorflow/flow/detail/stage_traits.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/remote/wire.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"
#include "actorflow/worker.hpp"

namespace actorflow {

// -- stages by name -----------------------------------------------------------

namespace detail {

/// The body of a worker of a stage with input `In` and output `Out`, on a
/// node or local: what a `stage_registry` keeps per stage.
template <class In, class Out>
using stage_body = std::function<task<>(receiver<job<In>>, sender<job<Out>>)>;

/// One stage of a `stage_registry`.
struct stage_entry {
  std::string name;
  std::type_index in;
  std::type_index out;
  /// Spawns a worker of this stage on imported ends of a work channel
  /// (`job<In>`) and a result channel (`job<Out>`).
  std::function<worker(caf::actor_system&, const remote_handle& work,
                       const remote_handle& results, worker_options)>
    spawn;
  /// The worker body (a `stage_body<In, Out>`) for local workers.
  std::shared_ptr<void> body;
};

/// Ends a worker that was drained (its node drains, or its driver called
/// `stage_control::drain`): it ends with
/// `error_code::drained`, and the frame's channel ends close, so the items it
/// received but did not take go back to the work channel for other workers.
[[noreturn]] ACTORFLOW_EXPORT void leave_drained();

/// The body of one worker of a distributed stage with a plain function. A
/// drain request lets it finish the item in hand, then it leaves.
template <class In, class Out>
task<> stage_worker(std::shared_ptr<std::function<Out(In)>> f,
                    receiver<job<In>> work, sender<job<Out>> results) {
  bool draining = false;
  drain_hook hook{[&] {
    draining = true;
    work.interrupt_recv();
  }};
  while (!draining) {
    auto j = co_await work.recv();
    if (!j)
      break;
    std::optional<Out> y;
    try {
      y.emplace((*f)(std::move(j->second)));
    } catch (...) {
      rethrow_at(static_cast<size_t>(j->first));
    }
    job<Out> r{j->first, std::move(*y)};
    if (!co_await results.send(std::move(r)))
      co_return;
  }
  if (draining)
    leave_drained();
}

/// One call of a coroutine stage function, for `stage_task_worker`.
template <class In, class Out>
task<job<Out>> call_stage(std::shared_ptr<std::function<task<Out>(In)>> f,
                          job<In> j) {
  std::optional<Out> y;
  try {
    auto t = (*f)(std::move(j.second));
    y.emplace(co_await std::move(t));
  } catch (...) {
    rethrow_at(static_cast<size_t>(j.first));
  }
  co_return job<Out>{j.first, std::move(*y)};
}

/// The body of one worker of a distributed stage with a coroutine function:
/// up to `concurrency` calls at once (while they wait, e.g. on an `ask`),
/// their results sent in the order of their items. A drain request lets it
/// finish the calls in flight, then it leaves.
template <class In, class Out>
task<> stage_task_worker(std::shared_ptr<std::function<task<Out>(In)>> f,
                         size_t concurrency, receiver<job<In>> work,
                         sender<job<Out>> results) {
  auto call = [f](job<In> j, size_t) {
    return call_stage<In, Out>(f, std::move(j));
  };
  ordered_calls<job<In>, job<Out>, decltype(call)> calls{concurrency, work,
                                                         std::move(call)};
  bool draining = false;
  drain_hook hook{[&] {
    draining = true;
    calls.stop_taking();
  }};
  co_await send_results(calls, results, [](job<Out>&& y) {
    return std::optional<job<Out>>{std::move(y)};
  });
  if (draining)
    leave_drained();
}

} // namespace detail

/// Stage functions by name, with their item types: what a node can run for
/// drivers, and what a driver can run locally beside remote workers. C++
/// cannot ship closures, so every process that runs a stage has it compiled
/// in (or loaded as a plugin, see tools/actorflow_node.cpp).
///
/// ~~~
/// actorflow::stage_registry reg;
/// reg.add_item_type<int32_t>("int32");
/// reg.register_stage<int32_t, int32_t>("square", [](int32_t x) {
///   return x * x;
/// });
/// reg.apply(cfg); // before constructing the actor system
/// ~~~
class ACTORFLOW_EXPORT stage_registry {
public:
  /// Registers `T` under `name` with every config this registry is applied
  /// to (see `add_item_type`). The names must be the same in every process.
  template <class T>
  stage_registry& add_item_type(std::string name) {
    type_adders_.push_back([name](caf::actor_system_config& cfg) {
      actorflow::add_item_type<T>(cfg, name);
    });
    return *this;
  }

  /// Registers the stage `name`: `f` maps `In` to `Out`. Both item types
  /// must be registered with `add_item_type` (here or in the config).
  ///
  /// `f` is a plain function (`Out(In)`), or a coroutine (`task<Out>(In)`)
  /// that may wait, e.g. `co_await actorflow::ask<Out>(...)` on an actor of
  /// the node (see `on_start`). A worker of a coroutine stage runs up to
  /// `concurrency` calls at once while they wait, and sends their results
  /// in the order of their items; a plain function runs one call at a time
  /// (`concurrency` must be 1). Throws `std::invalid_argument` for a
  /// concurrency of 0, or above 1 for a plain function.
  ///
  /// ~~~
  /// reg.register_stage<int32_t, int64_t>(
  ///   "price",
  ///   [pricer](int32_t id) -> actorflow::task<int64_t> {
  ///     auto p = co_await actorflow::ask<int64_t>(*pricer, 1s, id);
  ///     if (!p)
  ///       throw actorflow::error_exception{p.error()};
  ///     co_return *p;
  ///   },
  ///   8);
  /// ~~~
  template <class In, class Out, class F>
  stage_registry& register_stage(std::string name, F f,
                                 size_t concurrency = 1) {
    static_assert(std::is_invocable_v<F&, In&&>,
                  "register_stage<In, Out>(name, f): f must be callable with "
                  "an In (by value or const reference)");
    using result = std::remove_cvref_t<std::invoke_result_t<F&, In&&>>;
    std::shared_ptr<detail::stage_body<In, Out>> body;
    if constexpr (detail::is_task<result>::value) {
      static_assert(std::is_same_v<result, task<Out>>,
                    "register_stage<In, Out>(name, f): a coroutine f must "
                    "return task<Out>");
      if (concurrency == 0)
        throw std::invalid_argument("register_stage(\"" + name
                                    + "\"): concurrency must be at least 1");
      auto fn = std::make_shared<std::function<task<Out>(In)>>(std::move(f));
      body = std::make_shared<detail::stage_body<In, Out>>(
        [fn, concurrency](receiver<detail::job<In>> work,
                          sender<detail::job<Out>> results) {
          return detail::stage_task_worker<In, Out>(
            fn, concurrency, std::move(work), std::move(results));
        });
    } else {
      static_assert(std::is_convertible_v<result, Out>,
                    "register_stage<In, Out>(name, f): f must return an Out "
                    "(or something convertible to it), or task<Out>");
      if (concurrency != 1)
        throw std::invalid_argument(
          "register_stage(\"" + name
          + "\"): concurrency above 1 needs a coroutine stage function "
            "(returning task<Out>); a plain one runs a call at a time");
      auto fn = std::make_shared<std::function<Out(In)>>(std::move(f));
      body = std::make_shared<detail::stage_body<In, Out>>(
        [fn](receiver<detail::job<In>> work, sender<detail::job<Out>> results) {
          return detail::stage_worker<In, Out>(fn, std::move(work),
                                               std::move(results));
        });
    }
    auto entry = std::make_shared<detail::stage_entry>(detail::stage_entry{
      name, std::type_index{typeid(In)}, std::type_index{typeid(Out)},
      [body](caf::actor_system& sys, const remote_handle& work,
             const remote_handle& results, worker_options wo) {
        return spawn_worker(sys, std::move(wo), *body,
                            import_receiver<detail::job<In>>(work),
                            import_sender<detail::job<Out>>(results));
      },
      body});
    stages_[name] = std::move(entry);
    return *this;
  }

  /// Runs `f` with the actor system of a node that serves this registry,
  /// before the node accepts drivers (`serve_node` calls `start`): where a
  /// plugin spawns the actors that its stage functions ask, e.g. a cache or
  /// a connection pool that lives on the node. Keep their handles where the
  /// stage functions find them (a `std::shared_ptr<caf::actor>` both
  /// capture), and stop them in `on_stop`: an actor that lives on keeps
  /// its actor system from shutting down.
  ///
  /// ~~~
  /// auto pricer = std::make_shared<caf::actor>();
  /// reg.on_start([pricer](caf::actor_system& sys) {
  ///   *pricer = sys.spawn(pricer_actor);
  /// });
  /// reg.on_stop([pricer] {
  ///   caf::anon_send_exit(*pricer, caf::exit_reason::user_shutdown);
  /// });
  /// ~~~
  stage_registry& on_start(std::function<void(caf::actor_system&)> f) {
    start_hooks_.push_back(std::move(f));
    return *this;
  }

  /// Runs `f` when what `start` returned is destroyed (the `on_stop`
  /// functions run newest first).
  stage_registry& on_stop(std::function<void()> f) {
    stop_hooks_.push_back(std::move(f));
    return *this;
  }

  /// What `start` returns: runs the registry's `on_stop` functions, newest
  /// first, when it is destroyed (or assigned to).
  class [[nodiscard]] started {
  public:
    /// Runs nothing.
    started() = default;

    /// Runs `stops` (newest, i.e. last, first) when destroyed.
    explicit started(std::vector<std::function<void()>> stops)
      : stops_(std::move(stops)) {
      // nop
    }

    /// Takes over what `other` would run; `other` runs nothing.
    started(started&& other) noexcept
      : stops_(std::exchange(other.stops_, {})) {
      // nop
    }

    /// Runs what this one holds, then takes over what `other` would run.
    started& operator=(started&& other) noexcept {
      if (this != &other) {
        stop();
        stops_ = std::exchange(other.stops_, {});
      }
      return *this;
    }

    /// Runs the stop functions it holds.
    ~started() {
      stop();
    }

  private:
    void stop() noexcept {
      for (auto i = stops_.rbegin(); i != stops_.rend(); ++i)
        (*i)();
      stops_.clear();
    }

    std::vector<std::function<void()>> stops_;
  };

  /// Runs the `on_start` functions with `sys`, in the order they were
  /// added, and returns what runs the `on_stop` functions when destroyed.
  /// `serve_node` does so for the node's lifetime; a driver that runs the
  /// registry's stages in local workers only (`remote_options::
  /// local_stages`) keeps the result for as long as its pipelines run, and
  /// destroys it before its actor system.
  ///
  /// ~~~
  /// caf::actor_system sys{cfg};
  /// auto stages = reg->start(sys); // destroyed before sys
  /// ~~~
  started start(caf::actor_system& sys) const;

  /// Registers every item type of this registry with `cfg`.
  void apply(caf::actor_system_config& cfg) const;

  /// The stage `name`, or nullptr.
  const detail::stage_entry* find(const std::string& name) const;

  /// The names of all stages, sorted.
  std::vector<std::string> names() const;

private:
  std::vector<std::function<void(caf::actor_system_config&)>> type_adders_;
  std::vector<std::function<void(caf::actor_system&)>> start_hooks_;
  std::vector<std::function<void()>> stop_hooks_;
  std::map<std::string, std::shared_ptr<detail::stage_entry>> stages_;
};

// -- nodes --------------------------------------------------------------------

/// Where and how a node accepts drivers.
struct node_options {
  /// The address to bind; the loopback interface unless told otherwise.
  std::string host = "127.0.0.1";
  /// 0 picks a free port (see the result of `serve_node`).
  uint16_t port = 0;
};

/// Makes this process a node: an actor published on `opts.host:opts.port`
/// spawns workers of `reg`'s stages for drivers. A worker stops when its
/// driver's pipeline ends or the driver is lost; the node keeps serving.
/// Returns the port.
///
/// ~~~
/// auto port = actorflow::serve_node(sys, reg, {"127.0.0.1", 4242});
/// ~~~
ACTORFLOW_EXPORT caf::expected<uint16_t> serve_node(
  caf::actor_system& sys, std::shared_ptr<const stage_registry> reg,
  node_options opts = {});

/// Drains the nodes that `serve_node` started on `sys`: they start no more
/// workers, and each running worker finishes the items it holds, hands the
/// rest back to its driver (which gives them to its other workers, so no
/// item runs twice) and leaves. Returns how many workers left, once all of
/// them did and their drivers know it; `error_code::timeout` if that took
/// longer than `timeout` (the workers that remain then end with the
/// process, and their drivers send their items again). A node process
/// exits after a drain: `actorflow_node` drains on SIGTERM.
///
/// ~~~
/// auto left = actorflow::drain_node(sys, std::chrono::seconds{30});
/// if (left)
///   std::printf("DRAINED %llu\n", static_cast<unsigned long long>(*left));
/// ~~~
ACTORFLOW_EXPORT caf::expected<uint64_t> drain_node(caf::actor_system& sys,
                                                    caf::timespan timeout);

namespace detail {

// The messages a node's actor answers (drivers send node_spawn_atom).
using node_spawn_atom = caf::atom_constant<caf::atom("af_nspawn")>;
using node_info_atom = caf::atom_constant<caf::atom("af_ninfo")>;
/// Asks a node how many batches from peers it refused to load.
using node_rejected_atom = caf::atom_constant<caf::atom("af_nrej")>;
/// Drains a node (see `drain_node`); answers how many workers left.
using node_drain_atom = caf::atom_constant<caf::atom("af_ndrain")>;

/// Checks a driver's spawn request (the elements after `node_spawn_atom`)
/// against `reg`: the stage exists, its item types have the driver's names
/// and layouts, and both channel ends are well formed. Returns the stage, or
/// the error the driver gets. Every field comes from a peer's bytes; a
/// separate function so that fuzz/ can run the node's own check.
ACTORFLOW_EXPORT caf::expected<const stage_entry*> check_spawn(
  const stage_registry& reg, const std::string& stage,
  const std::string& in_name, const std::string& in_layout,
  const std::string& out_name, const std::string& out_layout,
  const remote_handle& work, const remote_handle& results);

} // namespace detail

} // namespace actorflow
