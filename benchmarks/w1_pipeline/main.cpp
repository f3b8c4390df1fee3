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
//   h  CAF 0.17's built-in streams: attach_stream_source, two
//      attach_stream_stage actors and attach_stream_sink, composed with
//      `snk * st2 * st1 * src` (CAF's own batching and credit)
//   i  oneTBB flow graph: input_node -> three serial function_nodes (the
//      first rejecting while busy, so the input node is throttled)
//   j  actorflow: the workers of (a) with the batch calls, recv_many (up to
//      1024 items buffered now) and send_many (a vector of them)
//   k  (f) with the stall watchdog on, at 10 ms (a reading of every stage
//      every 2.5 ms, far more often than a real threshold asks): its cost
//
// The variants live beside this file, one file per peer (actorflow.cpp,
// threads.cpp, sequential.cpp, tbb.cpp, caf_streams.cpp), shared with
// bench_suite.
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
//   --capacity C           channel / queue capacity in items (default 16384,
//                          the DSL's automatic capacity for int)
//   --runs R               timed runs per variant (default 5)
//   --variants LIST        subset of "abcdefghijk" to run (default all)
//   --warmup N             items of the untimed warm-up round (default N/10,
//                          0 disables it)
//   --af-batch K           actorflow channel_options.batch (default 0: the
//                          library's choice, C / 4)
//   --queue-batch B        batch size of variant d (default 256)
//   --tbb-tokens T         max_number_of_live_tokens of variant g (default C)
//   --scheduler-threads T  shorthand for --scheduler.max-threads=T
//   --csv                  CSV on stdout instead of Markdown (settings go
//                          to stderr)
//   --help                 this text; `-- --long-help` lists CAF's options
// Any other argument (e.g. --scheduler.max-threads=2,
// --scheduler.policy=sharing, --work-stealing.moderate-sleep-duration=0us)
// goes to CAF's cfg.parse, as does everything after `--`.

#include "w1_pipeline/w1.hpp"

