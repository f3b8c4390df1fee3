// This file is part of actorflow. See README.md for the project's license.
//
// common.hpp: what the benchmark tools share: command-line parsing
// (own options first, the rest for CAF), statistics (median/min/max),
// formatting, clocks, load average, resident set size, the calibrated CPU
// work of the parallel workloads, the setup of the actor system and peer
// processes of the tool itself.

#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include <utility>
#include <vector>

#include <csignal>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/all.hpp>

#include "actorflow/all.hpp"

extern char** environ;

namespace bench {

using clock_type = std::chrono::steady_clock;

// -- errors and parsing -------------------------------------------------------

/// The name `die` prefixes its messages with (set it first thing in main).
inline std::string& program_name() {
  static std::string name = "bench";
  return name;
}

[[noreturn]] inline void die(const std::string& what) {
  std::cerr << program_name() << ": " << what << '\n';
  std::exit(1);
}

inline int64_t to_int(const std::string& opt, const std::string& text) {
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

inline double to_double(const std::string& opt, const std::string& text) {
  try {
    size_t used = 0;
    auto x = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(x))
      throw std::invalid_argument("trailing characters");
    return x;
  } catch (const std::exception&) {
    die("option " + opt + " expects a number, got '" + text + "'");
  }
}

/// `to_int` with a range check.
inline int64_t to_int_in(const std::string& opt, const std::string& text,
                         int64_t lo, int64_t hi) {
  auto x = to_int(opt, text);
  if (x < lo || x > hi)
    die(opt + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi)
        + "]");
  return x;
}

/// Dies unless 1 <= runs <= 1000 and `variants` is a non-empty subset of
/// the letters in `allowed`.
inline void check_runs_and_variants(int runs, const std::string& variants,
                                    const std::string& allowed) {
  if (runs < 1 || runs > 1000)
    die("--runs must be in [1, 1000]");
  if (variants.empty()
      || variants.find_first_not_of(allowed) != std::string::npos)
    die("--variants takes letters from '" + allowed + "'");
}

/// A variant of a benchmark: its letter and what it is.
struct variant_info {
  char id;
  const char* label;
};

/// One option on the command line, as `--name value` or `--name=value`.
struct option_arg {
  std::string name;
  std::function<std::string()> value; ///< Consumes the value (dies if none).
  bool has_inline_value;              ///< True for `--name=value`.

  /// True for a flag given without `=value`.
  bool is_flag(const char* flag) const {
    return name == flag && !has_inline_value;
  }
};

/// Walks argv: `handle(arg)` returns true for our own options; `--help`/`-h`
/// set `help`; everything else, and all after `--`, is returned for CAF.
inline std::vector<std::string> parse_command_line(
  int argc, char** argv, bool& help,
  const std::function<bool(option_arg&)>& handle) {
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
    option_arg opt{name,
                   [&]() -> std::string {
                     if (value)
                       return *value;
                     if (i + 1 >= argc)
                       die("option " + name + " expects a value");
                     return argv[++i];
                   },
                   value.has_value()};
    if (opt.is_flag("--help") || opt.is_flag("-h"))
      help = true;
    else if (!handle(opt))
      caf_args.push_back(arg); // CAF rejects what it does not know
  }
  return caf_args;
}

