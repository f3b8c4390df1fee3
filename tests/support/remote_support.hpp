// Nodes and drivers for the distributed-pipeline suites (not a suite).

#pragma once

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "peers/test_stages.hpp"
#include "support/process_support.hpp"
#include "support/test_support.hpp"

namespace actorflow_test {

/// A node process (tools/actorflow_node.cpp with the test stages plugin) on
/// 127.0.0.1 and a free port. Killed by PID when destroyed.
struct test_node {
  std::unique_ptr<child_process> proc;
  std::string address;

  explicit test_node(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
      ACTORFLOW_TEST_NODE,  "--plugins=" ACTORFLOW_TEST_STAGES,
      "--port=0",           "--scheduler.max-threads=2",
      "--heartbeat-ms=100", "--timeout-ms=2000",
      "--exit-with-parent"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<child_process>(args);
    auto port = proc->expect("PORT ");
    BOOST_REQUIRE_MESSAGE(port, "the node did not report its port");
    address = "127.0.0.1:" + *port;
  }

  pid_t pid() const {
    return proc->pid();
  }
};

/// The port of a node's address "127.0.0.1:<port>".
inline uint16_t port_of(const test_node& node) {
  return static_cast<uint16_t>(
    std::stoi(node.address.substr(node.address.rfind(':') + 1)));
}

/// Under AddressSanitizer, the nodes started from here on run without its
/// quarantine: it holds up to 256 MiB of freed memory, which reads as
/// growth to a suite that samples a node's VmRSS (the other suites look for
/// use after free in nodes).
inline void nodes_without_quarantine() {
#if ACTORFLOW_TEST_ASAN
  constexpr const char* opts = "quarantine_size_mb=0:"
                               "thread_local_quarantine_size_kb=0";
  std::string env;
  if (auto str = std::getenv("ASAN_OPTIONS"); str != nullptr)
    env = str;
  if (env.find(opts) == std::string::npos) {
    env += env.empty() ? opts : std::string{":"} + opts;
    ::setenv("ASAN_OPTIONS", env.c_str(), 1);
  }
#endif
}

/// An environment variable as a count, or `fallback`.
inline size_t env_count(const char* name, size_t fallback) {
  if (auto str = std::getenv(name); str != nullptr && *str != '\0')
    return static_cast<size_t>(std::stoull(str));
  return fallback;
}

inline std::shared_ptr<actorflow::stage_registry> driver_stages() {
  auto reg = std::make_shared<actorflow::stage_registry>();
  test_stages::register_stages(*reg);
  return reg;
}

/// The distribution settings of the tests' drivers, matching the nodes'
/// flags in test_node: a heartbeat every 100 ms, and a connection closed
/// after 2 s without traffic. 1 s made busy peers look lost on a loaded
/// 2-core machine (beside CPU hogs, and under ASan also over TLS).
inline actorflow::distribution_options test_distribution() {
  actorflow::distribution_options dopts;
  dopts.heartbeat = std::chrono::milliseconds{100};
  dopts.connection_timeout = std::chrono::milliseconds{2000};
  return dopts;
}

inline caf::actor_system_config& prepare_driver(
  caf::actor_system_config& cfg, const actorflow::stage_registry& reg) {
  prepare(cfg);
  actorflow::init_distribution(cfg, test_distribution());
  reg.apply(cfg);
  return cfg;
}

/// The remote options of the tests' drivers: generous timeouts for a loaded
/// machine, and `reg` for local workers.
inline actorflow::remote_options driver_options(
  std::shared_ptr<actorflow::stage_registry> reg) {
  actorflow::remote_options result;
  result.local_stages = std::move(reg);
  result.connect_timeout = std::chrono::seconds{8};
  result.spawn_timeout = std::chrono::seconds{8};
  return result;
}

/// A driver: an actor system with the middleman and the test stages.
struct driver_fixture {
  watchdog dog{std::chrono::seconds{30}};
  std::shared_ptr<actorflow::stage_registry> reg = driver_stages();
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_driver(cfg, *reg)};

  actorflow::remote_options opts() const {
    return driver_options(reg);
  }
};

/// The error of `x` as text, or an empty string (for BOOST_REQUIRE_MESSAGE,
/// which evaluates its message even when the check passes).
template <class T>
std::string error_text(const caf::expected<T>& x) {
  return x ? std::string{} : actorflow::to_string_any(x.error());
}

/// A port on 127.0.0.1 that refuses every connection while this object
/// lives: its socket is bound, so no other process can take the port (ctest
/// runs several suites at once, and a port closed again could go to one of
/// their listeners), and it does not listen, so a connect gets a reset.
class refused_port {
public:
  refused_port() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    auto addr = loopback_address(0);
    BOOST_REQUIRE(fd_ >= 0);
    BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
                  == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }

  refused_port(const refused_port&) = delete;
  refused_port& operator=(const refused_port&) = delete;

  ~refused_port() {
    ::close(fd_);
  }

  /// "127.0.0.1:<port>".
  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

private:
  int fd_;
  uint16_t port_ = 0;
};

/// A socket on 127.0.0.1 that listens but never accepts nor speaks: a
/// connect succeeds at the TCP level and then hears nothing.
struct silent_listener {
  int fd = -1;
  uint16_t port = 0;

  silent_listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto addr = loopback_address(0);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }

  ~silent_listener() {
    ::close(fd);
  }
};

/// The published actor at `address` (127.0.0.1:port), connected from `sys`.
/// CAF 0.17 with heartbeats closes a connection whose handshake is still
/// running at its next heartbeat tick (the connecting side's last contact
/// starts at the epoch); on a loaded machine that can happen many times in a
/// row. So it tries again for up to 8 s, like remote_parallel_then's
/// supervisors with the tests' `connect_timeout`.
inline caf::expected<caf::actor> try_connect(caf::actor_system& sys,
                                             const std::string& address) {
  auto port
    = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{8};
  auto hdl = sys.middleman().remote_actor("127.0.0.1", port);
  while (!hdl && hdl.error() == caf::sec::connection_timeout
         && std::chrono::steady_clock::now() < until)
    hdl = sys.middleman().remote_actor("127.0.0.1", port);
  return hdl;
}

/// The published actor of `node`, connected from `sys` (see try_connect).
inline caf::actor connect_to(caf::actor_system& sys, const test_node& node) {
  auto hdl = try_connect(sys, node.address);
  BOOST_REQUIRE_MESSAGE(hdl, (hdl ? "" : sys.render(hdl.error())));
  return *hdl;
}

/// Asks a node how many workers it runs (999 if it does not answer).
struct node_monitor {
  node_monitor(caf::actor_system& sys, const test_node& node)
    : self(sys), hdl(connect_to(sys, node)) {
    // nop
  }

  uint64_t running() {
    uint64_t result = 999;
    self
      ->request(hdl, std::chrono::seconds{2},
                actorflow::detail::node_info_atom::value)
      .receive([&](uint64_t x) { result = x; }, [](caf::error&) {});
    return result;
  }

  caf::scoped_actor self;
  caf::actor hdl;
};

/// The expected output of the test stage "square" over iota(0, n).
inline std::vector<int64_t> squares(int32_t n) {
  std::vector<int64_t> result;
  for (int32_t i = 0; i < n; ++i)
    result.push_back(int64_t{i} * i);
  return result;
}

/// actorflow's error code of `err`, or `none` for another category.
inline actorflow::error_code code_of(const caf::error& err) {
  if (err.category() != actorflow::error_category)
    return actorflow::error_code::none;
  return static_cast<actorflow::error_code>(err.code());
}

} // namespace actorflow_test
