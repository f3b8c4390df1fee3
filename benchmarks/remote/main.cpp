// bench_remote: items/s between two processes on 127.0.0.1, for small items
// (int32) in batches, in one run:
//
//   actorflow   an actorflow channel whose receiver lives in the other
//               process (credit-bounded; batches travel as one blob)
//   caf-vector  CAF's stock std::vector<int32_t> messages of 256 items, sent
//               as fast as possible (no backpressure)
//   caf-stream  CAF 0.17's built-in streams, source here, sink there
//
//   bench_remote [--items=N] [--runs=R] [--batch=B] [--capacity=C]
//                [--read-ahead=A] [--only=VARIANT] [--csv]
//
// The program starts its peer (itself with --peer) on a free port, verifies
// count and sum of every run (exit code 1 on a mismatch), prints medians of
// R runs per variant, interleaved, with min and max (or, with --csv, lines
// "variant,median,min,max" in items/s for bench_suite), and kills the peer
// at the end.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "common.hpp"

namespace {

using rx_atom = caf::atom_constant<caf::atom("b_rx")>;
using fin_atom = caf::atom_constant<caf::atom("b_fin")>;
using reply_atom = caf::atom_constant<caf::atom("b_reply")>;
using done_atom = caf::atom_constant<caf::atom("b_done")>;

struct bench_config : caf::actor_system_config {
  bool peer = false;
  int64_t items = 20'000'000;
  size_t runs = 3;
  // 64 KiB of int32 per message, 1 MiB in flight: sized for the link. Each
  // message through CAF's middleman costs both processes wake-ups and
  // syscalls, so items/s grows with the batch (README, "Benchmark: items/s
  // between two processes", has the sweep).
  uint32_t batch = 16384;
  size_t capacity = 262144;
  uint32_t read_ahead = 0;
  std::string only;
  bool csv = false;

  bench_config() {
    opt_group{custom_options_, "global"}
      .add(peer, "peer", "run as the peer process (internal)")
      .add(items, "items,n", "items per run")
      .add(runs, "runs,r", "runs per variant")
      .add(batch, "batch,b", "actorflow: items per message")
      .add(capacity, "capacity,c", "actorflow: channel capacity")
      .add(read_ahead, "read-ahead", "actorflow: receiver read-ahead (0: auto)")
      .add(only, "only", "run only this variant (for profiling)")
      .add(csv, "csv", "print variant,median,min,max (items/s) lines");
    add_message_type<std::vector<int32_t>>("std::vector<int32_t>");
    add_message_type<caf::stream<int32_t>>("caf::stream<int32_t>");
  }
};

// -- peer ---------------------------------------------------------------------

struct peer_state {
  int64_t count = 0;
  int64_t sum = 0;
  caf::actor reply;
};

caf::behavior peer(caf::stateful_actor<peer_state>* self) {
  return {
    // actorflow: consume a remote receiver end.
    [self](rx_atom, actorflow::remote_handle& h, caf::actor& reply) {
      actorflow::spawn_worker(
        self->system(),
        [](actorflow::receiver<int32_t> rx,
           caf::actor reply) -> actorflow::task<> {
          int64_t count = 0;
          int64_t sum = 0;
          while (auto x = co_await rx.recv()) {
            ++count;
            sum += *x;
          }
          caf::anon_send(reply, done_atom::value, count, sum);
        },
        actorflow::import_receiver<int32_t>(h), reply);
    },
    // caf-vector: count, then answer fin (one sender: FIFO).
    [self](std::vector<int32_t>& xs) {
      self->state.count += static_cast<int64_t>(xs.size());
      for (auto x : xs)
        self->state.sum += x;
    },
    [self](fin_atom, caf::actor& reply) {
      caf::anon_send(reply, done_atom::value, self->state.count,
                     self->state.sum);
      self->state.count = 0;
      self->state.sum = 0;
    },
    // caf-stream: the sink reports to `reply` when the stream ends.
    [self](reply_atom, caf::actor& reply) { self->state.reply = reply; },
    [self](caf::stream<int32_t> in) {
      auto reply = self->state.reply;
      return caf::attach_stream_sink(
        self, in, [](std::pair<int64_t, int64_t>&) {},
        [](std::pair<int64_t, int64_t>& st, int32_t x) {
          ++st.first;
          st.second += x;
        },
        [reply](std::pair<int64_t, int64_t>& st, const caf::error&) {
          caf::anon_send(reply, done_atom::value, st.first, st.second);
        });
    },
  };
}

int run_peer(caf::actor_system& sys) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto hdl = sys.spawn(peer);
  auto port = sys.middleman().publish(hdl, 0, "127.0.0.1", true);
  if (!port) {
    std::fprintf(stderr, "peer: %s\n", sys.render(port.error()).c_str());
    std::_Exit(1);
  }
  std::printf("PORT %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  for (;;)
    ::pause();
}

// -- driver -------------------------------------------------------------------

struct result {
  double seconds = 0;
  int64_t count = 0;
  int64_t sum = 0;
};

result await_done(caf::scoped_actor& self,
                  std::chrono::steady_clock::time_point t0) {
  result r;
  self->receive(
    [&](done_atom, int64_t count, int64_t sum) {
      r.count = count;
      r.sum = sum;
    },
    caf::after(std::chrono::seconds{120}) >> [&] { r.count = -1; });
  r.seconds
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  return r;
}

result run_actorflow(caf::actor_system& sys, const caf::actor& remote,
                     const bench_config& cfg) {
  caf::scoped_actor self{sys};
  auto ch = actorflow::channel<int32_t>(sys, cfg.capacity,
                                        {cfg.batch, cfg.read_ahead});
  auto [tx, rx] = std::move(*ch);
  auto t0 = std::chrono::steady_clock::now();
  self->send(remote, rx_atom::value, actorflow::export_handle(rx),
             caf::actor{self});
  rx.close();
  auto n = cfg.items;
  auto w = actorflow::spawn_worker(
    sys,
    [n](actorflow::sender<int32_t> tx) -> actorflow::task<> {
      for (int64_t i = 0; i < n; ++i)
        if (!co_await tx.send(static_cast<int32_t>(i & 0xFFFF)))
          co_return;
    },
    std::move(tx));
  auto r = await_done(self, t0);
  w.join();
  return r;
}

result run_caf_vector(caf::actor_system& sys, const caf::actor& remote,
                      const bench_config& cfg) {
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  auto n = cfg.items;
  caf::actor reply = self;
  sys.spawn([remote, n, reply](caf::event_based_actor* src) {
    for (int64_t i = 0; i < n;) {
      std::vector<int32_t> xs;
      auto end = std::min<int64_t>(n, i + 256);
      xs.reserve(static_cast<size_t>(end - i));
      for (; i < end; ++i)
        xs.push_back(static_cast<int32_t>(i & 0xFFFF));
      src->send(remote, std::move(xs));
    }
    // Same sender, same connection: fin arrives after every vector.
    src->send(remote, fin_atom::value, reply);
  });
  return await_done(self, t0);
}

result run_caf_stream(caf::actor_system& sys, const caf::actor& remote,
                      const bench_config& cfg) {
  caf::scoped_actor self{sys};
  self->send(remote, reply_atom::value, caf::actor{self});
  auto t0 = std::chrono::steady_clock::now();
  auto n = cfg.items;
  sys.spawn([remote, n](caf::event_based_actor* src) {
    caf::attach_stream_source(
      src, remote, [](int64_t& i) { i = 0; },
      [n](int64_t& i, caf::downstream<int32_t>& out, size_t hint) {
        auto end = std::min<int64_t>(n, i + static_cast<int64_t>(hint));
        for (; i < end; ++i)
          out.push(static_cast<int32_t>(i & 0xFFFF));
      },
      [n](const int64_t& i) { return i == n; });
  });
  return await_done(self, t0);
}

int64_t expected_sum(int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += i & 0xFFFF;
  return sum;
}

} // namespace