/// Fills `cfg` (actorflow::init, `scheduler_threads` if > 0, the CAF
/// arguments). Returns an exit code if the program should stop now.
inline std::optional<int> configure(caf::actor_system_config& cfg,
                                    std::vector<std::string> caf_args,
                                    int64_t scheduler_threads,
                                    void (*usage)(std::ostream&)) {
  actorflow::init(cfg);
  if (scheduler_threads > 0)
    cfg.set("scheduler.max-threads", static_cast<size_t>(scheduler_threads));
  if (auto err = cfg.parse(std::move(caf_args))) {
    std::cerr << program_name() << ": bad CAF option: " << cfg.render(err)
              << '\n';
    usage(std::cerr);
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (!cfg.remainder.empty())
    die("unexpected argument '" + cfg.remainder.front() + "' (see --help)");
  return std::nullopt;
}

/// The start of a tool's main: names the program, parses argv with `parse`
/// (own options into `opt`, the rest returned for CAF and stored in
/// `caf_args`), prints `usage` on --help and fills `cfg` (see configure).
/// Returns an exit code if the program should stop now.
template <class Options>
std::optional<int> start(const char* name, int argc, char** argv, Options& opt,
                         std::vector<std::string> (*parse)(int, char**,
                                                           Options&, bool&),
                         void (*usage)(std::ostream&),
                         caf::actor_system_config& cfg,
                         std::vector<std::string>& caf_args) {
  program_name() = name;
  bool help = false;
  caf_args = parse(argc, argv, opt, help);
  if (help) {
    usage(std::cout);
    return 0;
  }
  return configure(cfg, caf_args, opt.scheduler_threads, usage);
}

// -- statistics and formatting ------------------------------------------------

struct stats {
  double median = 0;
  double min = 0;
  double max = 0;
};

/// Median (mean of the two middle values for an even count), min and max.
inline stats summarize(std::vector<double> xs) {
  stats s;
  if (xs.empty())
    return s;
  std::sort(xs.begin(), xs.end());
  s.min = xs.front();
  s.max = xs.back();
  auto k = xs.size();
  s.median = k % 2 == 1 ? xs[k / 2] : (xs[k / 2 - 1] + xs[k / 2]) / 2;
  return s;
}

inline std::string fmt(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

/// Items per second as "12.34M" (or "567.8k" below a million).
inline std::string fmt_rate(double items_per_s) {
  if (items_per_s >= 1e6)
    return fmt(items_per_s / 1e6, 2) + "M";
  return fmt(items_per_s / 1e3, 1) + "k";
}

inline std::string fmt_ratio(double x) {
  return fmt(x, x < 0.1 ? 4 : 2) + "x";
}

// -- clocks and the machine -----------------------------------------------------

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

inline double cpu_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec)
         + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// CPU time of the whole process (all threads), in seconds. Unlike wall time
/// it barely moves when other processes compete for the cores.
inline double process_cpu_seconds() {
  return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

/// CPU time of the calling thread, in seconds.
inline double thread_cpu_seconds() {
  return cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
}

/// The first three fields of /proc/loadavg ("?" if unreadable).
inline std::string loadavg() {
  std::ifstream in{"/proc/loadavg"};
  std::string a, b, c;
  if (!(in >> a >> b >> c))
    return "?";
  return a + " " + b + " " + c;
}

/// A field of /proc/self/status in KiB, e.g. "VmRSS" or "VmHWM" (0 if
/// unreadable).
inline int64_t status_kib(const std::string& field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  auto prefix = field + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      return std::atoll(line.c_str() + prefix.size());
  return 0;
}

/// "policy = ..., max-threads = ... (workers: ...)" of `sys`.
inline std::string describe_scheduler(caf::actor_system& sys) {
  auto policy = caf::get_or(sys.config(), "scheduler.policy",
                            caf::defaults::scheduler::policy);
  auto max_threads = caf::get_or(sys.config(), "scheduler.max-threads",
                                 caf::defaults::scheduler::max_threads);
  return "policy = " + caf::to_string(policy)
         + ", max-threads = " + std::to_string(max_threads)
         + " (workers: " + std::to_string(sys.scheduler().num_workers()) + ")";
}

// -- calibrated CPU work ------------------------------------------------------

/// ~`iters` dependent multiply/xor-shift rounds on `x` (a chain the compiler
/// can neither vectorize nor shortcut).
[[gnu::noinline]] inline uint64_t hash_work(uint64_t x, uint32_t iters) {
  uint64_t h = x ^ 0x9e3779b97f4a7c15ULL;
  for (uint32_t i = 0; i < iters; ++i) {
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
  }
  return h ^ (h >> 29);
}

/// Thread CPU seconds of the best of `trials` rounds of `calls` calls of
/// hash_work with `iters` iterations.
inline double best_hash_seconds(uint32_t iters, int calls, int trials) {
  double best = std::numeric_limits<double>::max();
  uint64_t sink = 0;
  for (int trial = 0; trial < trials; ++trial) {
    auto t0 = thread_cpu_seconds();
    for (int i = 0; i < calls; ++i)
      sink += hash_work(static_cast<uint64_t>(i), iters);
    best = std::min(best, thread_cpu_seconds() - t0);
  }
  if (sink == 42) // keeps the loop; practically never true
    std::cerr << "";
  return best;
}

/// Hash iterations per microsecond of thread CPU time: the best of several
/// short trials, after ~0.1 s of spinning (so that the core is at speed).
inline double calibrate() {
  constexpr uint32_t iters = 1000;
  constexpr int calls = 4000;
  uint64_t sink = 0;
  for (auto t0 = clock_type::now(); seconds_since(t0) < 0.1;)
    sink += hash_work(sink, iters);
  if (sink == 42)
    std::cerr << "";
  auto best = best_hash_seconds(iters, calls, 15);
  return static_cast<double>(iters) * calls / (best * 1e6);
}

/// Thread CPU time of one call of hash_work with `iters` iterations, in
/// microseconds (the best of a few trials).
inline double measure_us(uint32_t iters) {
  auto calls = std::max<int>(1, static_cast<int>(20'000'000 / (iters + 1)));
  calls = std::min(calls, 20000);
  return best_hash_seconds(iters, calls, 5) * 1e6 / calls;
}

// -- the std::thread peers -------------------------------------------------

/// The queue of the std::thread peers (W1, L1): bounded MPMC, a mutex, two
/// condition variables and a std::deque. `cost` says how many capacity
/// units an element takes (1 per item; the item count of a batch). `close`
/// ends it once the producers are done.
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

// -- peer processes -------------------------------------------------------------

/// A process of this program started by `start_self`.
struct self_process {
  pid_t pid = 0;
  /// The port it reported with its first line, "PORT <n>".
  uint16_t port = 0;
};

/// Starts this program again with `args` (e.g. "--peer") and waits for the
/// first line of its stdout, "PORT <n>": the peer prints it once it
/// listens. Nothing if it could not start or said something else (then it
/// is killed).
inline std::optional<self_process> start_self(std::vector<std::string> args) {
  int fds[2];
  if (::pipe(fds) != 0)
    return std::nullopt;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::string exe = "/proc/self/exe";
  std::vector<char*> argv{exe.data()};
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  self_process p;
  auto rc = ::posix_spawn(&p.pid, exe.c_str(), &fa, nullptr, argv.data(),
                          environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return std::nullopt;
  }
  std::string line;
  char c = 0;
  while (::read(fds[0], &c, 1) == 1 && c != '\n')
    line += c;
  ::close(fds[0]);
  if (line.rfind("PORT ", 0) != 0) {
    ::kill(p.pid, SIGKILL);
    ::waitpid(p.pid, nullptr, 0);
    return std::nullopt;
  }
  p.port = static_cast<uint16_t>(std::stoi(line.substr(5)));
  return p;
}

/// Kills (SIGKILL, by PID) and reaps a process from `start_self`.
inline void stop_self(self_process& p) {
  if (p.pid > 0) {
    ::kill(p.pid, SIGKILL);
    ::waitpid(p.pid, nullptr, 0);
    p.pid = 0;
  }
}

} // namespace bench
