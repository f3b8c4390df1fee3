// This file is part of actorflow. See README.md for the project's license.
//
// bench_pipeline: pushes N ints through a 3-stage pipeline
//
//   source 0..N-1 -> x+1 -> x*2 -> sum        (expected sum: N*(N+1))
//
// and reports items/s for, in the same run:
//
//   a  actorflow: source, two stages and sink as coroutine workers joined by
//      actorflow channels of capacity C
//   b  actorflow: thread source (spawn_blocking_worker + blocking_send) and
//      thread sink (main thread, blocking_recv), coroutine stages: the cost
//      of the thread <-> actor bridge
//   c  4 std::threads joined by a mutex/condvar bounded std::deque of
//      capacity C, one item per push/pop (the naive peer)
//   d  the same, but the queue moves std::vector<int> batches of up to 256
//      items, at most C items queued (the batched peer)
//   e  a sequential loop (the floor on work)
//   f  actorflow stream DSL: the same pipeline written as
//      iota<int64_t>(0, N).then(x+1).then(x*2).fold(0, +), run with
//      run_options{capacity C, batch K}
//   g  oneTBB parallel_pipeline: four serial_in_order filters (source, x+1,
//      x*2, sum), at most T live tokens (default C)
//
// Every variant verifies its sum; a wrong sum or a failed worker makes the
// program exit non-zero. Each variant runs R times, interleaved (a b c d e a
// b c ...), after one untimed warm-up round; the table shows median, min and
// max items/s and the ratio of (a), (b) and (f) to every other variant (> 1:
// the row is faster), plus the process CPU time per item (median), which
// stays meaningful on a loaded machine. Pairwise ratios of (f), (a) and (g)
// are also given as the median of per-round ratios (runs of one round are
// back to back, so they see similar load).
//
// Usage: bench_pipeline [options] [-- CAF options]
//   --items N              items per run (default 10000000)
//   --capacity C           channel / queue capacity in items (default 1024)
//   --runs R               timed runs per variant (default 5)
//   --variants LIST        subset of "abcdefg" to run (default abcdefg)
//   --warmup N             items of the untimed warm-up round (default N/10,
//                          0 disables it)
//   --af-batch K           actorflow channel_options.batch (default 0: the
//                          library's choice, min(C, 256))
//   --queue-batch B        batch size of variant d (default 256)
//   --tbb-tokens T         max_number_of_live_tokens of variant g (default C)
//   --scheduler-threads T  shorthand for --scheduler.max-threads=T
//   --csv                  CSV on stdout instead of Markdown (settings go
//                          to stderr)
//   --help                 this text; `-- --long-help` lists CAF's options
// Any other argument (e.g. --scheduler.max-threads=2,
// --scheduler.policy=sharing, --work-stealing.moderate-sleep-duration=0us)
// goes to CAF's cfg.parse, as does everything after `--`.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/all.hpp>

#include <oneapi/tbb/parallel_pipeline.h>

#include "actorflow/all.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "bench_pipeline: " << what << '\n';
  std::exit(1);
}

// -- options ------------------------------------------------------------------

struct options {
  int64_t items = 10'000'000;
  size_t capacity = 1024;
  int runs = 5;
  std::string variants = "abcdefg";
  int64_t warmup = -1; // -1: items / 10
  uint32_t af_batch = 0;
  size_t queue_batch = 256;
  size_t tbb_tokens = 0; // 0: capacity
  int64_t scheduler_threads = 0;
  bool csv = false;
};

void usage(std::ostream& out) {
  out << "usage: bench_pipeline [--items N] [--capacity C] [--runs R]\n"
         "         [--variants abcdefg] [--warmup N] [--af-batch K]\n"
         "         [--queue-batch B] [--tbb-tokens T] [--scheduler-threads T]\n"
         "         [--csv]\n"
         "         [CAF options, e.g. --scheduler.max-threads=2] [-- CAF "
         "options]\n"
         "pipeline: source 0..N-1 -> x+1 -> x*2 -> sum (= N*(N+1))\n"
         "  a  actorflow, coroutine source/stages/sink, channels of "
         "capacity C\n"
         "  b  actorflow, thread source + main-thread sink (blocking_send/"
         "recv), coroutine stages\n"
         "  c  4 std::threads, mutex/condvar std::deque queue of capacity C, "
         "1 item at a time\n"
         "  d  4 std::threads, same queue moving vector<int> batches "
         "(<= C items queued)\n"
         "  e  sequential loop\n"
         "  f  actorflow stream DSL: iota(0, N).then(x+1).then(x*2)"
         ".fold(0, +), capacity C\n"
         "  g  oneTBB parallel_pipeline, 4 serial_in_order filters, "
         "T live tokens (default C)\n"
         "`bench_pipeline -- --long-help` lists CAF's options.\n";
}

