// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/node.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "actorflow/ask.hpp"
#include "actorflow/internal/connect_node.hpp"
#include "actorflow/internal/publish.hpp"
#include "actorflow/remote/describe_node.hpp"
#include "actorflow/remote/detail/remote_stage.hpp"
#include "actorflow/remote/distribution.hpp"

namespace actorflow {

// -- stage_registry -------------------------------------------------------------

void stage_registry::apply(caf::actor_system_config& cfg) const {
  detail::add_wire_types(cfg);
  for (auto& f : type_adders_)
    f(cfg);
}

const detail::stage_entry* stage_registry::find(const std::string& name) const {
  auto i = stages_.find(name);
  return i != stages_.end() ? i->second.get() : nullptr;
}

stage_registry::started stage_registry::start(caf::actor_system& sys) const {
  for (auto& f : start_hooks_)
    f(sys);
  return started{stop_hooks_};
}

std::vector<std::string> stage_registry::names() const {
  std::vector<std::string> result;
  for (auto& [name, entry] : stages_)
    result.push_back(name);
  return result;
}

// -- nodes ----------------------------------------------------------------------

namespace {

std::string describe(const detail::item_type_info& x) {
  return x.name + " (layout " + x.layout + ")";
}

std::string join(const std::vector<std::string>& xs) {
  std::string result;
  for (auto& x : xs) {
    if (!result.empty())
      result += ", ";
    result += x;
  }
  return result.empty() ? "none" : result;
}

} // namespace

namespace detail {

caf::expected<const stage_entry*> check_spawn(
  const stage_registry& reg, const std::string& stage,
  const std::string& in_name, const std::string& in_layout,
  const std::string& out_name, const std::string& out_layout,
  const remote_handle& work, const remote_handle& results) {
  auto entry = reg.find(stage);
  if (entry == nullptr)
    return make_error(error_code::unknown_stage,
                      "the node has no stage '" + stage
                        + "' (it has: " + join(reg.names()) + ")");
  auto in = find_item_type(entry->in);
  auto out = find_item_type(entry->out);
  if (in == nullptr || out == nullptr)
    return make_error(error_code::type_mismatch,
                      "the node did not register the item types of stage '"
                        + stage + "' (stage_registry::add_item_type)");
  if (in->name != in_name || in->layout != in_layout)
    return make_error(error_code::type_mismatch,
                      "stage '" + stage + "' takes " + describe(*in)
                        + " on the node; the driver sends " + in_name
                        + " (layout " + in_layout + ")");
  if (out->name != out_name || out->layout != out_layout)
    return make_error(error_code::type_mismatch,
                      "stage '" + stage + "' returns " + describe(*out)
                        + " on the node; the driver expects " + out_name
                        + " (layout " + out_layout + ")");
  if (!well_formed(work, 2) || !well_formed(results, 1))
    return make_error(error_code::invalid_argument,
                      "malformed spawn request (channel ends)");
  return entry;
}

void leave_drained() {
  throw error_exception{
    make_error(error_code::drained, "left its stage gracefully (drained)")};
}

} // namespace detail

namespace {

/// The node actors of this process (weak), for `drain_node`.
struct node_list {
  std::mutex mtx;
  std::vector<caf::actor_addr> nodes;
};

node_list& nodes() {
  static node_list instance;
  return instance;
}

/// A drain in progress (see `drain_node`): who waits for its end, how many
/// workers left, and how many of them are not through yet.
struct drain_state {
  std::vector<caf::typed_response_promise<uint64_t>> waiters;
  uint64_t left = 0;
  size_t pending = 0;
};

struct node_state {
  std::shared_ptr<const stage_registry> reg;
  /// The registry's start: its stop hooks run when the node actor ends.
  std::shared_ptr<stage_registry::started> started;
  /// Workers by the work channel they serve: when that channel is down (its
  /// pipeline ended, or its driver is lost), they stop.
  std::unordered_map<caf::actor_addr, std::vector<worker>> by_channel;
  /// The supervisor (in its driver) of each worker that has not ended: also
  /// how many workers run (see node_info_atom).
  std::unordered_map<caf::actor_addr, caf::actor_addr> supervisors;
  std::optional<drain_state> drain;
  static inline const char* name = "actorflow.node";
};

using node_actor_ptr = caf::stateful_actor<node_state>*;

/// Answers whoever waits for the drain, once every worker is through.
void drain_done_if_through(node_actor_ptr self) {
  auto& d = *self->state.drain;
  if (d.pending > 0)
    return;
  for (auto& rp : d.waiters)
    rp.deliver(d.left);
  d.waiters.clear();
}

/// A worker ended while the node drains. Its last results and its exit
/// reached the driver before anything this node sends its supervisor now
/// (one connection, in order): once that supervisor answers, or is gone,
/// the driver knows the worker left, and the process may exit.
void worker_through(node_actor_ptr self, const caf::actor_addr& supervisor) {
  auto through = [self] {
    --self->state.drain->pending;
    drain_done_if_through(self);
  };
  auto sup = caf::actor_cast<caf::actor>(supervisor);
  if (!sup) {
    through();
    return;
  }
  self->request(sup, std::chrono::seconds{10}, detail::drain_atom::value)
    .then([through](detail::drain_atom) { through(); },
          [through](caf::error&) { through(); });
}

/// Starts the drain (see `drain_node`): tells every running worker.
void start_drain(node_actor_ptr self) {
  auto& st = self->state;
  st.drain.emplace();
  st.drain->left = st.supervisors.size();
  st.drain->pending = st.supervisors.size();
  for (auto& [w, sup] : st.supervisors)
    caf::anon_send(caf::actor_cast<caf::actor>(w), detail::drain_atom::value);
}

/// A worker ended (see worker_through), or a channel that workers serve is
/// down: they stop.
void on_node_down(node_actor_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  if (auto w = st.supervisors.find(dm.source); w != st.supervisors.end()) {
    auto sup = w->second;
    st.supervisors.erase(w);
    if (st.drain)
      worker_through(self, sup);
    return;
  }
  auto i = st.by_channel.find(dm.source);
  if (i == st.by_channel.end())
    return;
  for (auto& w : i->second)
    w.cancel();
  st.by_channel.erase(i);
}

/// The stages of `reg` as (name, input type, output type) triples.
std::vector<std::string> describe_stages(const stage_registry& reg) {
  std::vector<std::string> triples;
  auto type_name = [](std::type_index type) {
    auto info = detail::find_item_type(type);
    return info != nullptr ? info->name : std::string{"(unregistered)"};
  };
  for (auto& name : reg.names()) {
    auto entry = reg.find(name);
    triples.push_back(name);
    triples.push_back(type_name(entry->in));
    triples.push_back(type_name(entry->out));
  }
  return triples;
}

caf::behavior node_actor(caf::stateful_actor<node_state>* self,
                         std::shared_ptr<const stage_registry> reg,
                         std::shared_ptr<stage_registry::started> started) {
  self->state.reg = std::move(reg);
  self->state.started = std::move(started);
  self->set_down_handler([self](caf::down_msg& dm) { on_node_down(self, dm); });
  return {
    [self](detail::node_spawn_atom, const std::string& stage,
           const std::string& in_name, const std::string& in_layout,
           const std::string& out_name, const std::string& out_layout,
           const remote_handle& work, const remote_handle& results,
           const std::string& worker_name) -> caf::result<caf::actor> {
      if (self->state.drain)
        return make_error(error_code::not_running,
                          "the node drains: it starts no more workers");
      auto entry = detail::check_spawn(*self->state.reg, stage, in_name,
                                       in_layout, out_name, out_layout, work,
                                       results);
      if (!entry)
        return std::move(entry.error());
      worker_options wo;
      wo.name = worker_name;
      auto w = (*entry)->spawn(self->system(), work, results, std::move(wo));
      // Watched until it ends, with the supervisor that asked for it: a
      // drain waits for both (see worker_through).
      self->monitor(w.actor());
      self->state.supervisors.emplace(w.actor().address(),
                                      self->current_sender() != nullptr
                                        ? self->current_sender()->address()
                                        : caf::actor_addr{});
      // Stop the worker once either channel is down: the driver may have
      // abandoned an end before this request arrived (its supervisor was
      // stopped, or its spawn timed out), and the channel then ignores the
      // worker's bind; the worker would wait on it for good.
      for (auto* ch : {&work.channel, &results.channel}) {
        auto& ws = self->state.by_channel[ch->address()];
        if (ws.empty())
          self->monitor(*ch);
        ws.push_back(w);
      }
      return w.actor();
    },
    [self](detail::node_stages_atom) {
      return describe_stages(*self->state.reg);
    },
    [](detail::node_rejected_atom) { return detail::rejected_batches(); },
    [self](detail::node_info_atom) {
      return static_cast<uint64_t>(self->state.supervisors.size());
    },
    [self](detail::node_drain_atom) -> caf::result<uint64_t> {
      if (!self->state.drain)
        start_drain(self);
      auto rp = self->make_response_promise<uint64_t>();
      self->state.drain->waiters.push_back(rp);
      drain_done_if_through(self);
      return rp;
    },
  };
}

} // namespace

caf::expected<uint16_t> serve_node(caf::actor_system& sys,
                                   std::shared_ptr<const stage_registry> reg,
                                   node_options opts) {
  if (!reg)
    return make_error(error_code::invalid_argument,
                      "serve_node: no stage registry");
  if (auto err = detail::tls_check(sys))
    return make_error(error_code::invalid_argument,
                      "serve_node: " + actorflow::what(err));
  // The node actor holds it: the stop hooks run when the node ends.
  auto started = std::make_shared<stage_registry::started>(reg->start(sys));
  auto hdl = sys.spawn(node_actor, std::move(reg), std::move(started));
  {
    auto& list = nodes();
    std::lock_guard guard{list.mtx};
    list.nodes.push_back(hdl.address());
  }
  auto port = internal::publish(sys, hdl, opts.port, opts.host);
  if (!port) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return make_error(error_code::connect_failed,
                      "serve_node: cannot listen on " + opts.host + ":"
                        + std::to_string(opts.port) + ": "
                        + sys.render(port.error()));
  }
  return *port;
}

