// Channels across processes: a channel actor in this process, one of its
// ends in a peer process (tests/peers/wire_peer.cpp) on 127.0.0.1.

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/all.hpp>

#include "peers/wire_types.hpp"
#include "support/process_support.hpp"
#include "support/test_support.hpp"

using namespace actorflow_test;
using namespace wire_test_types;

namespace {

caf::actor_system_config& prepare_dist(caf::actor_system_config& cfg) {
  prepare(cfg);
  cfg.load<caf::io::middleman>();
  register_types(cfg);
  return cfg;
}

/// An actor system with the middleman, and a peer process connected to it.
struct peer_fixture {
  watchdog dog{std::chrono::seconds{20}};
  child_process peer{{ACTORFLOW_WIRE_PEER}};
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_dist(cfg)};
  caf::scoped_actor self{sys};
  caf::actor remote;

  peer_fixture() {
    auto port = peer.expect("PORT ");
    BOOST_REQUIRE_MESSAGE(port, "the peer did not report its port");
    auto hdl = sys.middleman().remote_actor(
      "127.0.0.1", static_cast<uint16_t>(std::stoi(*port)));
    BOOST_REQUIRE_MESSAGE(hdl, (hdl ? "" : sys.render(hdl.error())));
    remote = *hdl;
  }

  struct result {
    int64_t count = -1;
    int64_t sum = -1;
    bool ok = false;
  };

  result await_result() {
    result r;
    self->receive(
      [&](result_atom, int64_t count, int64_t sum, bool ok) {
        r = result{count, sum, ok};
      },
      caf::after(std::chrono::seconds{10}) >>
        [&] { BOOST_FAIL("no result from the peer within 10 s"); });
    return r;
  }
};

