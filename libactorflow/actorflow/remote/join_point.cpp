// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/join_point.hpp"

#include <future>
#include <memory>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "actorflow/ask.hpp"
#include "actorflow/error.hpp"
#include "actorflow/internal/connect_node.hpp"
#include "actorflow/internal/publish.hpp"
#include "actorflow/remote/detail/remote_stage.hpp"
#include "actorflow/worker.hpp"

namespace actorflow {

namespace {

std::string names_of(const std::map<std::string, stage_control>& stages) {
  std::string result;
  for (auto& [name, control] : stages)
    result += (result.empty() ? "" : ", ") + name;
  return result.empty() ? "none" : result;
}

/// Runs detached: `add_workers` blocks until the new workers run.
caf::behavior join_acceptor(caf::event_based_actor*,
                            std::map<std::string, stage_control> stages) {
  return {
    [stages](detail::stage_join_atom, const std::string& stage,
             const std::string& node, uint64_t workers) -> caf::result<bool> {
      auto i = stages.find(stage);
      if (i == stages.end())
        return make_error(error_code::unknown_stage,
                          "the driver offers no stage '" + stage
                            + "' to join (it offers: " + names_of(stages)
                            + ")");
      if (auto err = i->second.add_workers(node, workers))
        return err;
      return true;
    },
  };
}

using join_promise = std::promise<caf::error>;

/// Connects to a join point, asks it, and fulfils `out` (destroyed
/// unfulfilled if the actor system shuts down first).
task<> join_body(std::string where, std::string host, uint16_t port,
                 std::string stage, std::string node, uint64_t workers,
                 caf::timespan timeout, std::shared_ptr<join_promise> out) {
  auto& sys = detail::host::current()->system();
  auto connecting = internal::connect_node(where, host, port, timeout);
  auto point = co_await std::move(connecting);
  if (!point) {
    // Its error names a node: say what it was meant to be.
    auto err = point.error();
    if (err.category() == error_category)
      err = make_error(static_cast<error_code>(err.code()),
                       "the join point at " + where
                         + " is out of reach: " + actorflow::what(err));
    out->set_value(std::move(err));
    co_return;
  }
  auto asking = ask<bool>(*point, timeout, detail::stage_join_atom::value,
                          stage, node, workers);
  auto answer = co_await asking;
  if (answer) {
    out->set_value(caf::none);
  } else if (answer.error().category() == error_category) {
    out->set_value(answer.error());
  } else if (answer.error() == caf::sec::request_timeout) {
    out->set_value(
      make_error(error_code::timeout,
                 "the join point at " + where + " did not answer in time"));
  } else if (answer.error() == caf::sec::unexpected_message) {
    out->set_value(
      make_error(error_code::connect_failed,
                 "the peer at " + where + " is not an actorflow join point"));
  } else {
    out->set_value(
      make_error(error_code::connect_failed,
                 "join point " + where + ": " + sys.render(answer.error())));
  }
}

} // namespace

caf::expected<join_point> join_point::open(
  caf::actor_system& sys, std::map<std::string, stage_control> stages,
  uint16_t port, const std::string& host) {
  if (auto err = detail::tls_check(sys))
    return make_error(error_code::invalid_argument,
                      "join_point: " + actorflow::what(err));
  auto hdl = sys.spawn<caf::detached>(join_acceptor, std::move(stages));
  auto got = internal::publish(sys, hdl, port, host);
  if (!got) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return make_error(error_code::listen_failed, "join_point: cannot listen on "
                                                   + host + ":"
                                                   + std::to_string(port) + ": "
                                                   + sys.render(got.error()));
  }
  return join_point{sys, std::move(hdl), *got};
}

join_point::join_point(caf::actor_system& sys, caf::actor hdl, uint16_t port)
  : sys_(&sys), hdl_(std::move(hdl)), port_(port) {
  // nop
}

join_point::join_point(join_point&& other) noexcept
  : sys_(std::exchange(other.sys_, nullptr)),
    hdl_(std::move(other.hdl_)),
    port_(std::exchange(other.port_, 0)) {
  // nop
}

join_point& join_point::operator=(join_point&& other) noexcept {
  if (this != &other) {
    close();
    sys_ = std::exchange(other.sys_, nullptr);
    hdl_ = std::move(other.hdl_);
    port_ = std::exchange(other.port_, 0);
  }
  return *this;
}

join_point::~join_point() {
  close();
}

void join_point::close() {
  if (!hdl_)
    return;
  (void)sys_->middleman().unpublish(hdl_, port_);
  caf::anon_send_exit(hdl_, caf::exit_reason::user_shutdown);
  hdl_ = nullptr;
}

caf::error join_stage(caf::actor_system& sys, const std::string& address,
                      const std::string& stage, const std::string& node,
                      size_t workers, caf::timespan timeout) {
  auto addr = detail::parse_address(address);
  if (!addr)
    return make_error(error_code::invalid_argument,
                      "join_stage: bad join point address '" + address
                        + "' (expected host:port)");
  auto out = std::make_shared<join_promise>();
  auto answer = out->get_future();
  worker_options wo;
  wo.name = "actorflow.join_stage";
  // The worker holds the only reference to the promise (see describe_node).
  spawn_worker(sys, std::move(wo), join_body, address, addr->first,
               addr->second, stage, node, uint64_t{workers}, timeout,
               std::move(out));
  try {
    return answer.get();
  } catch (const std::future_error&) {
    return make_error(error_code::cancelled,
                      "join_stage: the request to " + address
                        + " ended without an answer (the actor system is "
                          "shutting down)");
  }
}

} // namespace actorflow