caf::expected<uint64_t> drain_node(caf::actor_system& sys,
                                   caf::timespan timeout) {
  std::vector<caf::actor> targets;
  {
    auto& list = nodes();
    std::lock_guard guard{list.mtx};
    for (auto& addr : list.nodes)
      if (auto hdl = caf::actor_cast<caf::actor>(addr);
          hdl && &hdl->home_system() == &sys)
        targets.push_back(std::move(hdl));
  }
  if (targets.empty())
    return make_error(error_code::invalid_argument,
                      "drain_node: no node serves on this actor system "
                      "(serve_node)");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  caf::scoped_actor self{sys};
  uint64_t left = 0;
  caf::error err;
  for (auto& node : targets) {
    auto rest = std::max(caf::timespan{1},
                         std::chrono::duration_cast<caf::timespan>(
                           deadline - std::chrono::steady_clock::now()));
    self->request(node, rest, detail::node_drain_atom::value)
      .receive([&](uint64_t n) { left += n; },
               [&](caf::error& e) {
                 if (!err)
                   err = std::move(e);
               });
  }
  if (err == caf::sec::request_timeout)
    return make_error(
      error_code::timeout,
      "drain_node: the workers did not finish their items within "
        + std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(timeout)
            .count())
        + " ms");
  if (err)
    return make_error(error_code::cancelled, "drain_node: " + sys.render(err));
  return left;
}

