// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/detail/supervise.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actorflow/ask.hpp"
#include "actorflow/detail/atoms.hpp"
#include "actorflow/internal/connect_node.hpp"
#include "actorflow/remote/detail/awaiters.hpp"
#include "actorflow/remote/detail/remote_stage.hpp"
#include "actorflow/remote/distribution.hpp"

namespace actorflow::detail {

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

/// True if a remote worker ended because its stage function threw on the
/// node; any other reason but a normal end means the worker was lost.
bool stage_failed(const caf::error& reason) {
  return reason.category() == error_category
         && reason.code() == static_cast<uint8_t>(error_code::worker_failed);
}

/// True if a remote worker left gracefully: its node drains (drain_node), or
/// the stage's control asked it to (stage_control::drain).
bool left_drained(const caf::error& reason) {
  return reason.category() == error_category
         && reason.code() == static_cast<uint8_t>(error_code::drained);
}

} // namespace

// -- awaiters -------------------------------------------------------------------

void connect_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: connect outside an actorflow worker");
  auto where = host + ":" + std::to_string(port);
  auto mm = connector(self->system());
  // A TLS process and a plain one cannot talk; the connect fails or times
  // out without saying why, so say which side this one is.
  auto tls = tls_requested(self->system());
  auto hint = std::string{tls ? " (this driver uses TLS: is the node started "
                                "with TLS and a certificate from the same CA?)"
                              : " (this driver uses plain TCP: does the node "
                                "use TLS?)"};
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
      [this, h, self, where, hint, tls](caf::error& err) {
        if (err == caf::sec::request_timeout)
          result.emplace(make_error(error_code::timeout,
                                    "connecting to the node at " + where
                                      + " took longer than "
                                      + ms(std::max(budget, timeout)) + hint));
        else if (err == caf::sec::connection_timeout) {
          retry = true;
          result.emplace(make_error(error_code::timeout,
                                    "the node at " + where
                                      + " accepted the connection but did "
                                        "not complete CAF's handshake within "
                                      + ms(std::max(budget, timeout)) + hint));
        } else if (err == caf::sec::cannot_connect_to_node) {
          // Plain TCP: no connection at all (CAF does not say why), so the
          // TLS hint would mislead. CAF's OpenSSL module also reports a
          // failed TLS handshake (say, with a plain node) this way.
          result.emplace(make_error(
            error_code::connect_failed,
            "cannot connect to the node at " + where
              + ": the connection was refused or failed (no node listens "
                "there, it died, or the host is unreachable; "
              + self->system().render(err) + ")" + (tls ? hint : "")));
        } else {
          // The peer closed the connection during CAF's handshake: either
          // CAF 0.17's heartbeat check raced the handshake (more likely on a
          // busy machine; worth another try) or one side uses TLS and the
          // other does not (not worth one). The supervisor tries a few times.
          lost_handshake = err == caf::sec::disconnect_during_handshake;
          result.emplace(make_error(error_code::connect_failed,
                                    "cannot connect to the node at " + where
                                      + ": " + self->system().render(err)
                                      + hint));
        }
        self->resume_from_callback(h);
      });
}

