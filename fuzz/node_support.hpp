// This file is part of actorflow. See README.md for the project's license.

#pragma once

// An actor system set up as actorflow_node sets up its own (the example
// plugin's item types and stages, the middleman, actorflow's wire types),
// and a deserialization context in which actor handles of other nodes
// become proxies, as they do in CAF's BASP broker: what the harnesses of
// the node's messages decode with.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_cast.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/forwarding_actor_proxy.hpp>
#include <caf/make_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/scoped_execution_unit.hpp>

#include "actorflow/error.hpp"
#include "actorflow/init.hpp"
#include "actorflow/remote.hpp"

#include "fuzz_support.hpp"

namespace actorflow_fuzz {

/// The stages of examples/plugins/example_stages.cpp, which a node started
/// as in the README hosts.
inline std::shared_ptr<actorflow::stage_registry> node_stages() {
  auto reg = std::make_shared<actorflow::stage_registry>();
  reg->add_item_type<int32_t>("int32");
  reg->add_item_type<int64_t>("int64");
  reg->add_item_type<std::string>("string");
  reg->register_stage<int32_t, int64_t>("square", [](int32_t x) {
    return int64_t{x} * x;
  });
  reg->register_stage<std::string, std::string>(
    "normalize", [](std::string line) { return line; });
  return reg;
}

/// Makes proxies for actor handles of other nodes, as CAF's BASP broker does
/// (none for an invalid node or actor id); messages to them go nowhere.
class proxy_maker : public caf::proxy_registry::backend {
public:
  explicit proxy_maker(caf::actor_system& sys) : sys_(sys) {
    // nop
  }

  caf::strong_actor_ptr make_proxy(caf::node_id nid,
                                   caf::actor_id aid) override {
    if (nid == caf::none || aid == caf::invalid_actor_id)
      return nullptr;
    caf::actor_config cfg;
    return caf::make_actor<caf::forwarding_actor_proxy, caf::strong_actor_ptr>(
      aid, nid, &sys_, cfg, caf::actor{});
  }

  void set_last_hop(caf::node_id*) override {
    // nop
  }

private:
  caf::actor_system& sys_;
};

/// The node's actor system and a deserialization context for its messages.
struct node_env {
  caf::actor_system_config cfg;
  std::shared_ptr<actorflow::stage_registry> reg = node_stages();
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<proxy_maker> maker;
  std::unique_ptr<caf::proxy_registry> proxies;
  std::unique_ptr<caf::scoped_execution_unit> ctx;

  node_env() {
    // One scheduler thread: the harness decodes on its own thread.
    cfg.set("scheduler.max-threads", size_t{1});
    actorflow::init(cfg);
    if (auto err = actorflow::init_distribution(cfg, {}))
      std::abort();
    reg->apply(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    maker = std::make_unique<proxy_maker>(*sys);
    proxies = std::make_unique<caf::proxy_registry>(*sys, *maker);
    ctx = std::make_unique<caf::scoped_execution_unit>(sys.get());
    ctx->proxy_registry_ptr(proxies.get());
  }

  /// A proxy for actor `aid` of a made-up node (for seeds).
  caf::actor remote_actor(caf::actor_id aid) {
    caf::node_id::default_data::host_id_type host;
    for (size_t i = 0; i < host.size(); ++i)
      host[i] = static_cast<uint8_t>(0xa0 + i);
    auto nid = caf::make_node_id(4242, host);
    return caf::actor_cast<caf::actor>(proxies->get_or_put(nid, aid));
  }
};

/// True if `x` and `y` agree in every field that actorflow defines (all but
/// the channel's actor handle, which is CAF's: a handle naming an invalid
/// node id, with process id 0 or an all-zero host, decodes to a proxy but
/// re-serializes as "no node", which then decodes to no actor at all).
inline bool same_fields(const actorflow::remote_handle& x,
                        const actorflow::remote_handle& y) {
  return x.capacity == y.capacity && x.batch == y.batch
         && x.read_ahead_ns == y.read_ahead_ns && x.id == y.id
         && x.kind == y.kind;
}

/// The bytes of actorflow's fields of a `remote_handle`: they end its
/// serialized form (capacity, batch, read_ahead_ns, id, kind).
constexpr size_t handle_fields_size = 4 + 4 + 4 + 16 + 1;

/// A spawn request's elements after `node_spawn_atom`, as the node reads
/// them.
struct spawn_request {
  std::string stage;
  std::string in_name;
  std::string in_layout;
  std::string out_name;
  std::string out_layout;
  actorflow::remote_handle work;
  actorflow::remote_handle results;
  std::string worker_name;
};

/// Runs the node's check of `x` against `reg` and checks its verdict: a
/// request passes exactly when the stage exists, both item types match by
/// name and layout, and both ends are well formed; a refusal is one of
/// actorflow's errors, with a text.
inline void check_spawn_request(const actorflow::stage_registry& reg,
                                const spawn_request& x) {
  using actorflow::detail::find_item_type;
  using actorflow::detail::well_formed;
  auto entry = actorflow::detail::check_spawn(reg, x.stage, x.in_name,
                                              x.in_layout, x.out_name,
                                              x.out_layout, x.work, x.results);
  auto known = reg.find(x.stage);
  auto in = known ? find_item_type(known->in) : nullptr;
  auto out = known ? find_item_type(known->out) : nullptr;
  bool valid = known != nullptr && in != nullptr && out != nullptr
               && in->name == x.in_name && in->layout == x.in_layout
               && out->name == x.out_name && out->layout == x.out_layout
               && well_formed(x.work, 2) && well_formed(x.results, 1);
  AF_FUZZ_CHECK(static_cast<bool>(entry) == valid);
  if (entry) {
    AF_FUZZ_CHECK(*entry == known);
    return;
  }
  auto& err = entry.error();
  AF_FUZZ_CHECK(err.category() == actorflow::error_category);
  auto code = static_cast<actorflow::error_code>(err.code());
  AF_FUZZ_CHECK(code == actorflow::error_code::unknown_stage
                || code == actorflow::error_code::type_mismatch
                || code == actorflow::error_code::invalid_argument);
  AF_FUZZ_CHECK(!actorflow::what(err).empty());
}

/// The node's environment, made once per process (never destroyed: the
/// system's threads would outlive a static destructor's order).
inline node_env& env() {
  static auto instance = new node_env;
  return *instance;
}

/// Runs `Check` on one input, then drops the proxies that the input made:
/// in a node they live in the registry until their node's connection ends;
/// here, until the next input.
template <void (*Check)(const char*, size_t)>
void node_input(const char* bytes, size_t size) {
  Check(bytes, size);
  env().proxies->clear();
}

} // namespace actorflow_fuzz
