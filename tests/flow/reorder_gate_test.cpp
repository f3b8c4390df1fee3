// The gate between the scatter and the ordered gather of parallel_then:
// the scatter parks when it is a window ahead of the gather's output, and
// the gather's publish wakes it with exactly one token. Two threads play
// both sides at full speed, with random batch sizes and yields; a lost
// wake-up leaves the scatter waiting for a token that never comes (a
// bounded wait fails the test), and a spurious token stays unclaimed.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "actorflow/flow.hpp"
#include "support/test_support.hpp"

namespace {

using actorflow::detail::reorder_gate;

/// Wake-up tokens from the gather to the scatter (the token channel).
struct tokens {
  std::mutex mtx;
  std::condition_variable cv;
  int count = 0;
  int sent = 0;

  void give() {
    {
      std::lock_guard guard{mtx};
      ++count;
      ++sent;
    }
    cv.notify_one();
  }

  /// Takes a token; false if none came within `limit`.
  bool take(std::chrono::milliseconds limit) {
    std::unique_lock guard{mtx};
    if (!cv.wait_for(guard, limit, [this] { return count > 0; }))
      return false;
    --count;
    return true;
  }
};

struct outcome {
  uint64_t parks = 0; // park() returned true: the scatter waited
  uint64_t lost_wakeups = 0;
  uint64_t window_breaks = 0; // an item went out more than a window ahead
  int tokens_sent = 0;
  int tokens_left = 0;
};

/// Runs `n` items through a gate of `window` with two threads.
outcome run(uint64_t window, uint64_t n, unsigned seed) {
  reorder_gate gate{window};
  tokens wake;
  std::atomic<uint64_t> dispatched{0};
  outcome result;
  std::thread gather{[&] {
    std::minstd_rand rng{seed};
    uint64_t emitted = 0;
    while (emitted < n) {
      auto d = dispatched.load(std::memory_order_acquire);
      if (d == emitted) {
        std::this_thread::yield();
        continue;
      }
      // Emit a random part of what arrived, as the gather does per batch.
      emitted += 1 + rng() % (d - emitted);
      if (gate.publish(emitted))
        wake.give();
      if (rng() % 8 == 0)
        std::this_thread::yield();
    }
  }};
  std::minstd_rand rng{seed + 1};
  for (uint64_t seq = 0; seq < n; ++seq) {
    // What the scatter does per item (see flow<T>::scatter_gather).
    if (!gate.open(seq) && gate.park(seq)) {
      ++result.parks;
      if (!wake.take(std::chrono::seconds{5})) {
        ++result.lost_wakeups;
        break;
      }
    }
    if (seq - gate.emitted.load() >= window)
      ++result.window_breaks;
    dispatched.store(seq + 1, std::memory_order_release);
    if (rng() % 16 == 0)
      std::this_thread::yield();
  }
  if (result.lost_wakeups > 0)
    dispatched.store(n); // let the gather end
  gather.join();
  result.tokens_sent = wake.sent;
  result.tokens_left = wake.count;
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(reorder_gate_handshake)

//! Contract: every park that waits gets exactly one wake-up token, no token
//! is sent to a scatter that did not wait, and no item leaves more than a
//! window ahead of the gather's output.
BOOST_AUTO_TEST_CASE(no_wakeup_is_lost_or_spurious) {
  for (uint64_t window : {1u, 2u, 3u, 8u, 64u}) {
    for (unsigned seed = 1; seed <= 3; ++seed) {
      // Both threads spin on yields: TSan slows each step several times.
      constexpr uint64_t n = actorflow_test::tsan_build ? 5'000 : 30'000;
      auto r = run(window, n, seed * 7919 + static_cast<unsigned>(window));
      BOOST_TEST_MESSAGE("window " << window << ", seed " << seed << ": "
                                   << r.parks << " parks");
      BOOST_TEST(r.lost_wakeups == 0u, "window " << window);
      BOOST_TEST(r.window_breaks == 0u, "window " << window);
      BOOST_TEST(static_cast<uint64_t>(r.tokens_sent) == r.parks,
                 "window " << window);
      BOOST_TEST(r.tokens_left == 0, "window " << window);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
