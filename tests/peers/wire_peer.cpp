// The peer process of wire_test: publishes an actor on 127.0.0.1 (a free
// port, printed as "PORT <n>") that runs channel ends exported to it.
//
//   (consume, remote_handle rx, u32 spin_ns, actor reply)
//       receives int32 items until end-of-stream, spinning spin_ns per item,
//       then sends (result, count, sum, in_order) to `reply`
//   (consumew, remote_handle rx, actor reply)   the same for `word` items
//   (produce, remote_handle tx, i32 n, actor reply)
//       sends 0..n-1, closes, then sends (result, n, sum, true)

#include <chrono>
#include <cstdint>
#include <cstdio>

#include <csignal>

#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/all.hpp"
#include "peers/wire_types.hpp"

using namespace wire_test_types;

namespace {

void spin_for(std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    // spin
  }
}

caf::behavior peer(caf::event_based_actor* self) {
  auto& sys = self->system();
  return {
    [&sys](consume_atom, actorflow::remote_handle& h, uint32_t spin_ns,
           caf::actor& reply) {
      actorflow::spawn_worker(
        sys,
        [](actorflow::receiver<int32_t> rx, uint32_t spin_ns,
           caf::actor reply) -> actorflow::task<> {
          int64_t count = 0;
          int64_t sum = 0;
          bool in_order = true;
          int32_t next = 0;
          while (auto x = co_await rx.recv()) {
            if (*x != next)
              in_order = false;
            next = *x + 1;
            ++count;
            sum += *x;
            if (spin_ns > 0)
              spin_for(std::chrono::nanoseconds{spin_ns});
          }
          caf::anon_send(reply, result_atom::value, count, sum, in_order);
        },
        actorflow::import_receiver<int32_t>(h), spin_ns, reply);
    },
    [&sys](consume_words_atom, actorflow::remote_handle& h, caf::actor& reply) {
      actorflow::spawn_worker(
        sys,
        [](actorflow::receiver<word> rx,
           caf::actor reply) -> actorflow::task<> {
          int64_t count = 0;
          int64_t sum = 0;
          bool ok = true;
          while (auto x = co_await rx.recv()) {
            auto expected = std::to_string(x->n);
            if (x->text.size() != expected.size() + 1 || x->text[0] != 'w'
                || x->text.compare(1, std::string::npos, expected) != 0)
              ok = false;
            ++count;
            sum += x->n;
          }
          caf::anon_send(reply, result_atom::value, count, sum, ok);
        },
        actorflow::import_receiver<word>(h), reply);
    },
    [&sys](produce_atom, actorflow::remote_handle& h, int32_t n,
           caf::actor& reply) {
      actorflow::spawn_worker(
        sys,
        [](actorflow::sender<int32_t> tx, int32_t n,
           caf::actor reply) -> actorflow::task<> {
          int64_t sum = 0;
          for (int32_t i = 0; i < n; ++i) {
            if (!co_await tx.send(i))
              break;
            sum += i;
          }
          tx.close();
          caf::anon_send(reply, result_atom::value, int64_t{n}, sum, true);
        },
        actorflow::import_sender<int32_t>(h), n, reply);
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  // Never outlive a test that crashed before killing us.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(120);
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  cfg.load<caf::io::middleman>();
  register_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "wire_peer: %s\n", cfg.render(err).c_str());
    return 1;
  }
  caf::actor_system sys{cfg};
  auto hdl = sys.spawn(peer);
  auto port = sys.middleman().publish(hdl, 0, "127.0.0.1", true);
  if (!port) {
    std::fprintf(stderr, "wire_peer: publish failed: %s\n",
                 sys.render(port.error()).c_str());
    return 1;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  for (;;)
    ::pause(); // until the test kills us
}