int64_t to_int(const std::string& opt, const std::string& text) {
  try {
    size_t used = 0;
    auto x = std::stoll(text, &used);
    if (used != text.size())
      throw std::invalid_argument("trailing characters");
    return x;
  } catch (const std::exception&) {
    die("option " + opt + " expects an integer, got '" + text + "'");
  }
}

/// Parses our own options; returns the arguments meant for CAF.
std::vector<std::string> parse_args(int argc, char** argv, options& opt,
                                    bool& help) {
  std::vector<std::string> caf_args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i)
        caf_args.emplace_back(argv[i]);
      break;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('=');
        arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto next = [&]() -> std::string {
      if (value)
        return *value;
      if (i + 1 >= argc)
        die("option " + name + " expects a value");
      return argv[++i];
    };
    if (name == "--items") {
      opt.items = to_int(name, next());
    } else if (name == "--capacity") {
      auto c = to_int(name, next());
      if (c < 1)
        die("--capacity must be at least 1");
      opt.capacity = static_cast<size_t>(c);
    } else if (name == "--runs") {
      opt.runs = static_cast<int>(to_int(name, next()));
    } else if (name == "--variants") {
      opt.variants = next();
    } else if (name == "--warmup") {
      opt.warmup = to_int(name, next());
    } else if (name == "--af-batch") {
      auto k = to_int(name, next());
      if (k < 0 || k > 1'000'000)
        die("--af-batch must be in [0, 1000000]");
      opt.af_batch = static_cast<uint32_t>(k);
    } else if (name == "--queue-batch") {
      auto b = to_int(name, next());
      if (b < 1)
        die("--queue-batch must be at least 1");
      opt.queue_batch = static_cast<size_t>(b);
    } else if (name == "--tbb-tokens") {
      auto t = to_int(name, next());
      if (t < 1)
        die("--tbb-tokens must be at least 1");
      opt.tbb_tokens = static_cast<size_t>(t);
    } else if (name == "--scheduler-threads") {
      opt.scheduler_threads = to_int(name, next());
      if (opt.scheduler_threads < 1)
        die("--scheduler-threads must be at least 1");
    } else if (name == "--csv" && !value) {
      opt.csv = true;
    } else if ((name == "--help" || name == "-h") && !value) {
      help = true;
    } else {
      caf_args.push_back(arg); // CAF rejects what it does not know
    }
  }
  // 2 * N must fit an int (the largest item is 2 * N).
  if (opt.items < 1 || opt.items > 1'000'000'000)
    die("--items must be in [1, 1000000000]");
  if (opt.runs < 1 || opt.runs > 1000)
    die("--runs must be in [1, 1000]");
  if (opt.variants.empty()
      || opt.variants.find_first_not_of("abcdefg") != std::string::npos)
    die("--variants takes letters from 'abcdefg'");
  if (opt.tbb_tokens == 0)
    opt.tbb_tokens = opt.capacity;
  if (opt.warmup < 0)
    opt.warmup = std::max<int64_t>(1, opt.items / 10);
  if (opt.warmup > opt.items)
    opt.warmup = opt.items;
  return caf_args;
}

// -- results ------------------------------------------------------------------

uint64_t expected_sum(int64_t n) {
  // sum over i in [0, n) of 2 * (i + 1) = n * (n + 1)
  return static_cast<uint64_t>(n) * static_cast<uint64_t>(n + 1);
}

void verify(char variant, int64_t n, uint64_t sum) {
  if (sum != expected_sum(n)) {
    std::ostringstream os;
    os << "variant " << variant << ": wrong sum for N=" << n << ": got " << sum
       << ", expected " << expected_sum(n);
    die(os.str());
  }
}

void check(char variant, const char* what, const caf::error& err) {
  if (err)
    die(std::string{"variant "} + variant + ": " + what
        + " failed: " + actorflow::to_string_any(err));
}

/// What one actorflow run observed about its channels (diagnostics only).
struct af_probe {
  actorflow::channel_metrics ch[3];
};

