// This file is part of actorflow. See README.md for the project's license.

#pragma once

// What the HTTP views of pipelines share (metrics_exporter, pipeline_view):
// the pipelines they serve, by name, and the check of a listen address.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actorflow/error.hpp"
#include "actorflow/stats.hpp"

namespace actorflow::internal {

/// Where the statistics of one pipeline come from.
using stats_source = std::function<pipeline_stats()>;

/// The pipelines a view serves, by name; safe from any thread.
class stats_sources {
public:
  /// Adds or replaces `name`; `what` names the view in errors.
  caf::error set(const char* what, std::string name, stats_source f) {
    if (name.empty())
      return make_error(error_code::invalid_argument,
                        std::string{what} + ": a pipeline needs a name");
    if (!f)
      return make_error(error_code::invalid_argument,
                        std::string{what} + ": pipeline '" + name
                          + "' has no statistics source");
    std::lock_guard guard{mtx_};
    sources_.insert_or_assign(std::move(name), std::move(f));
    return {};
  }

  /// Adds or replaces `name`, read from `monitor`.
  caf::error set(const char* what, std::string name,
                 std::shared_ptr<const pipeline_monitor> monitor) {
    if (!monitor)
      return make_error(error_code::invalid_argument,
                        std::string{what} + ": pipeline '" + name
                          + "' has no monitor (a handle without a run?)");
    return set(what, std::move(name),
               [m = std::move(monitor)] { return m->stats(); });
  }

  bool erase(std::string_view name) {
    std::lock_guard guard{mtx_};
    auto i = sources_.find(name);
    if (i == sources_.end())
      return false;
    sources_.erase(i);
    return true;
  }

  /// A copy of every entry, sorted by name (the sources run outside the
  /// lock).
  std::vector<std::pair<std::string, stats_source>> all() const {
    std::lock_guard guard{mtx_};
    return {sources_.begin(), sources_.end()};
  }

  /// The source of `name`, or null.
  stats_source find(std::string_view name) const {
    std::lock_guard guard{mtx_};
    auto i = sources_.find(name);
    return i != sources_.end() ? i->second : stats_source{};
  }

private:
  mutable std::mutex mtx_;
  std::map<std::string, stats_source, std::less<>> sources_;
};

/// Checks a listen address "HOST:PORT"; an error names `what`.
inline caf::error check_listen_address(const char* what,
                                       const std::string& address) {
  auto fail = [&](const char* why) {
    return make_error(error_code::invalid_argument,
                      std::string{what} + " address '" + address + "': " + why);
  };
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return fail("expected HOST:PORT, e.g. 127.0.0.1:9464");
  auto port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(),
                      [](char c) { return c >= '0' && c <= '9'; })
      || std::stoul(port) > 65535)
    return fail("the port must be a number from 0 to 65535");
  return {};
}

/// Starts a server: `make()` returns it (a pointer; it throws if it cannot
/// listen), `ports_of(server)` the ports it listens on. Returns the server
/// and its port, or an error naming `what` and the address.
template <class Make, class Ports>
auto start_listening(const char* what, const std::string& address, Make make,
                     Ports ports_of)
  -> caf::expected<std::pair<decltype(make()), uint16_t>> {
  if (auto err = check_listen_address(what, address))
    return err;
  auto fail = [&](const std::string& why) {
    return make_error(error_code::listen_failed,
                      std::string{what} + " cannot listen on " + address + why);
  };
  decltype(make()) server;
  try {
    server = make();
  } catch (const std::exception& ex) {
    return fail(std::string{": "} + ex.what());
  }
  auto ports = ports_of(*server);
  if (ports.empty())
    return fail("");
  return std::pair{std::move(server), static_cast<uint16_t>(ports.front())};
}

/// While it lives, connects to the server at `address` (with its bound
/// `port`) every 10 ms: civetweb's listener polls with a 2 s timeout, and
/// stopping the server waits for that poll to return. A connection ends the
/// poll at once, so that a view shuts down in milliseconds, not seconds.
class listener_nudge {
public:
  listener_nudge(const std::string& address, int port) {
    auto host = address.substr(0, address.rfind(':'));
    if (host.size() > 1 && host.front() == '[')
      host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "0.0.0.0")
      host = "127.0.0.1";
    else if (host == "::")
      host = "::1";
    thread_ = std::thread{[this, host, port] {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res)
            != 0
          || res == nullptr)
        return;
      std::unique_lock guard{mtx_};
      while (!done_) {
        guard.unlock();
        auto fd = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
        if (fd >= 0) {
          (void)::connect(fd, res->ai_addr, res->ai_addrlen);
          ::close(fd);
        }
        guard.lock();
        cv_.wait_for(guard, std::chrono::milliseconds{10},
                     [this] { return done_; });
      }
      freeaddrinfo(res);
    }};
  }

  ~listener_nudge() {
    {
      std::lock_guard guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  listener_nudge(const listener_nudge&) = delete;
  listener_nudge& operator=(const listener_nudge&) = delete;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// "http://HOST:PORT" of a listen address and its bound port.
inline std::string http_base(const std::string& address, int port) {
  auto host = address.substr(0, address.rfind(':'));
  if (host.find(':') != std::string::npos && host.front() != '[')
    host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

} // namespace actorflow::internal
