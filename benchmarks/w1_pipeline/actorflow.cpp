// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/actorflow.cpp: the actorflow variants of W1: (a) coroutine
// workers joined by channels, (b) the same stages between a thread source and
// a main-thread sink, (f) the stream DSL and (j) the workers of (a) with the
// batch calls recv_many/send_many.

#include "w1_pipeline/w1.hpp"

namespace bench {

namespace {

void check(char variant, const char* what, const caf::error& err) {
  if (err)
    die(std::string{"variant "} + variant + ": " + what
        + " failed: " + actorflow::to_string_any(err));
}

using actorflow::receiver;
using actorflow::sender;
using actorflow::task;

task<> af_source(sender<int> tx, int n) {
  for (int i = 0; i < n; ++i)
    if (!co_await tx.send(i))
      throw std::runtime_error("source: every receiver is gone");
}

task<> af_add_one(receiver<int> rx, sender<int> tx,
                  actorflow::channel_metrics* m) {
  while (auto x = co_await rx.recv())
    if (!co_await tx.send(*x + 1))
      throw std::runtime_error("stage x+1: every receiver is gone");
  *m = rx.metrics();
}

task<> af_times_two(receiver<int> rx, sender<int> tx,
                    actorflow::channel_metrics* m) {
  while (auto x = co_await rx.recv())
    if (!co_await tx.send(*x * 2))
      throw std::runtime_error("stage x*2: every receiver is gone");
  *m = rx.metrics();
}

task<> af_sink(receiver<int> rx, uint64_t* sum, actorflow::channel_metrics* m) {
  uint64_t acc = 0;
  while (auto x = co_await rx.recv())
    acc += static_cast<uint64_t>(*x);
  *sum = acc;
  *m = rx.metrics();
}

actorflow::channel_pair<int> make_channel(char variant, caf::actor_system& sys,
                                          const w1_options& opt) {
  auto ch = actorflow::channel<int>(sys, opt.capacity,
                                    actorflow::channel_options{opt.af_batch});
  if (!ch)
    die(std::string{"variant "} + variant
        + ": channel() failed: " + actorflow::to_string_any(ch.error()));
  return std::move(*ch);
}

// The same stages with the batch calls: recv_many moves up to `many` items
// buffered now into a vector, send_many sends a vector (waiting for credit).
constexpr size_t many = 1024;

task<> af_source_many(sender<int> tx, int n) {
  std::vector<int> xs;
  xs.reserve(many);
  for (int i = 0; i < n; ++i) {
    xs.push_back(i);
    if (xs.size() == many || i + 1 == n) {
      if (!co_await tx.send_many(xs))
        throw std::runtime_error("source: every receiver is gone");
      xs.clear();
    }
  }
}

template <int Add, int Mul>
task<> af_stage_many(receiver<int> rx, sender<int> tx,
                     actorflow::channel_metrics* m) {
  std::vector<int> xs;
  while (co_await rx.recv_many(xs, many) > 0) {
    for (auto& x : xs)
      x = (x + Add) * Mul;
    if (!co_await tx.send_many(xs))
      throw std::runtime_error("stage: every receiver is gone");
    xs.clear();
  }
  *m = rx.metrics();
}

task<> af_sink_many(receiver<int> rx, uint64_t* sum,
                    actorflow::channel_metrics* m) {
  uint64_t acc = 0;
  std::vector<int> xs;
  while (co_await rx.recv_many(xs, many) > 0) {
    for (auto x : xs)
      acc += static_cast<uint64_t>(x);
    xs.clear();
  }
  *sum = acc;
  *m = rx.metrics();
}

/// Source, x+1, x*2 and sink as four coroutine workers joined by three
/// channels: per-item recv/send (variant a) or recv_many/send_many (j).
template <class Source, class AddOne, class TimesTwo, class Sink>
double run_af_worker_chain(char variant, caf::actor_system& sys,
                           const w1_options& opt, int n, af_probe& probe,
                           Source source, AddOne add_one, TimesTwo times_two,
                           Sink sink) {
  auto t0 = clock_type::now();
  auto [tx1, rx1] = make_channel(variant, sys, opt);
  auto [tx2, rx2] = make_channel(variant, sys, opt);
  auto [tx3, rx3] = make_channel(variant, sys, opt);
  uint64_t sum = 0;
  using actorflow::worker_options;
  auto snk = actorflow::spawn_worker(sys, worker_options{"sink"}, sink,
                                     std::move(rx3), &sum, &probe.ch[2]);
  auto st2 = actorflow::spawn_worker(sys, worker_options{"times-two"},
                                     times_two, std::move(rx2), std::move(tx3),
                                     &probe.ch[1]);
  auto st1 = actorflow::spawn_worker(sys, worker_options{"add-one"}, add_one,
                                     std::move(rx1), std::move(tx2),
                                     &probe.ch[0]);
  auto src = actorflow::spawn_worker(sys, worker_options{"source"}, source,
                                     std::move(tx1), n);
  check(variant, "sink", snk.join());
  auto dt = seconds_since(t0);
  check(variant, "source", src.join());
  check(variant, "stage x+1", st1.join());
  check(variant, "stage x*2", st2.join());
  verify(variant, n, sum);
  return dt;
}

} // namespace

double run_af_workers(caf::actor_system& sys, const w1_options& opt, int n,
                      af_probe& probe) {
  return run_af_worker_chain('a', sys, opt, n, probe, af_source, af_add_one,
                             af_times_two, af_sink);
}

double run_af_workers_many(caf::actor_system& sys, const w1_options& opt, int n,
                           af_probe& probe) {
  return run_af_worker_chain('j', sys, opt, n, probe, af_source_many,
                             af_stage_many<1, 1>, af_stage_many<0, 2>,
                             af_sink_many);
}

double run_af_bridge(caf::actor_system& sys, const w1_options& opt, int n,
                     af_probe& probe) {
  auto t0 = clock_type::now();
  auto [tx1, rx1] = make_channel('b', sys, opt);
  auto [tx2, rx2] = make_channel('b', sys, opt);
  auto [tx3, rx3] = make_channel('b', sys, opt);
  using actorflow::worker_options;
  auto st2 = actorflow::spawn_worker(sys, worker_options{"times-two"},
                                     af_times_two, std::move(rx2),
                                     std::move(tx3), &probe.ch[1]);
  auto st1 = actorflow::spawn_worker(sys, worker_options{"add-one"}, af_add_one,
                                     std::move(rx1), std::move(tx2),
                                     &probe.ch[0]);
  auto src = actorflow::spawn_blocking_worker(
    sys, worker_options{"thread-source"},
    [](sender<int> tx, int count) {
      for (int i = 0; i < count; ++i)
        if (!tx.blocking_send(i))
          throw std::runtime_error("thread source: every receiver is gone");
    },
    std::move(tx1), n);
  uint64_t sum = 0;
  while (auto x = rx3.blocking_recv())
    sum += static_cast<uint64_t>(*x);
  auto dt = seconds_since(t0);
  probe.ch[2] = rx3.metrics();
  rx3.close();
  check('b', "thread source", src.join());
  check('b', "stage x+1", st1.join());
  check('b', "stage x*2", st2.join());
  verify('b', n, sum);
  return dt;
}

double run_af_dsl(caf::actor_system& sys, const w1_options& opt, int n,
                  std::chrono::nanoseconds watchdog) {
  actorflow::run_options ro;
  ro.capacity = opt.capacity;
  ro.batch = opt.af_batch;
  ro.watchdog.after = watchdog;
  auto id = watchdog.count() > 0 ? 'k' : 'f';
  auto t0 = clock_type::now();
  // The same item type (int) and work as variant (a): x+1, x*2, sum.
  auto sum = actorflow::iota(0, n)
               .then([](int x) { return x + 1; })
               .then([](int x) { return x * 2; })
               .fold(uint64_t{0},
                     [](uint64_t& acc, int x) {
                       return acc + static_cast<uint64_t>(x);
                     })
               .run(sys, ro);
  auto dt = seconds_since(t0);
  if (!sum)
    die(std::string{"variant "} + id
        + ": pipeline failed: " + actorflow::to_string_any(sum.error()));
  verify(id, n, *sum);
  return dt;
}

} // namespace bench