namespace {

using namespace bench;

// -- options ------------------------------------------------------------------

struct options : w1_options {
  int64_t items = 10'000'000;
  int runs = 5;
  std::string variants = "abcdefghijk";
  int64_t warmup = -1; // -1: items / 10
  int64_t scheduler_threads = 0;
  bool csv = false;
};

void usage(std::ostream& out) {
  out << "usage: bench_pipeline [--items N] [--capacity C] [--runs R]\n"
         "         [--variants abcdefghijk] [--warmup N] [--af-batch K]\n"
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
         "  h  CAF 0.17 built-in streams: source, 2 stages, sink actors\n"
         "  i  oneTBB flow graph: input_node, 3 serial function_nodes\n"
         "`bench_pipeline -- --long-help` lists CAF's options.\n";
}

/// Parses our own options; returns the arguments meant for CAF.
std::vector<std::string> parse_args(int argc, char** argv, options& opt,
                                    bool& help) {
  opt.tbb_tokens = 0; // 0: capacity
  auto caf_args = parse_command_line(argc, argv, help, [&](option_arg& arg) {
    auto& name = arg.name;
    if (name == "--items")
      opt.items = to_int(name, arg.value());
    else if (name == "--capacity")
      opt.capacity
        = static_cast<size_t>(to_int_in(name, arg.value(), 1, 1'000'000'000));
    else if (name == "--runs")
      opt.runs = static_cast<int>(to_int(name, arg.value()));
    else if (name == "--variants")
      opt.variants = arg.value();
    else if (name == "--warmup")
      opt.warmup = to_int(name, arg.value());
    else if (name == "--af-batch")
      opt.af_batch
        = static_cast<uint32_t>(to_int_in(name, arg.value(), 0, 1'000'000));
    else if (name == "--queue-batch")
      opt.queue_batch
        = static_cast<size_t>(to_int_in(name, arg.value(), 1, 1'000'000'000));
    else if (name == "--tbb-tokens")
      opt.tbb_tokens
        = static_cast<size_t>(to_int_in(name, arg.value(), 1, 1'000'000'000));
    else if (name == "--scheduler-threads")
      opt.scheduler_threads = to_int_in(name, arg.value(), 1, 1024);
    else if (arg.is_flag("--csv"))
      opt.csv = true;
    else
      return false;
    return true;
  });
  // 2 * N must fit an int (the largest item is 2 * N).
  if (opt.items < 1 || opt.items > 1'000'000'000)
    die("--items must be in [1, 1000000000]");
  check_runs_and_variants(opt.runs, opt.variants, "abcdefghijk");
  if (opt.tbb_tokens == 0)
    opt.tbb_tokens = opt.capacity;
  if (opt.warmup < 0)
    opt.warmup = std::max<int64_t>(1, opt.items / 10);
  if (opt.warmup > opt.items)
    opt.warmup = opt.items;
  return caf_args;
}

// -- driver ---------------------------------------------------------------------

constexpr variant_info all_variants[] = {
  {'a', "actorflow: coroutine workers"},
  {'b', "actorflow: thread source/sink, coroutine stages"},
  {'c', "std::thread + mutex/condvar queue, 1 item"},
  {'d', "std::thread + mutex/condvar queue, batches"},
  {'e', "sequential loop"},
  {'f', "actorflow: stream DSL (iota.then.then.fold)"},
  {'g', "oneTBB parallel_pipeline, 4 serial filters"},
  {'h', "CAF 0.17 built-in streams (source/stage/stage/sink)"},
  {'i', "oneTBB flow graph, 4 serial nodes"},
  {'j', "actorflow: coroutine workers, recv_many/send_many"},
  {'k', "actorflow: stream DSL (f), stall watchdog on"},
};

constexpr size_t num_variants = std::size(all_variants);

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
    case 'h':
      return run_caf_streams(sys, n);
    case 'i':
      return run_tbb_flow_graph(n);
    case 'j':
      return run_af_workers_many(sys, opt, n, probe);
    case 'k':
      return run_af_dsl(sys, opt, n, std::chrono::milliseconds{10});
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
    os << "ch" << (k + 1) << " " << fmt(per_msg, 1)
       << " items/push msg, max in flight " << m.max_in_flight;
    if (m.max_in_flight > capacity)
      os << " (EXCEEDS capacity " << capacity << "!)";
  }
  return os.str();
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  caf::actor_system_config cfg;
  std::vector<std::string> caf_args;
  if (auto rc = start("bench_pipeline", argc, argv, opt, parse_args, usage, cfg,
                      caf_args))
    return *rc;
  caf::actor_system sys{cfg};

  auto n = static_cast<int>(opt.items);
  auto& out = opt.csv ? std::cerr : std::cout;
  auto throughput = sys.scheduler().max_throughput();
  out << "# bench_pipeline: source 0..N-1 -> x+1 -> x*2 -> sum\n\n"
      << "N = " << opt.items << " items, capacity C = " << opt.capacity
      << ", runs R = " << opt.runs
      << (opt.warmup > 0
            ? " (+1 warm-up round of " + std::to_string(opt.warmup) + " items)"
            : std::string{" (no warm-up)"})
      << ", actorflow batch = "
      << (opt.af_batch != 0 ? std::to_string(opt.af_batch) : "default (C / 4)")
      << ", queue batch (d) = " << std::min(opt.queue_batch, opt.capacity)
      << ", TBB live tokens (g) = " << opt.tbb_tokens
      << ", hardware threads = " << std::thread::hardware_concurrency()
      << "\n\nCAF scheduler: " << describe_scheduler(sys)
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

  af_probe probes[num_variants];
  auto probe_for = [&](char id) -> af_probe& {
    return probes[id - 'a'];
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
                << fmt(s.median, 0) << ',' << fmt(s.min, 0) << ','
                << fmt(s.max, 0) << ','
                << fmt(static_cast<double>(n) / s.median, 6) << ','
                << fmt(cpu_st[id - 'a'].median, 3);
      for (auto peer : ids)
        std::cout << ',' << fmt(s.median / st[peer - 'a'].median, 4);
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
                << fmt(1e3 * static_cast<double>(n) / s.median, 1) << " ms | "
                << fmt(cpu_st[id - 'a'].median, 1) << " |\n";
    }
    std::cout << "\nCPU ns/item: process CPU time (all threads, including "
                 "idle polling) per item, median of the runs; it moves much "
                 "less than items/s when other load competes for the "
                 "cores.\n";
    std::vector<char> mine;
    for (auto id : ids)
      if (id == 'a' || id == 'b' || id == 'f' || id == 'j' || id == 'k')
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
         {std::pair{'f', 'a'}, std::pair{'a', 'h'}, std::pair{'j', 'h'},
          std::pair{'f', 'h'}, std::pair{'f', 'g'}, std::pair{'a', 'g'},
          std::pair{'k', 'f'}})
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
  for (auto id : {'a', 'b', 'j'})
    if (has(id))
      out << "actorflow (" << id
          << "), last run: " << describe_probe(probe_for(id), opt.capacity)
          << '\n';
  return 0;
}
