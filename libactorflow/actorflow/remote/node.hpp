// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Nodes: processes that run stages, registered by name, for drivers. C++
// cannot ship closures, so a stage runs only where it is compiled in.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/flow.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/remote/wire.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"
#include "actorflow/worker.hpp"

namespace actorflow {

// -- stages by name -----------------------------------------------------------

namespace detail {

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
  /// The stage function (a `std::function<Out(In)>`) for local workers.
  std::shared_ptr<void> fn;
};

/// The body of one worker of a distributed stage.
template <class In, class Out>
task<> stage_worker(std::shared_ptr<std::function<Out(In)>> f,
                    receiver<job<In>> work, sender<job<Out>> results) {
  while (auto j = co_await work.recv()) {
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
  template <class In, class Out, class F>
  stage_registry& register_stage(std::string name, F f) {
    static_assert(std::is_invocable_v<F&, In&&>,
                  "register_stage<In, Out>(name, f): f must be callable with "
                  "an In (by value or const reference)");
    static_assert(std::is_convertible_v<std::invoke_result_t<F&, In&&>, Out>,
                  "register_stage<In, Out>(name, f): f must return an Out "
                  "(or something convertible to it)");
    auto fn = std::make_shared<std::function<Out(In)>>(std::move(f));
    auto entry = std::make_shared<detail::stage_entry>(detail::stage_entry{
      name, std::type_index{typeid(In)}, std::type_index{typeid(Out)},
      [fn](caf::actor_system& sys, const remote_handle& work,
           const remote_handle& results, worker_options wo) {
        return spawn_worker(sys, std::move(wo), detail::stage_worker<In, Out>,
                            fn, import_receiver<detail::job<In>>(work),
                            import_sender<detail::job<Out>>(results));
      },
      fn});
    stages_[name] = std::move(entry);
    return *this;
  }

  /// Registers every item type of this registry with `cfg`.
  void apply(caf::actor_system_config& cfg) const;

  /// The stage `name`, or nullptr.
  const detail::stage_entry* find(const std::string& name) const;

  /// The names of all stages, sorted.
  std::vector<std::string> names() const;

private:
  std::vector<std::function<void(caf::actor_system_config&)>> type_adders_;
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

namespace detail {

// The messages a node's actor answers (drivers send node_spawn_atom).
using node_spawn_atom = caf::atom_constant<caf::atom("af_nspawn")>;
using node_info_atom = caf::atom_constant<caf::atom("af_ninfo")>;
/// Asks a node how many batches from peers it refused to load.
using node_rejected_atom = caf::atom_constant<caf::atom("af_nrej")>;

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
