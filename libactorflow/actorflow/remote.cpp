// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote.hpp"

#include <atomic>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

namespace actorflow {

// -- configuration --------------------------------------------------------------

void init_distribution(caf::actor_system_config& cfg,
                       distribution_options opts) {
  // Loading the middleman twice is harmless: the second module replaces the
  // first before the system starts.
  cfg.load<caf::io::middleman>();
  detail::add_wire_types(cfg);
  if (opts.heartbeat.count() > 0
      && !caf::get_if<caf::timespan>(&cfg, "middleman.heartbeat-interval"))
    cfg.set("middleman.heartbeat-interval", opts.heartbeat);
  if (opts.connection_timeout.count() > 0
      && !caf::get_if<caf::timespan>(&cfg, "middleman.connection-timeout"))
    cfg.set("middleman.connection-timeout", opts.connection_timeout);
}

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

std::vector<std::string> stage_registry::names() const {
  std::vector<std::string> result;
  for (auto& [name, entry] : stages_)
    result.push_back(name);
  return result;
}

// -- nodes ----------------------------------------------------------------------

namespace {

struct node_state {
  std::shared_ptr<const stage_registry> reg;
  /// Workers by the work channel they serve: when that channel is down (its
  /// pipeline ended, or its driver is lost), they stop.
  std::unordered_map<caf::actor_addr, std::vector<worker>> by_channel;
  std::shared_ptr<std::atomic<uint64_t>> running
    = std::make_shared<std::atomic<uint64_t>>(0);
  static inline const char* name = "actorflow.node";
};

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

caf::behavior node_actor(caf::stateful_actor<node_state>* self,
                         std::shared_ptr<const stage_registry> reg) {
  self->state.reg = std::move(reg);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto i = self->state.by_channel.find(dm.source);
    if (i == self->state.by_channel.end())
      return;
    for (auto& w : i->second)
      w.cancel();
    self->state.by_channel.erase(i);
  });
  return {
    [self](detail::node_spawn_atom, const std::string& stage,
           const std::string& in_name, const std::string& in_layout,
           const std::string& out_name, const std::string& out_layout,
           const remote_handle& work, const remote_handle& results,
           const std::string& worker_name) -> caf::result<caf::actor> {
      auto& reg = *self->state.reg;
      auto entry = reg.find(stage);
      if (entry == nullptr)
        return make_error(error_code::unknown_stage,
                          "the node has no stage '" + stage
                            + "' (it has: " + join(reg.names()) + ")");
      auto in = detail::find_item_type(entry->in);
      auto out = detail::find_item_type(entry->out);
      if (in == nullptr || out == nullptr)
        return make_error(error_code::type_mismatch,
                          "the node did not register the item types of "
                          "stage '"
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
      if (work.kind != 2 || results.kind != 1 || !work.channel
          || !results.channel)
        return make_error(error_code::invalid_argument,
                          "malformed spawn request (channel ends)");
      worker_options wo;
      wo.name = worker_name;
      auto running = self->state.running;
      wo.on_exit = [running](const caf::error&) {
        --*running;
      };
      ++*running;
      auto w = entry->spawn(self->system(), work, results, std::move(wo));
      auto& ws = self->state.by_channel[work.channel.address()];
      if (ws.empty())
        self->monitor(work.channel);
      ws.push_back(w);
      return w.actor();
    },
    [self](detail::node_info_atom) {
      return static_cast<uint64_t>(self->state.running->load());
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
  auto hdl = sys.spawn(node_actor, std::move(reg));
  auto port = sys.middleman().publish(hdl, opts.port, opts.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return make_error(error_code::connect_failed,
                      "serve_node: cannot listen on " + opts.host + ":"
                        + std::to_string(opts.port) + ": "
                        + sys.render(port.error()));
  }
  return *port;
}

namespace detail {

// -- utilities ------------------------------------------------------------------

std::optional<std::pair<std::string, uint16_t>> parse_address(
  const std::string& where) {
  auto colon = where.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == where.size())
    return std::nullopt;
  auto host = where.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2); // [::1]:4242
  unsigned long port = 0;
  for (auto i = colon + 1; i < where.size(); ++i) {
    auto c = where[i];
    if (c < '0' || c > '9')
      return std::nullopt;
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535)
      return std::nullopt;
  }
  if (port == 0)
    return std::nullopt;
  return std::make_pair(host, static_cast<uint16_t>(port));
}

caf::expected<item_type_info> item_info(std::type_index type,
                                        const char* role) {
  if (auto info = find_item_type(type))
    return *info;
  return make_error(error_code::type_mismatch,
                    std::string{"the stage's "} + role + " type (" + type.name()
                      + ") is not registered: call "
                        "actorflow::add_item_type<T>(cfg, name) before "
                        "constructing the actor system");
}

void fail(caf::error err) {
  throw error_exception{std::move(err)};
}

namespace {

std::string ms(caf::timespan t) {
  return std::to_string(
           std::chrono::duration_cast<std::chrono::milliseconds>(t).count())
         + " ms";
}

} // namespace

// -- awaiters -------------------------------------------------------------------

void connect_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: connect outside an actorflow worker");
  auto where = host + ":" + std::to_string(port);
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, timeout, caf::connect_atom::value, host, port)
    .then(
      [this, h, self, where](const caf::node_id&, caf::strong_actor_ptr& ptr,
                             const std::set<std::string>&) {
        if (ptr)
          result.emplace(caf::actor_cast<caf::actor>(std::move(ptr)));
        else
          result.emplace(
            make_error(error_code::connect_failed,
                       "no actorflow node is published at " + where));
        self->resume_from_callback(h);
      },
      [this, h, self, where](caf::error& err) {
        if (err == caf::sec::request_timeout)
          result.emplace(make_error(error_code::timeout,
                                    "connecting to the node at " + where
                                      + " took longer than " + ms(timeout)));
        else if (err == caf::sec::connection_timeout
                 || err == caf::sec::disconnect_during_handshake) {
          // CAF 0.17 checks a connection whose handshake is still running at
          // its next heartbeat tick and may close it (more likely on a busy
          // machine): the node is there, so try again until the deadline.
          retry = true;
          result.emplace(make_error(error_code::timeout,
                                    "the node at " + where
                                      + " accepted the connection but did "
                                        "not complete CAF's handshake within "
                                      + ms(timeout)));
        } else
          result.emplace(make_error(error_code::connect_failed,
                                    "cannot connect to the node at " + where
                                      + ": " + self->system().render(err)));
        self->resume_from_callback(h);
      });
}

