// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/w1.hpp: the variants of workload W1 (source 0..N-1 -> x+1 ->
// x*2 -> sum, expected sum N*(N+1)), shared by bench_pipeline and
// bench_suite. Each run_* function times one run, verifies its sum (exit 1 if
// wrong) and returns the wall time in seconds.

#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/parallel_pipeline.h>

#include "common.hpp"

namespace bench {

/// Settings of the W1 variants.
struct w1_options {
  /// Channel / queue capacity in items: by default 16384, what the DSL's
  /// automatic capacity picks for `int` (64 KiB), for every variant.
  size_t capacity = 16384;
  /// actorflow channel_options.batch (0: the library's choice).
  uint32_t af_batch = 0;
  /// Batch size of the batched std::thread queue.
  size_t queue_batch = 256;
  /// TBB max_number_of_live_tokens.
  size_t tbb_tokens = 1024;
};

// -- results ------------------------------------------------------------------

inline uint64_t expected_sum(int64_t n) {
  // sum over i in [0, n) of 2 * (i + 1) = n * (n + 1)
  return static_cast<uint64_t>(n) * static_cast<uint64_t>(n + 1);
}

inline void verify(char variant, int64_t n, uint64_t sum) {
  if (sum != expected_sum(n)) {
    std::ostringstream os;
    os << "variant " << variant << ": wrong sum for N=" << n << ": got " << sum
       << ", expected " << expected_sum(n);
    die(os.str());
  }
}

inline void check(char variant, const char* what, const caf::error& err) {
  if (err)
    die(std::string{"variant "} + variant + ": " + what
        + " failed: " + actorflow::to_string_any(err));
}

/// What one actorflow run observed about its channels (diagnostics only).
struct af_probe {
  actorflow::channel_metrics ch[3];
};

// -- (a), (b): actorflow --------------------------------------------------------

using actorflow::receiver;
using actorflow::sender;
using actorflow::task;

inline task<> af_source(sender<int> tx, int n) {
  for (int i = 0; i < n; ++i)
    if (!co_await tx.send(i))
      throw std::runtime_error("source: every receiver is gone");
}

inline task<> af_add_one(receiver<int> rx, sender<int> tx,
                         actorflow::channel_metrics* m) {
  while (auto x = co_await rx.recv())
    if (!co_await tx.send(*x + 1))
      throw std::runtime_error("stage x+1: every receiver is gone");
  *m = rx.metrics();
}

inline task<> af_times_two(receiver<int> rx, sender<int> tx,
                           actorflow::channel_metrics* m) {
  while (auto x = co_await rx.recv())
    if (!co_await tx.send(*x * 2))
      throw std::runtime_error("stage x*2: every receiver is gone");
  *m = rx.metrics();
}

inline task<> af_sink(receiver<int> rx, uint64_t* sum,
                      actorflow::channel_metrics* m) {
  uint64_t acc = 0;
  while (auto x = co_await rx.recv())
    acc += static_cast<uint64_t>(*x);
  *sum = acc;
  *m = rx.metrics();
}

inline actorflow::channel_pair<int> make_channel(char variant,
                                                 caf::actor_system& sys,
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

inline task<> af_source_many(sender<int> tx, int n) {
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

inline task<> af_sink_many(receiver<int> rx, uint64_t* sum,
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

inline double run_af_workers(caf::actor_system& sys, const w1_options& opt,
                             int n, af_probe& probe) {
  return run_af_worker_chain('a', sys, opt, n, probe, af_source, af_add_one,
                             af_times_two, af_sink);
}

inline double run_af_workers_many(caf::actor_system& sys, const w1_options& opt,
                                  int n, af_probe& probe) {
  return run_af_worker_chain('j', sys, opt, n, probe, af_source_many,
                             af_stage_many<1, 1>, af_stage_many<0, 2>,
                             af_sink_many);
}

inline double run_af_bridge(caf::actor_system& sys, const w1_options& opt,
                            int n, af_probe& probe) {
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

// -- (c), (d): std::thread pipelines --------------------------------------------

/// A bounded MPMC queue: mutex, two condition variables, std::deque. `cost`
/// says how many capacity units an element takes (1 per item; the item count
/// of a batch).
template <class T>
class bounded_queue {
public:
  explicit bounded_queue(size_t capacity) : capacity_(capacity) {
    // nop
  }

  void push(T x, size_t cost = 1) {
    std::unique_lock guard{mtx_};
    // An element larger than the capacity still passes on an empty queue.
    not_full_.wait(guard,
                   [&] { return used_ + cost <= capacity_ || q_.empty(); });
    q_.emplace_back(std::move(x), cost);
    used_ += cost;
    guard.unlock();
    not_empty_.notify_one();
  }

  std::optional<T> pop() {
    std::unique_lock guard{mtx_};
    not_empty_.wait(guard, [&] { return !q_.empty() || closed_; });
    if (q_.empty())
      return std::nullopt;
    auto [x, cost] = std::move(q_.front());
    q_.pop_front();
    used_ -= cost;
    guard.unlock();
    not_full_.notify_one();
    return std::optional<T>{std::move(x)};
  }

  void close() {
    {
      std::lock_guard guard{mtx_};
      closed_ = true;
    }
    not_empty_.notify_all();
  }

private:
  std::mutex mtx_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::pair<T, size_t>> q_;
  size_t capacity_;
  size_t used_ = 0;
  bool closed_ = false;
};

/// Item-at-a-time ends over a queue of single items.
struct item_tx {
  bounded_queue<int>* q;
  void send(int x) {
    q->push(x);
  }
  void close() {
    q->close();
  }
};

struct item_rx {
  bounded_queue<int>* q;
  std::optional<int> recv() {
    return q->pop();
  }
};

/// Item-at-a-time ends over a queue of batches: the same stage code as the
/// naive pipeline, with the transport batched.
struct batch_tx {
  bounded_queue<std::vector<int>>* q;
  size_t batch;
  std::vector<int> buf = {};
  void send(int x) {
    if (buf.capacity() == 0)
      buf.reserve(batch);
    buf.push_back(x);
    if (buf.size() >= batch)
      flush();
  }
  void flush() {
    if (!buf.empty()) {
      auto n = buf.size();
      q->push(std::exchange(buf, {}), n);
    }
  }
  void close() {
    flush();
    q->close();
  }
};

struct batch_rx {
  bounded_queue<std::vector<int>>* q;
  std::vector<int> buf = {};
  size_t pos = 0;
  std::optional<int> recv() {
    while (pos == buf.size()) {
      auto b = q->pop();
      if (!b)
        return std::nullopt;
      buf = std::move(*b);
      pos = 0;
    }
    return buf[pos++];
  }
};

/// Runs source -> x+1 -> x*2 -> sink on 4 std::threads over 3 queues.
template <class Queue, class Tx, class Rx, class MakeTx>
inline uint64_t thread_pipeline(size_t capacity, int n, MakeTx make_tx) {
  Queue q1{capacity}, q2{capacity}, q3{capacity};
  uint64_t sum = 0;
  std::thread source{[&] {
    Tx tx = make_tx(&q1);
    for (int i = 0; i < n; ++i)
      tx.send(i);
    tx.close();
  }};
  std::thread add_one{[&] {
    Rx rx{&q1};
    Tx tx = make_tx(&q2);
    while (auto x = rx.recv())
      tx.send(*x + 1);
    tx.close();
  }};
  std::thread times_two{[&] {
    Rx rx{&q2};
    Tx tx = make_tx(&q3);
    while (auto x = rx.recv())
      tx.send(*x * 2);
    tx.close();
  }};
  std::thread sink{[&] {
    Rx rx{&q3};
    uint64_t acc = 0;
    while (auto x = rx.recv())
      acc += static_cast<uint64_t>(*x);
    sum = acc;
  }};
  source.join();
  add_one.join();
  times_two.join();
  sink.join();
  return sum;
}

inline double run_threads_naive(const w1_options& opt, int n) {
  auto t0 = clock_type::now();
  auto sum = thread_pipeline<bounded_queue<int>, item_tx, item_rx>(
    opt.capacity, n, [](bounded_queue<int>* q) { return item_tx{q}; });
  auto dt = seconds_since(t0);
  verify('c', n, sum);
  return dt;
}

inline double run_threads_batched(const w1_options& opt, int n) {
  auto batch = std::min(opt.queue_batch, opt.capacity);
  auto t0 = clock_type::now();
  auto sum
    = thread_pipeline<bounded_queue<std::vector<int>>, batch_tx, batch_rx>(
      opt.capacity, n, [batch](bounded_queue<std::vector<int>>* q) {
        return batch_tx{q, batch};
      });
  auto dt = seconds_since(t0);
  verify('d', n, sum);
  return dt;
}

// -- (e): sequential ------------------------------------------------------------

/// Hides `x` from the optimizer: it cannot fold the loop into a closed form
/// or vectorize it, so every item is produced, transformed and summed.
inline void opaque(int& x) {
  asm volatile("" : "+r"(x));
}

inline double run_sequential(int n) {
  auto t0 = clock_type::now();
  uint64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    int x = i;
    opaque(x);
    sum += static_cast<uint64_t>((x + 1) * 2);
  }
  auto dt = seconds_since(t0);
  verify('e', n, sum);
  return dt;
}

// -- (f): actorflow stream DSL ------------------------------------------------

inline double run_af_dsl(caf::actor_system& sys, const w1_options& opt, int n) {
  auto t0 = clock_type::now();
  // The same item type (int) and work as variant (a): x+1, x*2, sum.
  auto sum = actorflow::iota(0, n)
               .then([](int x) { return x + 1; })
               .then([](int x) { return x * 2; })
               .fold(uint64_t{0},
                     [](uint64_t& acc, int x) {
                       return acc + static_cast<uint64_t>(x);
                     })
               .run(sys, actorflow::run_options{opt.capacity, opt.af_batch});
  auto dt = seconds_since(t0);
  if (!sum)
    die("variant f: pipeline failed: " + actorflow::to_string_any(sum.error()));
  verify('f', n, *sum);
  return dt;
}

// -- (g): oneTBB parallel_pipeline ----------------------------------------------

inline double run_tbb(const w1_options& opt, int n) {
  using tbb::filter_mode;
  auto t0 = clock_type::now();
  int next = 0;
  uint64_t sum = 0;
  tbb::parallel_pipeline(
    opt.tbb_tokens,
    tbb::make_filter<void, int>(filter_mode::serial_in_order,
                                [&](tbb::flow_control& fc) {
                                  if (next >= n) {
                                    fc.stop();
                                    return 0;
                                  }
                                  return next++;
                                })
      & tbb::make_filter<int, int>(filter_mode::serial_in_order,
                                   [](int x) { return x + 1; })
      & tbb::make_filter<int, int>(filter_mode::serial_in_order,
                                   [](int x) { return x * 2; })
      & tbb::make_filter<int, void>(filter_mode::serial_in_order, [&](int x) {
          sum += static_cast<uint64_t>(x);
        }));
  auto dt = seconds_since(t0);
  verify('g', n, sum);
  return dt;
}

// -- (h): CAF 0.17 built-in streams -------------------------------------------

using w1_done_atom = caf::atom_constant<caf::atom("w1_done")>;

/// Source actor: on (open_atom, n) streams 0..n-1 to the next actor of the
/// pipeline (attach_stream_source).
inline caf::behavior caf_stream_source(caf::event_based_actor* self) {
  return {
    [self](caf::open_atom, int n) {
      return caf::attach_stream_source(
        self, [](int& i) { i = 0; },
        [n](int& i, caf::downstream<int>& out, size_t hint) {
          auto end = std::min<int64_t>(n,
                                       int64_t{i} + static_cast<int64_t>(hint));
          for (; i < end; ++i)
            out.push(i);
        },
        [n](const int& i) { return i == n; });
    },
  };
}

/// Stage actor applying `f` to every item (attach_stream_stage).
template <class F>
caf::behavior caf_stream_stage(caf::event_based_actor* self, F f) {
  return {
    [self, f](caf::stream<int> in) {
      return caf::attach_stream_stage(
        self, in, [](caf::unit_t&) {},
        [f](caf::unit_t&, caf::downstream<int>& out, int x) { out.push(f(x)); },
        [](caf::unit_t&, const caf::error&) {});
    },
  };
}

/// Sink actor summing the items; sends (w1_done, sum) to `reply` at the end.
inline caf::behavior caf_stream_sink(caf::event_based_actor* self,
                                     caf::actor reply) {
  return {
    [self, reply](caf::stream<int> in) {
      return caf::attach_stream_sink(
        self, in, [](uint64_t& acc) { acc = 0; },
        [](uint64_t& acc, int x) { acc += static_cast<uint64_t>(x); },
        [reply](uint64_t& acc, const caf::error&) {
          caf::anon_send(reply, w1_done_atom::value, acc);
        });
    },
  };
}

inline double run_caf_streams(caf::actor_system& sys, int n) {
  caf::scoped_actor self{sys};
  auto t0 = clock_type::now();
  auto snk = sys.spawn(caf_stream_sink, caf::actor{self});
  auto st2 = sys.spawn(
    caf_stream_stage<int (*)(int)>, +[](int x) { return x * 2; });
  auto st1 = sys.spawn(
    caf_stream_stage<int (*)(int)>, +[](int x) { return x + 1; });
  auto src = sys.spawn(caf_stream_source);
  auto pipeline = snk * st2 * st1 * src;
  self->send(pipeline, caf::open_atom::value, n);
  uint64_t sum = 0;
  bool done = false;
  self->receive(
    [&](w1_done_atom, uint64_t acc) {
      sum = acc;
      done = true;
    },
    caf::after(std::chrono::seconds{300}) >> [] {});
  auto dt = seconds_since(t0);
  for (auto& a : {snk, st2, st1, src})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  if (!done)
    die("variant h: the CAF stream did not finish within 300 s");
  verify('h', n, sum);
  return dt;
}

// -- (i): oneTBB flow graph ---------------------------------------------------

/// input_node -> function_node(x+1) -> function_node(x*2) -> function_node
/// (sum), every node serial; the first stage rejects while busy, so the input
/// node only produces what the graph takes (no unbounded buffering upstream).
inline double run_tbb_flow_graph(int n) {
  namespace flow = tbb::flow;
  auto t0 = clock_type::now();
  flow::graph g;
  int next = 0;
  uint64_t sum = 0;
  flow::input_node<int> src{g, [&](tbb::flow_control& fc) {
                              if (next >= n) {
                                fc.stop();
                                return 0;
                              }
                              return next++;
                            }};
  flow::function_node<int, int, flow::rejecting> add_one{g, flow::serial,
                                                         [](int x) {
                                                           return x + 1;
                                                         }};
  flow::function_node<int, int> times_two{g, flow::serial, [](int x) {
                                            return x * 2;
                                          }};
  flow::function_node<int, flow::continue_msg> sink{
    g, flow::serial, [&](int x) {
      sum += static_cast<uint64_t>(x);
      return flow::continue_msg{};
    }};
  flow::make_edge(src, add_one);
  flow::make_edge(add_one, times_two);
  flow::make_edge(times_two, sink);
  src.activate();
  g.wait_for_all();
  auto dt = seconds_since(t0);
  verify('i', n, sum);
  return dt;
}

} // namespace bench