/// The first three fields of /proc/loadavg ("?" if unreadable).
std::string loadavg() {
  std::ifstream in{"/proc/loadavg"};
  std::string a, b, c;
  if (!(in >> a >> b >> c))
    return "?";
  return a + " " + b + " " + c;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// CPU time of the whole process (all threads), in seconds. Unlike wall time
/// it barely moves when other processes compete for the cores.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec)
         + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// -- (a), (b): actorflow --------------------------------------------------------

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
                                          const options& opt) {
  auto ch = actorflow::channel<int>(sys, opt.capacity,
                                    actorflow::channel_options{opt.af_batch});
  if (!ch)
    die(std::string{"variant "} + variant
        + ": channel() failed: " + actorflow::to_string_any(ch.error()));
  return std::move(*ch);
}

double run_af_workers(caf::actor_system& sys, const options& opt, int n,
                      af_probe& probe) {
  auto t0 = clock_type::now();
  auto [tx1, rx1] = make_channel('a', sys, opt);
  auto [tx2, rx2] = make_channel('a', sys, opt);
  auto [tx3, rx3] = make_channel('a', sys, opt);
  uint64_t sum = 0;
  using actorflow::worker_options;
  auto snk = actorflow::spawn_worker(sys, worker_options{"sink"}, af_sink,
                                     std::move(rx3), &sum, &probe.ch[2]);
  auto st2 = actorflow::spawn_worker(sys, worker_options{"times-two"},
                                     af_times_two, std::move(rx2),
                                     std::move(tx3), &probe.ch[1]);
  auto st1 = actorflow::spawn_worker(sys, worker_options{"add-one"}, af_add_one,
                                     std::move(rx1), std::move(tx2),
                                     &probe.ch[0]);
  auto src = actorflow::spawn_worker(sys, worker_options{"source"}, af_source,
                                     std::move(tx1), n);
  check('a', "sink", snk.join());
  auto dt = seconds_since(t0);
  check('a', "source", src.join());
  check('a', "stage x+1", st1.join());
  check('a', "stage x*2", st2.join());
  verify('a', n, sum);
  return dt;
}