int main(int argc, char** argv) {
  bench_config cfg;
  actorflow::init(cfg);
  actorflow::distribution_options dopts;
  dopts.heartbeat = caf::timespan{0};
  dopts.connection_timeout = caf::timespan{0};
  actorflow::init_distribution(cfg, dopts);
  actorflow::add_item_type<int32_t>(cfg, "int32");
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "bench_remote: %s\n", cfg.render(err).c_str());
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  caf::actor_system sys{cfg};
  if (cfg.peer)
    return run_peer(sys);
  auto peer = bench::start_self({"--peer"});
  if (!peer) {
    std::fprintf(stderr, "bench_remote: the peer did not start\n");
    return EXIT_FAILURE;
  }
  auto port = peer->port;
  auto remote = sys.middleman().remote_actor("127.0.0.1", port);
  if (!remote) {
    std::fprintf(stderr, "bench_remote: %s\n",
                 sys.render(remote.error()).c_str());
    bench::stop_self(*peer);
    return EXIT_FAILURE;
  }
  using runner = result (*)(caf::actor_system&, const caf::actor&,
                            const bench_config&);
  struct variant {
    const char* name;
    runner run;
    std::vector<double> rates;
  };
  std::vector<variant> variants{{"actorflow", run_actorflow, {}},
                                {"caf-vector", run_caf_vector, {}},
                                {"caf-stream", run_caf_stream, {}}};
  if (!cfg.only.empty()) {
    std::erase_if(variants,
                  [&](const variant& v) { return cfg.only != v.name; });
    if (variants.empty()) {
      std::fprintf(stderr, "bench_remote: unknown variant '%s'\n",
                   cfg.only.c_str());
      bench::stop_self(*peer);
      return EXIT_FAILURE;
    }
  }
  auto want = expected_sum(cfg.items);
  bool ok = true;
  for (size_t r = 0; r < cfg.runs; ++r) {
    for (auto& v : variants) {
      auto res = v.run(sys, *remote, cfg);
      if (res.count != cfg.items || res.sum != want) {
        std::fprintf(stderr, "%s: got %lld items (sum %lld), want %lld\n",
                     v.name, static_cast<long long>(res.count),
                     static_cast<long long>(res.sum),
                     static_cast<long long>(cfg.items));
        ok = false;
      }
      v.rates.push_back(static_cast<double>(cfg.items) / res.seconds);
    }
  }
  if (cfg.csv) {
    for (auto& v : variants) {
      auto st = bench::summarize(v.rates);
      std::printf("%s,%.0f,%.0f,%.0f\n", v.name, st.median, st.min, st.max);
    }
  } else {
    std::printf("bench_remote: %lld int32 items per run, %zu runs, two "
                "processes on 127.0.0.1 (actorflow: capacity %zu, batch %u)\n",
                static_cast<long long>(cfg.items), cfg.runs, cfg.capacity,
                cfg.batch);
    std::printf("%-12s %14s %10s %10s %10s\n", "variant", "M items/s", "min",
                "max", "vs last");
    auto stream = bench::summarize(variants.back().rates).median;
    for (auto& v : variants) {
      auto st = bench::summarize(v.rates);
      std::printf("%-12s %14.2f %10.2f %10.2f %9.2fx\n", v.name,
                  st.median / 1e6, st.min / 1e6, st.max / 1e6,
                  st.median / stream);
    }
  }
  std::fflush(stdout);
  bench::stop_self(*peer);
  std::_Exit(ok ? EXIT_SUCCESS : EXIT_FAILURE);
}
