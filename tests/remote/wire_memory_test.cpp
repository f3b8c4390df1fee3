// Bounded memory across the wire: a distributed stage on a node process
// whose consumer stops again and again (the driver's sink, or the node's
// own stage), directly or through a link that delays every chunk. Credits
// bound what is in flight, so the VmRSS of driver and node stays flat after
// a warm-up, however many items pass.
//
//   remote_wire_memory [Boost.Test arguments] -- [--items N]
//
// ctest runs each case with 2,000,000 items (a few seconds each);
// tools/wire_memory.sh runs them with 10^8. Every case checks the output
// item by item (in order, each the square of its index).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "support/link_proxy.hpp"
#include "support/remote_support.hpp"

using namespace actorflow_test;
using namespace std::chrono_literals;

namespace {

/// How much driver or node may grow after the warm-up. What credits allow
/// in flight is far less (a window of 16384 items of 8 bytes, the channels'
/// capacities, the link's 4 MiB per direction); the rest is the allocator's
/// slack. Measured growth is in docs/benchmarks/history.md.
constexpr long long rss_bound = 16 * mib;

int32_t items_arg() {
  auto& master = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i + 1 < master.argc; ++i)
    if (std::string{master.argv[i]} == "--items")
      return static_cast<int32_t>(std::stol(master.argv[i + 1]));
  return 2'000'000;
}

/// VmRSS of driver and node while items pass.
struct rss_sample {
  int64_t done = 0;
  long long driver = 0;
  long long node = 0;
};

/// Samples every 20 ms from a thread of its own until destroyed.
class rss_sampler {
public:
  rss_sampler(pid_t node, const std::atomic<int64_t>& done) {
    thread_ = std::thread([this, node, &done] {
      while (!stop_.load()) {
        rss_sample s{done.load(), rss_of(::getpid()), rss_of(node)};
        {
          std::lock_guard guard{mtx_};
          samples_.push_back(s);
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }

  ~rss_sampler() {
    stop();
  }

  std::vector<rss_sample> stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    std::lock_guard guard{mtx_};
    return samples_;
  }

private:
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  std::vector<rss_sample> samples_;
  std::thread thread_;
};

/// Largest VmRSS of the warm-up (the first tenth of the items) and of the
/// rest, in bytes.
struct rss_figures {
  long long base = 0;
  long long peak = 0;
  size_t samples = 0;
};

rss_figures figures_of(const std::vector<rss_sample>& xs, int64_t items,
                       long long rss_sample::*field) {
  rss_figures result;
  for (auto& x : xs) {
    auto& slot = x.done < items / 10 ? result.base : result.peak;
    slot = std::max(slot, x.*field);
    result.samples += x.done >= items / 10 ? 1 : 0;
  }
  return result;
}

struct probe_setup {
  const char* what;
  std::string stage = "square";
  /// Delay of the link between driver and node (none: no link).
  std::chrono::microseconds delay{0};
  /// The driver's sink stops this long every `items / 64` items.
  std::chrono::milliseconds sink_pause{0};
};

/// Runs `items_arg()` items of `setup.stage` through a node and checks
/// that driver and node stay flat.
void probe(const probe_setup& setup) {
  nodes_without_quarantine();
  auto n = items_arg();
  watchdog dog{std::chrono::seconds{std::max<int64_t>(60, n / 100'000)}};
  auto reg = driver_stages();
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_driver(cfg, *reg)};
  test_node node;
  std::unique_ptr<link_proxy> link;
  auto where = node.address;
  if (setup.delay.count() > 0) {
    link = std::make_unique<link_proxy>(port_of(node),
                                        link_delay{setup.delay, 0us}, 1);
    where = link->address();
  }
  auto opts = driver_options(reg);
  opts.window = 16384;
  opts.batch = 1024;
  std::atomic<int64_t> done{0};
  int64_t wrong = 0;
  auto pause_every = std::max<int64_t>(1, n / 64);
  auto sink = [&, i = int64_t{0}](int64_t y) mutable {
    wrong += y == i * i ? 0 : 1;
    ++i;
    done.store(i, std::memory_order_relaxed);
    if (setup.sink_pause.count() > 0 && i % pause_every == 0)
      std::this_thread::sleep_for(setup.sink_pause);
  };
  rss_sampler sampler{node.pid(), done};
  auto t0 = std::chrono::steady_clock::now();
  auto result
    = actorflow::remote_parallel_then<int64_t>(actorflow::iota(int32_t{0}, n),
                                               {{where, 2}}, setup.stage, opts)
        .for_each(sink)
        .run(sys);
  auto secs
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  auto samples = sampler.stop();
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  BOOST_TEST(done.load() == n);
  BOOST_TEST(wrong == 0);
  auto driver = figures_of(samples, n, &rss_sample::driver);
  auto remote = figures_of(samples, n, &rss_sample::node);
  // Else the bounds below would hold for want of figures.
  BOOST_REQUIRE_MESSAGE(driver.samples >= 5,
                        "only " << driver.samples << " samples after the "
                                << "warm-up: run more items");
  BOOST_TEST_MESSAGE(setup.what
                     << ": " << n << " items in " << secs << " s ("
                     << static_cast<double>(n) / secs / 1e6
                     << "M/s); VmRSS warm-up -> peak after it: driver "
                     << driver.base / 1024 << " -> " << driver.peak / 1024
                     << " KiB, node " << remote.base / 1024 << " -> "
                     << remote.peak / 1024 << " KiB (" << driver.samples
                     << " samples)");
  BOOST_TEST(remote.peak - remote.base < rss_bound,
             setup.what << ": the node grew by "
                        << (remote.peak - remote.base) / 1024 << " KiB");
  // The driver is this process: under AddressSanitizer its quarantine
  // holds up to 256 MiB of freed memory, which would read as growth.
  if constexpr (!asan_build)
    BOOST_TEST(driver.peak - driver.base < rss_bound,
               setup.what << ": the driver grew by "
                          << (driver.peak - driver.base) / 1024 << " KiB");
}

} // namespace

BOOST_AUTO_TEST_SUITE(wire_memory)

//! Contract: a driver's sink that stops again and again holds the node's
//! results back by credit: neither process grows while items pass.
BOOST_AUTO_TEST_CASE(a_stopping_sink_keeps_driver_and_node_flat) {
  probe({"stopping sink", "square", 0us, 20ms});
}

//! Contract: a node stage that stops again and again holds the driver's
//! scatter back by credit: neither process grows while items pass.
BOOST_AUTO_TEST_CASE(a_stopping_node_stage_keeps_driver_and_node_flat) {
  probe({"stopping node stage", "stalling_square", 0us, 0ms});
}

//! Contract: a link that delays every chunk by 2 ms (a round trip of at
//! least 4 ms) changes how fast items pass, not how much either process
//! holds.
BOOST_AUTO_TEST_CASE(a_delaying_link_keeps_driver_and_node_flat) {
  probe({"2 ms link, stopping sink", "square", 2000us, 20ms});
}

BOOST_AUTO_TEST_SUITE_END()