double run_af_bridge(caf::actor_system& sys, const options& opt, int n,
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
uint64_t thread_pipeline(size_t capacity, int n, MakeTx make_tx) {
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

double run_threads_naive(const options& opt, int n) {
  auto t0 = clock_type::now();
  auto sum = thread_pipeline<bounded_queue<int>, item_tx, item_rx>(
    opt.capacity, n, [](bounded_queue<int>* q) { return item_tx{q}; });
  auto dt = seconds_since(t0);
  verify('c', n, sum);
  return dt;
}

double run_threads_batched(const options& opt, int n) {
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

double run_sequential(int n) {
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

double run_af_dsl(caf::actor_system& sys, const options& opt, int n) {
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

double run_tbb(const options& opt, int n) {
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

// -- driver ---------------------------------------------------------------------

struct variant_info {
  char id;
  const char* label;
};

constexpr variant_info all_variants[] = {
  {'a', "actorflow: coroutine workers"},
  {'b', "actorflow: thread source/sink, coroutine stages"},
  {'c', "std::thread + mutex/condvar queue, 1 item"},
  {'d', "std::thread + mutex/condvar queue, batches"},
  {'e', "sequential loop"},
  {'f', "actorflow: stream DSL (iota.then.then.fold)"},
  {'g', "oneTBB parallel_pipeline, 4 serial filters"},
};

constexpr size_t num_variants = std::size(all_variants);

struct stats {
  double median = 0;
  double min = 0;
  double max = 0;
};

stats summarize(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  stats s;
  s.min = xs.front();
  s.max = xs.back();
  auto k = xs.size();
  s.median = k % 2 == 1 ? xs[k / 2] : (xs[k / 2 - 1] + xs[k / 2]) / 2;
  return s;
}

std::string fmt_rate(double items_per_s) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2fM", items_per_s / 1e6);
  return buf;
}

std::string fmt_ratio(double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), x < 0.1 ? "%.4fx" : "%.2fx", x);
  return buf;
}

std::string fmt_fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

double run_variant(char id, caf::actor_system& sys, const options& opt, int n,
                   af_probe& probe) {
  switch (id) {
    case 'a':
      return run_af_workers(sys, opt, n, probe);
    case 'b':
      return run_af_bridge(sys, opt, n, probe);
    case 'c':
      return run_threads_naive(opt, n);
    case 'd':
      return run_threads_batched(opt, n);
    case 'f':
      return run_af_dsl(sys, opt, n);
    case 'g':
      return run_tbb(opt, n);
    default:
      return run_sequential(n);
  }
}

std::string describe_probe(const af_probe& p, size_t capacity) {
  std::ostringstream os;
  for (int k = 0; k < 3; ++k) {
    auto& m = p.ch[k];
    auto per_msg = m.messages_in > 0 ? static_cast<double>(m.pushed)
                                         / static_cast<double>(m.messages_in)
                                     : 0.0;
    if (k > 0)
      os << "; ";
    os << "ch" << (k + 1) << " " << fmt_fixed(per_msg, 1)
       << " items/push msg, max in flight " << m.max_in_flight;
    if (m.max_in_flight > capacity)
      os << " (EXCEEDS capacity " << capacity << "!)";
  }
  return os.str();
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  bool help = false;
  auto caf_args = parse_args(argc, argv, opt, help);
  if (help) {
    usage(std::cout);
    return 0;
  }
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  if (opt.scheduler_threads > 0)
    cfg.set("scheduler.max-threads",
            static_cast<size_t>(opt.scheduler_threads));
  if (auto err = cfg.parse(caf_args)) {
    std::cerr << "bench_pipeline: bad CAF option: " << cfg.render(err) << '\n';
    usage(std::cerr);
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (!cfg.remainder.empty())
    die("unexpected argument '" + cfg.remainder.front() + "' (see --help)");
  caf::actor_system sys{cfg};

  auto n = static_cast<int>(opt.items);
  auto& out = opt.csv ? std::cerr : std::cout;
  auto policy = caf::get_or(sys.config(), "scheduler.policy",
                            caf::defaults::scheduler::policy);
  auto max_threads = caf::get_or(sys.config(), "scheduler.max-threads",
                                 caf::defaults::scheduler::max_threads);
  auto throughput = sys.scheduler().max_throughput();
  out << "# bench_pipeline: source 0..N-1 -> x+1 -> x*2 -> sum\n\n"
      << "N = " << opt.items << " items, capacity C = " << opt.capacity
      << ", runs R = " << opt.runs
      << (opt.warmup > 0
            ? " (+1 warm-up round of " + std::to_string(opt.warmup) + " items)"
            : std::string{" (no warm-up)"})
      << ", actorflow batch = "
      << (opt.af_batch != 0 ? std::to_string(opt.af_batch)
                            : "default (min(C, 256))")
      << ", queue batch (d) = " << std::min(opt.queue_batch, opt.capacity)
      << ", TBB live tokens (g) = " << opt.tbb_tokens
      << ", hardware threads = " << std::thread::hardware_concurrency()
      << "\n\nCAF scheduler: policy = " << caf::to_string(policy)
      << ", max-threads = " << max_threads
      << " (workers: " << sys.scheduler().num_workers() << ")"
      << ", max-throughput = "
      << (throughput == std::numeric_limits<size_t>::max()
            ? std::string{"unlimited"}
            : std::to_string(throughput))
      << ", load average at start: " << loadavg() << "\n\n";
  out.flush();

  std::vector<char> ids;
  for (auto& v : all_variants)
    if (opt.variants.find(v.id) != std::string::npos)
      ids.push_back(v.id);

  af_probe probe_a, probe_b;
  auto probe_for = [&](char id) -> af_probe& {
    return id == 'b' ? probe_b : probe_a;
  };
  if (opt.warmup > 0)
    for (auto id : ids)
      run_variant(id, sys, opt, static_cast<int>(opt.warmup), probe_for(id));

  std::vector<std::vector<double>> rates(num_variants);
  std::vector<std::vector<double>> cpu_ns(num_variants); // CPU ns per item
  for (int r = 0; r < opt.runs; ++r)
    for (auto id : ids) {
      auto cpu0 = process_cpu_seconds();
      auto dt = run_variant(id, sys, opt, n, probe_for(id));
      auto cpu = process_cpu_seconds() - cpu0;
      rates[id - 'a'].push_back(static_cast<double>(n) / dt);
      cpu_ns[id - 'a'].push_back(cpu * 1e9 / static_cast<double>(n));
    }

  stats st[num_variants];
  stats cpu_st[num_variants];
  for (auto id : ids) {
    st[id - 'a'] = summarize(rates[id - 'a']);
    cpu_st[id - 'a'] = summarize(cpu_ns[id - 'a']);
  }
  auto has = [&](char id) {
    return !rates[id - 'a'].empty();
  };

  if (opt.csv) {
    std::cout << "variant,label,items,capacity,runs,median_items_per_s,"
                 "min_items_per_s,max_items_per_s,median_seconds,"
                 "median_cpu_ns_per_item";
    for (auto peer : ids)
      std::cout << ",ratio_vs_" << peer;
    std::cout << '\n';
    for (auto id : ids) {
      auto& s = st[id - 'a'];
      std::cout << id << ",\"" << all_variants[id - 'a'].label << "\","
                << opt.items << ',' << opt.capacity << ',' << opt.runs << ','
                << fmt_fixed(s.median, 0) << ',' << fmt_fixed(s.min, 0) << ','
                << fmt_fixed(s.max, 0) << ','
                << fmt_fixed(static_cast<double>(n) / s.median, 6) << ','
                << fmt_fixed(cpu_st[id - 'a'].median, 3);
      for (auto peer : ids)
        std::cout << ',' << fmt_fixed(s.median / st[peer - 'a'].median, 4);
      std::cout << '\n';
    }
  } else {
    std::cout << "| variant | median items/s | min | max | median time "
                 "| CPU ns/item |\n"
                 "|---|---:|---:|---:|---:|---:|\n";
    for (auto id : ids) {
      auto& s = st[id - 'a'];
      std::cout << "| (" << id << ") " << all_variants[id - 'a'].label << " | "
                << fmt_rate(s.median) << " | " << fmt_rate(s.min) << " | "
                << fmt_rate(s.max) << " | "
                << fmt_fixed(1e3 * static_cast<double>(n) / s.median, 1)
                << " ms | " << fmt_fixed(cpu_st[id - 'a'].median, 1) << " |\n";
    }
    std::cout << "\nCPU ns/item: process CPU time (all threads, including "
                 "idle polling) per item, median of the runs; it moves much "
                 "less than items/s when other load competes for the "
                 "cores.\n";
    std::vector<char> mine;
    for (auto id : ids)
      if (id == 'a' || id == 'b' || id == 'f')
        mine.push_back(id);
    if (!mine.empty() && ids.size() > 1) {
      std::cout << "\nRatio of medians (row / column, > 1: the actorflow "
                   "row is faster):\n\n"
                   "| | ";
      for (auto p : ids)
        std::cout << "vs (" << p << ") | ";
      std::cout << "\n|---|";
      for (size_t k = 0; k < ids.size(); ++k)
        std::cout << "---:|";
      std::cout << '\n';
      for (auto id : mine) {
        std::cout << "| (" << id << ") | ";
        for (auto p : ids)
          std::cout << (p == id
                          ? std::string{"-"}
                          : fmt_ratio(st[id - 'a'].median / st[p - 'a'].median))
                    << " | ";
        std::cout << '\n';
      }
    }
    // Paired ratios: runs of one round are back to back, so their ratio is
    // less exposed to load that comes and goes than a ratio of medians.
    std::vector<std::pair<char, char>> pairs;
    for (auto [x, y] :
         {std::pair{'f', 'a'}, std::pair{'f', 'g'}, std::pair{'a', 'g'}})
      if (has(x) && has(y))
        pairs.emplace_back(x, y);
    if (!pairs.empty()) {
      std::cout << "\nPer-round ratios (median [min, max] over the " << opt.runs
                << " rounds):";
      for (auto [x, y] : pairs) {
        std::vector<double> rs;
        for (int r = 0; r < opt.runs; ++r)
          rs.push_back(rates[x - 'a'][static_cast<size_t>(r)]
                       / rates[y - 'a'][static_cast<size_t>(r)]);
        auto q = summarize(rs);
        std::cout << (x == pairs.front().first && y == pairs.front().second
                        ? " "
                        : "; ")
                  << "(" << x << ")/(" << y << ") = " << fmt_ratio(q.median)
                  << " [" << fmt_ratio(q.min) << ", " << fmt_ratio(q.max)
                  << "]";
      }
      std::cout << '\n';
    }
    std::cout << '\n';
  }
  out << "Load average at the end: " << loadavg() << '\n';
  if (has('a'))
    out << "actorflow (a), last run: " << describe_probe(probe_a, opt.capacity)
        << '\n';
  if (has('b'))
    out << "actorflow (b), last run: " << describe_probe(probe_b, opt.capacity)
        << '\n';
  return 0;
}