// -- the nodes query --------------------------------------------------------------

namespace {

using description_promise = std::promise<caf::expected<node_description>>;

/// The error of a question the node at `where` did not answer.
caf::error query_error(caf::actor_system& sys, const std::string& where,
                       const caf::error& err, caf::timespan timeout) {
  if (err == caf::sec::request_timeout)
    return make_error(
      error_code::timeout,
      "the node at " + where + " did not answer within "
        + std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(timeout)
            .count())
        + " ms");
  if (err == caf::sec::unexpected_message)
    return make_error(error_code::connect_failed,
                      "the peer at " + where
                        + " is not an actorflow node (or one too old to "
                          "describe itself)");
  return make_error(error_code::connect_failed,
                    "node " + where + ": " + sys.render(err));
}

/// Connects to a node, asks it for its stages and its running workers, and
/// fulfils `out`. If this worker ends before (the actor system shuts down),
/// `out` is destroyed unfulfilled and the caller learns it.
task<> describe_body(std::string where, std::string host, uint16_t port,
                     caf::timespan timeout,
                     std::shared_ptr<description_promise> out) {
  auto& sys = detail::host::current()->system();
  auto connecting = internal::connect_node(where, host, port, timeout);
  auto node = co_await std::move(connecting);
  if (!node) {
    out->set_value(node.error());
    co_return;
  }
  auto asking = ask<std::vector<std::string>>(*node, timeout,
                                              detail::node_stages_atom::value);
  auto triples = co_await asking;
  if (!triples) {
    out->set_value(query_error(sys, where, triples.error(), timeout));
    co_return;
  }
  if (triples->size() % 3 != 0) {
    out->set_value(
      make_error(error_code::connect_failed,
                 "the node at " + where + " described its stages malformed"));
    co_return;
  }
  auto counting = ask<uint64_t>(*node, timeout, detail::node_info_atom::value);
  auto running = co_await counting;
  if (!running) {
    out->set_value(query_error(sys, where, running.error(), timeout));
    co_return;
  }
  node_description result{where, {}, *running};
  for (size_t i = 0; i < triples->size(); i += 3)
    result.stages.push_back(
      {(*triples)[i], (*triples)[i + 1], (*triples)[i + 2]});
  std::sort(result.stages.begin(), result.stages.end(),
            [](const node_stage& x, const node_stage& y) {
              return x.name < y.name;
            });
  out->set_value(std::move(result));
}

} // namespace

caf::expected<node_description> describe_node(caf::actor_system& sys,
                                              const std::string& address,
                                              caf::timespan timeout) {
  auto addr = detail::parse_address(address);
  if (!addr)
    return make_error(error_code::invalid_argument,
                      "describe_node: bad node address '" + address
                        + "' (expected host:port)");
  auto out = std::make_shared<description_promise>();
  auto answer = out->get_future();
  worker_options wo;
  wo.name = "actorflow.describe_node";
  // The worker holds the only reference to the promise: should it end
  // without an answer, the future says so instead of waiting for good.
  spawn_worker(sys, std::move(wo), describe_body, address, addr->first,
               addr->second, timeout, std::move(out));
  try {
    return answer.get();
  } catch (const std::future_error&) {
    return make_error(error_code::cancelled,
                      "describe_node: the query of " + address
                        + " ended without an answer (the actor system is "
                          "shutting down)");
  }
}

} // namespace actorflow
