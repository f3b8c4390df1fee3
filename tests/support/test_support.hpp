// Shared helpers of the actorflow test suites (not a suite itself).

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include <sys/prctl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

namespace actorflow {

/// Lets BOOST_TEST print error codes (found by ADL).
inline std::ostream& boost_test_print_type(std::ostream& os, error_code x) {
  return os << to_string(x);
}

} // namespace actorflow

#if defined(__SANITIZE_ADDRESS__)
#  define ACTORFLOW_TEST_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define ACTORFLOW_TEST_ASAN 1
#  endif
#endif
#ifndef ACTORFLOW_TEST_ASAN
#  define ACTORFLOW_TEST_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#  define ACTORFLOW_TEST_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define ACTORFLOW_TEST_TSAN 1
#  endif
#endif
#ifndef ACTORFLOW_TEST_TSAN
#  define ACTORFLOW_TEST_TSAN 0
#endif

namespace actorflow_test {

using namespace std::chrono_literals;

/// Built with AddressSanitizer: redzones and quarantine inflate memory.
inline constexpr bool asan_build = ACTORFLOW_TEST_ASAN != 0;

/// Built with ThreadSanitizer: shadow memory inflates memory, and every
/// memory access costs several times more.
inline constexpr bool tsan_build = ACTORFLOW_TEST_TSAN != 0;

/// Prints the stack of every thread of this process to stderr, if gdb is
/// installed: where a hung test waits is what its report needs. Bounded by
/// `timeout`; ACTORFLOW_WATCHDOG_STACKS=0 turns it off.
inline void print_thread_stacks() {
  if (auto* on = std::getenv("ACTORFLOW_WATCHDOG_STACKS");
      on != nullptr && std::string{on} == "0")
    return;
  if (::access("/usr/bin/gdb", X_OK) != 0)
    return;
  // Yama (ptrace_scope 1) lets only a tracer this process names attach.
  ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  auto cmd = "timeout 30 /usr/bin/gdb -nx -batch -p " + std::to_string(getpid())
             + " -ex 'thread apply all bt 40' 1>&2 2>/dev/null";
  std::fprintf(stderr, "*** WATCHDOG: the stacks of every thread:\n");
  std::fflush(stderr);
  if (std::system(cmd.c_str()) != 0)
    std::fprintf(stderr, "*** WATCHDOG: gdb could not print them\n");
}

/// Aborts the process if the test case runs longer than `limit`: a hang is a
/// failure, and a hung actor_system destructor would otherwise stall the
/// whole suite until ctest kills it. A bounded wait, not a sleep. Before it
/// aborts, it prints every thread's stack (`print_thread_stacks`).
class watchdog {
public:
  explicit watchdog(std::chrono::seconds limit = 30s) {
    if constexpr (tsan_build)
      limit *= 4; // as the suites' ctest timeouts
    auto name = boost::unit_test::framework::current_test_case().p_name.get();
    thread_ = std::thread([this, limit, name] {
      std::unique_lock guard{mtx_};
      if (!cv_.wait_for(guard, limit, [this] { return stop_; })) {
        std::fprintf(stderr,
                     "\n*** WATCHDOG: test case '%s' did not finish within "
                     "%lld s (hang); aborting the suite\n",
                     name.c_str(), static_cast<long long>(limit.count()));
        std::fflush(stderr);
        print_thread_stacks();
        std::_Exit(3);
      }
    });
  }

  ~watchdog() {
    {
      std::lock_guard guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

inline caf::actor_system_config& prepare(caf::actor_system_config& cfg) {
  actorflow::init(cfg);
  // Like the CI box: two scheduler threads (CAF's default is max(4, cores)).
  cfg.set("scheduler.max-threads", 2);
  return cfg;
}

/// One actor system per test case. Members are destroyed in reverse order:
/// the system shuts down (waiting for every actor) before the watchdog stops
/// watching, so a hanging shutdown is caught too.
struct system_fixture {
  watchdog dog;
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare(cfg)};
};

/// Busy work of about `d` (no sleep: the consumer stays on its thread).
inline void spin_for(std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    // spin
  }
}

/// Resident set size of this process in bytes (VmRSS of /proc/self/status).
inline long long rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

/// Waits (bounded, spinning with yields: no sleep) until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::yield();
  }
  return true;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// -- pipeline results ----------------------------------------------------------

/// The result of a run that must succeed (the test case stops otherwise).
template <class R>
R value_of(caf::expected<R> res) {
  // (The message of BOOST_TEST_REQUIRE is evaluated eagerly: no res.error()
  // there.)
  if (!res)
    BOOST_FAIL(
      "the pipeline failed: " << actorflow::to_string_any(res.error()));
  return std::move(*res);
}

/// The error of a run that must fail (the test case stops otherwise).
template <class R>
caf::error error_of(caf::expected<R> res) {
  BOOST_TEST_REQUIRE(!res, "the pipeline succeeded, expected an error");
  return std::move(res.error());
}

/// Runs `p` like run(), but a hang fails the test case instead of stalling
/// it: after `limit` the pipeline is cancelled (and its error returned).
template <class R>
caf::expected<R> run_bounded(actorflow::pipeline<R> p, caf::actor_system& sys,
                             actorflow::run_options ro = {},
                             std::chrono::milliseconds limit = 10s) {
  auto run = std::move(p).start(sys, ro);
  auto waiter = std::async(std::launch::async,
                           [run]() mutable { return run.wait(); });
  if (waiter.wait_for(limit) != std::future_status::ready) {
    // The stages' states say where it stood (see stats.hpp).
    BOOST_ERROR("the pipeline did not end within "
                << limit.count() << " ms (hang): cancelled; its stages:\n"
                << actorflow::to_string(run.stats()));
    run.cancel();
  }
  return waiter.get();
}

/// True if `err` is actorflow's error `code`.
inline bool has_code(const caf::error& err, actorflow::error_code code) {
  return err.category() == actorflow::error_category
         && err.code() == static_cast<uint8_t>(code);
}

/// The text of an error, for BOOST_TEST(contains(text(err), "...")).
inline std::string text(const caf::error& err) {
  return actorflow::what(err);
}

} // namespace actorflow_test