void spawn_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: spawn outside an actorflow worker");
  self->request(node, timeout, std::move(request))
    .then(
      [this, h, self](caf::actor& w) {
        result.emplace(std::move(w));
        self->resume_from_callback(h);
      },
      [this, h, self](caf::error& err) {
        if (err.category() == error_category)
          result.emplace(
            make_error(static_cast<error_code>(err.code()),
                       "node " + where + ": " + actorflow::what(err)));
        else if (err == caf::sec::request_timeout)
          result.emplace(make_error(error_code::timeout,
                                    "the node at " + where
                                      + " did not spawn a worker within "
                                      + ms(timeout)));
        else if (err == caf::sec::unexpected_message)
          result.emplace(make_error(
            error_code::type_mismatch,
            "the node at " + where
              + " could not read the spawn request: it is not an actorflow "
                "node, or a build without actorflow's wire types"));
        else
          result.emplace(
            make_error(error_code::connect_failed,
                       "node " + where + ": " + self->system().render(err)));
        self->resume_from_callback(h);
      });
}

void down_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: down_awaiter outside a worker");
  self->resume_on_down(whom.address(), h, &reason);
}

// -- supervisor -----------------------------------------------------------------

task<> supervise(std::string where, uint16_t port, std::string host,
                 caf::message request, remote_handle work,
                 remote_handle results, sender<uint64_t> acks,
                 remote_options opts) {
  // Named awaiters: g++ 12 miscompiles a braced temporary holding a
  // std::string as the operand of co_await.
  auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
  caf::expected<caf::actor> node{caf::actor{}};
  for (;;) {
    auto left = std::chrono::duration_cast<caf::timespan>(
      deadline - std::chrono::steady_clock::now());
    connect_awaiter connecting{
      host, port, std::max(left, caf::timespan{1}), {}};
    node = co_await connecting;
    if (node || !connecting.retry)
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      node = make_error(error_code::timeout,
                        "the node at " + where
                          + " did not complete CAF's handshake within "
                          + ms(opts.connect_timeout));
      break;
    }
  }
  if (!node) {
    abandon(work);
    abandon(results);
    fail(node.error());
  }
  spawn_awaiter spawning{
    *node, where, std::move(request), opts.spawn_timeout, {}};
  auto w = co_await spawning;
  if (!w) {
    abandon(work);
    abandon(results);
    fail(w.error());
  }
  down_awaiter watching{*w, {}};
  auto reason = co_await watching;
  if (!reason)
    co_return; // the worker ended with its work channel
  if (reason.category() == error_category
      && reason.code() == static_cast<uint8_t>(error_code::worker_failed))
    fail(reason); // the stage function threw on the node: like a local one
  // Lost: its node died, hung or disconnected. Ends it had not bound yet
  // would keep the channels open; the scatter sends its items again.
  abandon(work);
  abandon(results);
  if (opts.on_worker_lost)
    opts.on_worker_lost(where, reason);
  (void)co_await acks.send(lost_marker);
}

} // namespace detail

} // namespace actorflow