int64_t sum_below(int64_t n) {
  return n * (n - 1) / 2;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(wire, peer_fixture)

BOOST_AUTO_TEST_CASE(receiver_in_another_process_gets_every_item_once) {
  constexpr int32_t n = 200'000;
  auto ch = actorflow::channel<int32_t>(sys, 64, {16});
  BOOST_REQUIRE(ch);
  auto [tx, rx] = std::move(*ch);
  self->send(remote, consume_atom::value, actorflow::export_handle(rx),
             uint32_t{0}, caf::actor{self});
  rx.close(); // the remote end is the only receiver
  for (int32_t i = 0; i < n; ++i)
    BOOST_REQUIRE(tx.blocking_send(i));
  auto metrics = tx.metrics();
  tx.close();
  auto r = await_result();
  BOOST_TEST(r.count == n);
  BOOST_TEST(r.sum == sum_below(n));
  BOOST_TEST(r.ok); // one sender, one receiver: FIFO
  BOOST_TEST(metrics.max_in_flight <= 64u);
}

BOOST_AUTO_TEST_CASE(slow_remote_consumer_keeps_the_sender_bounded) {
  constexpr int32_t n = 3000;
  auto ch = actorflow::channel<int32_t>(sys, 32, {8});
  BOOST_REQUIRE(ch);
  auto [tx, rx] = std::move(*ch);
  // 20 us per item: the sender outpaces the consumer by far.
  self->send(remote, consume_atom::value, actorflow::export_handle(rx),
             uint32_t{20'000}, caf::actor{self});
  rx.close();
  for (int32_t i = 0; i < n; ++i)
    BOOST_REQUIRE(tx.blocking_send(i));
  tx.close();
  auto r = await_result();
  auto metrics = tx.metrics(); // the closed handle still reads the stats
  BOOST_TEST(r.count == n);
  BOOST_TEST(r.sum == sum_below(n));
  BOOST_TEST(metrics.max_in_flight <= 32u);
  BOOST_TEST(metrics.pushed == static_cast<uint64_t>(n));
}

BOOST_AUTO_TEST_CASE(sender_in_another_process_delivers_in_order) {
  constexpr int32_t n = 100'000;
  auto ch = actorflow::channel<int32_t>(sys, 128);
  BOOST_REQUIRE(ch);
  auto [tx, rx] = std::move(*ch);
  self->send(remote, produce_atom::value, actorflow::export_handle(tx), n,
             caf::actor{self});
  tx.close(); // the remote end is the only sender
  int32_t next = 0;
  bool in_order = true;
  while (auto x = rx.blocking_recv()) {
    if (*x != next)
      in_order = false;
    next = *x + 1;
  }
  BOOST_TEST(next == n);
  BOOST_TEST(in_order);
  auto r = await_result();
  BOOST_TEST(r.count == n);
  BOOST_TEST(rx.metrics().max_in_flight <= 128u);
}

BOOST_AUTO_TEST_CASE(non_trivial_items_cross_in_caf_format) {
  constexpr int32_t n = 5000;
  auto ch = actorflow::channel<word>(sys, 100);
  BOOST_REQUIRE(ch);
  auto [tx, rx] = std::move(*ch);
  self->send(remote, consume_words_atom::value, actorflow::export_handle(rx),
             caf::actor{self});
  rx.close();
  for (int32_t i = 0; i < n; ++i) {
    word w{std::to_string(i), i};
    w.text.insert(w.text.begin(), 'w');
    BOOST_REQUIRE(tx.blocking_send(std::move(w)));
  }
  tx.close();
  auto r = await_result();
  BOOST_TEST(r.count == n);
  BOOST_TEST(r.sum == sum_below(n));
  BOOST_TEST(r.ok);
}

BOOST_AUTO_TEST_CASE(remote_and_local_receivers_share_a_channel) {
  constexpr int32_t n = 50'000;
  auto ch = actorflow::channel<int32_t>(sys, 64, {16});
  BOOST_REQUIRE(ch);
  auto [tx, rx] = std::move(*ch);
  self->send(remote, consume_atom::value, actorflow::export_handle(rx),
             uint32_t{0}, caf::actor{self});
  int64_t local_count = 0;
  int64_t local_sum = 0;
  auto local = actorflow::spawn_worker(
    sys,
    [&](actorflow::receiver<int32_t> rx) -> actorflow::task<> {
      while (auto x = co_await rx.recv()) {
        ++local_count;
        local_sum += *x;
      }
    },
    std::move(rx));
  for (int32_t i = 0; i < n; ++i)
    BOOST_REQUIRE(tx.blocking_send(i));
  tx.close();
  auto r = await_result();
  BOOST_REQUIRE(!local.join());
  BOOST_TEST(r.count + local_count == n);
  BOOST_TEST(r.sum + local_sum == sum_below(n));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(trivially_copyable_batches_are_one_blob) {
  caf::actor_system_config cfg;
  caf::actor_system sys{prepare_dist(cfg)};
  actorflow::detail::batch<int32_t> xs;
  for (int32_t i = 0; i < 1000; ++i)
    xs.push_back(i * 7);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  BOOST_REQUIRE(!sink(xs));
  // Header (4) + count (8) + the items' bytes: no per-item framing.
  BOOST_TEST(buf.size() == 4 + 8 + 1000 * sizeof(int32_t));
  actorflow::detail::batch<int32_t> ys;
  caf::binary_deserializer source{sys, buf};
  BOOST_REQUIRE(!source(ys));
  BOOST_TEST(ys == xs);
  // A reader whose item type has another layout fails instead of misreading.
  actorflow::detail::batch<int64_t> zs;
  caf::binary_deserializer wrong{sys, buf};
  auto err = wrong(zs);
  BOOST_TEST(static_cast<bool>(err));
  BOOST_TEST(contains(sys.render(err), "layout"));
}

BOOST_AUTO_TEST_CASE(endpoint_ids_differ_across_processes) {
  auto mine = actorflow::detail::next_endpoint_id();
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  auto pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    auto theirs = actorflow::detail::next_endpoint_id();
    auto ok = ::write(fds[1], &theirs, sizeof(theirs)) == sizeof(theirs);
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  actorflow::detail::endpoint_id theirs;
  auto n = ::read(fds[0], &theirs, sizeof(theirs));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_REQUIRE(n == static_cast<ssize_t>(sizeof(theirs)));
  // A forked child draws a new process tag (it would reuse ours otherwise).
  BOOST_TEST(theirs.process != mine.process);
  BOOST_TEST((theirs != mine));
}