void spawn_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: spawn outside an actorflow worker");
  // Whichever comes first resumes: the answer or the node's down message.
  // The other finds `done` set and leaves the awaiter (gone by then) alone.
  auto done = std::make_shared<bool>(false);
  self->when_down(node.address(), [this, h, self, done](const caf::error& r) {
    if (std::exchange(*done, true))
      return;
    node_lost = true;
    down_reason = r;
    result.emplace(make_error(error_code::connect_failed,
                              "the node at " + where
                                + " went down before it spawned a worker ("
                                + self->system().render(r) + ")"));
    self->make_ready(h);
  });
  self->request(node, timeout, std::move(request))
    .then(
      [this, h, self, done](caf::actor& w) {
        if (std::exchange(*done, true))
          return;
        result.emplace(std::move(w));
        self->resume_from_callback(h);
      },
      [this, h, self, done](caf::error& err) {
        if (std::exchange(*done, true))
          return;
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

} // namespace actorflow::detail

namespace actorflow::internal {

task<caf::expected<caf::actor>> connect_node(std::string where,
                                             std::string host, uint16_t port,
                                             caf::timespan connect_timeout) {
  using namespace detail;
  if (auto err = tls_check(host::current()->system()))
    co_return make_error(error_code::invalid_argument,
                         "cannot connect to the node at " + where + ": "
                           + actorflow::what(err));
  // Named awaiters: g++ 12 miscompiles a braced temporary holding a
  // std::string as the operand of co_await.
  auto deadline = std::chrono::steady_clock::now() + connect_timeout;
  int lost_handshakes = 0;
  for (;;) {
    auto left = std::chrono::duration_cast<caf::timespan>(
      deadline - std::chrono::steady_clock::now());
    connect_awaiter connecting{
      host, port, std::max(left, caf::timespan{1}), {}};
    connecting.budget = connect_timeout;
    auto node = co_await connecting;
    if (node)
      co_return node;
    if (!connecting.retry
        && !(connecting.lost_handshake && ++lost_handshakes < 3))
      co_return node.error();
    if (std::chrono::steady_clock::now() >= deadline)
      co_return make_error(error_code::timeout,
                           "the node at " + where
                             + " did not complete CAF's handshake within "
                             + ms(connect_timeout));
  }
}

} // namespace actorflow::internal

namespace actorflow::detail {

// -- supervisor -----------------------------------------------------------------

task<> supervise(std::string where, uint16_t port, std::string host,
                 caf::message request, remote_handle work,
                 remote_handle results, sender<uint64_t> acks,
                 remote_options opts, std::shared_ptr<join_ticket> ticket,
                 std::shared_ptr<control_state> control) {
  // First, so that they are released however this frame ends.
  remote_worker_lease lease{work, results};
  enlistment enlisted;
  caf::error failure;
  // Named: g++ 12 miscompiles a temporary with a destructor as the operand
  // of co_await.
  auto connecting = internal::connect_node(where, host, port,
                                           opts.connect_timeout);
  auto node = co_await std::move(connecting);
  if (!node)
    failure = node.error();
  caf::expected<caf::actor> w{caf::actor{}};
  std::optional<caf::error> lost; // why the worker was lost, if it was
  if (!failure) {
    spawn_awaiter spawning{
      *node, where, std::move(request), opts.spawn_timeout, {}, false, {}};
    w = co_await spawning;
    if (w)
      lease.imported(*w); // the worker on the node closes them
    else if (spawning.node_lost)
      lost = spawning.down_reason; // it held no items yet
    else
      failure = w.error();
  }
  bool spawned = !failure && !lost;
  if (ticket) {
    // Joining a running stage: its caller learns whether the worker runs.
    // One that cannot start leaves the stage as it was.
    auto joined = std::exchange(ticket, nullptr);
    if (!spawned) {
      auto why = failure ? failure
                         : make_error(error_code::connect_failed,
                                      "the node at " + where
                                        + " went down before it spawned a "
                                          "worker");
      joined->answer(why);
      lease.abandon();
      (void)co_await acks.send(withdrawn_marker);
      co_return;
    }
    joined->answer(caf::none);
  }
  if (spawned) {
    enlisted.enlist(std::move(control), where, *w);
    down_awaiter watching{*w, {}};
    auto reason = co_await watching;
    lease.worker_ended();
    enlisted.discharge();
    if (!reason || reason == caf::exit_reason::user_shutdown)
      co_return; // the worker ended with its work channel (the node stops
                 // a worker only once one of its channels is down)
    if (left_drained(reason)) {
      // Drained: it finished the items it took and handed back the rest,
      // so there is nothing to send again; the stage goes on without it.
      (void)co_await acks.send(withdrawn_marker);
      co_return;
    }
    if (stage_failed(reason))
      failure = std::move(reason); // like a local stage that threw
    else
      lost = std::move(reason); // its node died, hung or disconnected
  }
  if (lost) {
    // Lost, before or after its spawn: the pipeline goes on with the other
    // workers. Ends it had not bound yet would keep the channels open; the
    // scatter sends its items again.
    lease.abandon();
    // The work channel watches the worker itself and would stop handing it
    // items on its own down message, which races with this one: items the
    // scatter sends after its resend could go to the lost worker and never
    // come out. So the channel drops the worker's end first.
    auto forgetting = ask<bool>(work.channel, opts.spawn_timeout,
                                forget_atom::value, work.id);
    (void)co_await forgetting;
    if (auto self = host::current(); self != nullptr && self->probe())
      self->probe()->count_worker_lost();
    if (opts.on_worker_lost)
      opts.on_worker_lost(where, *lost);
    (void)co_await acks.send(lost_marker);
    co_return;
  }
  // Failed (no node, no worker, or the stage threw). The scatter leaves the
  // report to this error (its own would only say that the workers are
  // gone); a worker that never ran cannot release its channel ends, so
  // `lease` abandons them, even if this send throws or never resumes.
  (void)co_await acks.send(failed_marker);
  if (!spawned)
    lease.abandon();
  fail(std::move(failure));
}

} // namespace actorflow::detail
