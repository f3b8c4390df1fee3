// distributed_wordfreq: the word count of wordfreq.cpp with its tokenizers on
// node processes. One command on one machine:
//
//   distributed_wordfreq --nodes 2 --top 5 DIR...
//
// starts two node processes of this program on 127.0.0.1 (free ports), runs
//
//   from(files) -> then(read) -> remote_parallel_then_unordered(
//                                  "wordfreq.count" on the nodes)
//               -> fold(merge) -> report
//
// and kills the nodes at the end. The report is the same as wordfreq's
// (`--no-timing` output), so both programs can be compared byte for byte.
// On several hosts, start a node on each (this program with --node) and name
// them instead of --nodes:
//
//   hostA$ distributed_wordfreq --node --host 0.0.0.0 --port 4242
//   hostB$ distributed_wordfreq --node --host 0.0.0.0 --port 4242
//   driver$ distributed_wordfreq --connect hostA:4242,hostB:4242 DIR...
//
// Options: --workers-per-node W (default 2), --top K (default 20);
// --metrics=PORT serves the pipeline's figures as Prometheus metrics at
// http://127.0.0.1:PORT/metrics and --view=PORT a live page at
// http://127.0.0.1:PORT/view/distributed_wordfreq while it runs (the URLs go
// to stderr; port 0 picks a free one), --hold keeps serving after the report
// until stdin ends.
// TLS between driver and nodes: --tls-cert=X.pem --tls-key=X.key --tls-ca=
// ca.pem on every process (nodes started by --nodes get the driver's files);
// see README.md, "TLS between nodes", for making the certificates.
// Exit codes: 0 success, 1 runtime failure, 2 bad command line or input.

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#if ACTORFLOW_EXAMPLE_METRICS
#  include <optional>

#  include "actorflow/metrics_exporter.hpp"
#  include "actorflow/pipeline_view.hpp"
#endif

#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"
#include "node_process.hpp"
#include "wordfreq_common.hpp"

namespace {

using wordfreq::human_bytes;
using wordfreq::tokenize;
using wordfreq::word_map;

/// The counts of one chunk of text (sorted by word).
struct chunk_counts {
  std::vector<std::string> words;
  std::vector<uint64_t> counts;
  uint64_t total = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk_counts& x) {
  return f(caf::meta::type_name("wordfreq::counts"), x.words, x.counts,
           x.total);
}

/// The stage: the same words as wordfreq ([A-Za-z_][A-Za-z0-9_]*, lower case).
chunk_counts count_words(const std::string& text) {
  word_map m;
  chunk_counts result;
  result.total = tokenize(text, m);
  std::map<std::string, uint64_t> sorted(m.begin(), m.end());
  for (auto& [w, n] : sorted) {
    result.words.push_back(w);
    result.counts.push_back(n);
  }
  return result;
}

std::shared_ptr<actorflow::stage_registry> stages() {
  auto reg = std::make_shared<actorflow::stage_registry>();
  reg->add_item_type<std::string>("string");
  reg->add_item_type<chunk_counts>("wordfreq::counts");
  reg->register_stage<std::string, chunk_counts>("wordfreq.count", count_words);
  return reg;
}

struct config : caf::actor_system_config {
  bool node = false;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t nodes = 2;
  size_t workers_per_node = 2;
  std::string connect;
  size_t top = 20;
  std::string metrics;
  std::string view;
  bool hold = false;
  actorflow::tls_flags tls;

  config() {
    tls.add_to(
      opt_group{custom_options_, "global"}
        .add(node, "node", "run as a node (serve the stage)")
        .add(host, "host", "node: address to bind")
        .add(port, "port", "node: port (0: a free one)")
        .add(nodes, "nodes", "driver: node processes to start on 127.0.0.1")
        .add(workers_per_node, "workers-per-node", "driver: workers per node")
        .add(connect, "connect", "driver: host:port,... of running nodes")
        .add(top, "top", "driver: how many words to list")
        .add(metrics, "metrics", "driver: serve Prometheus metrics on PORT")
        .add(view, "view", "driver: serve a live page on PORT")
        .add(hold, "hold", "driver: serve until stdin ends after the run"));
  }
};

int run_node(caf::actor_system& sys, const config& cfg,
             std::shared_ptr<actorflow::stage_registry> reg) {
  auto port = actorflow::serve_node(sys, reg, {cfg.host, cfg.port});
  if (!port) {
    std::cerr << "distributed_wordfreq: "
              << actorflow::to_string_any(port.error()) << '\n';
    std::_Exit(EXIT_FAILURE);
  }
  std::cout << "PORT " << *port << std::endl;
  for (;;)
    ::pause(); // until killed (by the driver that started us, or by hand)
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  auto reg = stages();
  reg->apply(cfg);
  if (auto rc = example::configure(cfg, argc, argv, "distributed_wordfreq"))
    return *rc;
  actorflow::distribution_options dopts;
  dopts.tls = cfg.tls.options();
  if (auto err = actorflow::init_distribution(cfg, dopts)) {
    std::cerr << "distributed_wordfreq: " << actorflow::to_string_any(err)
              << '\n';
    return 2;
  }
  if (cfg.node) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // a started node dies with its driver
    caf::actor_system sys{cfg};
    return run_node(sys, cfg, reg);
  }
  // Input: every regular file under the directories (sorted, no symlinks).
  std::vector<std::string> files;
  for (auto& dir : cfg.remainder) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      std::cerr << "distributed_wordfreq: not a directory: " << dir << '\n';
      return 2;
    }
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file(ec) && !it->is_symlink(ec))
        files.push_back(it->path().string());
  }
  if (cfg.remainder.empty()) {
    std::cerr << "usage: distributed_wordfreq [--nodes N | --connect "
                 "host:port,...] [--top K] DIR...\n";
    return 2;
  }
  std::sort(files.begin(), files.end());
  // Nodes: started here, or given.
  std::vector<pid_t> started;
  actorflow::placement where;
  if (!cfg.connect.empty()) {
    std::stringstream in{cfg.connect};
    std::string addr;
    while (std::getline(in, addr, ','))
      where.push_back({addr, cfg.workers_per_node});
  } else {
    // Nodes of this program on 127.0.0.1, with the driver's TLS files.
    std::vector<std::string> args{"--node", "--scheduler.max-threads=2"};
    for (auto& flag : cfg.tls.arguments())
      args.push_back(flag);
    for (size_t i = 0; i < cfg.nodes; ++i) {
      auto [pid, addr] = example::start_self(args);
      if (pid < 0) {
        std::cerr << "distributed_wordfreq: cannot start a node\n";
        for (auto p : started)
          example::stop(p);
        return EXIT_FAILURE;
      }
      started.push_back(pid);
      where.push_back({addr, cfg.workers_per_node});
    }
  }
  int rc = EXIT_SUCCESS;
  // The figures of the run, for --metrics and --view.
  actorflow::run_options opts;
  opts.monitor = std::make_shared<actorflow::pipeline_monitor>();
#if ACTORFLOW_EXAMPLE_METRICS
  std::optional<actorflow::metrics_exporter> exporter;
  std::optional<actorflow::pipeline_view> page;
  auto fail = [&](const caf::error& err) {
    std::cerr << "distributed_wordfreq: " << actorflow::to_string_any(err)
              << '\n';
    for (auto p : started)
      example::stop(p);
    return 2;
  };
  if (!cfg.metrics.empty()) {
    auto ex = actorflow::metrics_exporter::serve("127.0.0.1:" + cfg.metrics);
    if (!ex)
      return fail(ex.error());
    exporter.emplace(std::move(*ex));
    exporter->add("distributed_wordfreq", opts.monitor);
    std::cerr << "metrics: " << exporter->url() << '\n';
  }
  if (!cfg.view.empty()) {
    auto pv = actorflow::pipeline_view::serve("127.0.0.1:" + cfg.view);
    if (!pv)
      return fail(pv.error());
    page.emplace(std::move(*pv));
    page->add("distributed_wordfreq", opts.monitor);
    std::cerr << "live page: " << page->url("distributed_wordfreq") << '\n';
  }
#else
  if (!cfg.metrics.empty() || !cfg.view.empty()) {
    std::cerr << "distributed_wordfreq: --metrics/--view: built without "
                 "actorflow::metrics (needs prometheus-cpp)\n";
    for (auto p : started)
      example::stop(p);
    return 2;
  }
#endif
  {
    caf::actor_system sys{cfg};
    uint64_t bytes = 0;
    std::map<std::string, uint64_t> acc;
    uint64_t words = 0;
    auto done
      = actorflow::from(files)
          .then([&bytes](std::string path) {
            std::ifstream in{path, std::ios::binary};
            std::string text{std::istreambuf_iterator<char>{in},
                             std::istreambuf_iterator<char>{}};
            bytes += text.size();
            return text;
          })
          .compose(actorflow::remote_parallel_then_unordered<chunk_counts>(
            where, "wordfreq.count"))
          .for_each([&acc, &words](chunk_counts c) {
            for (size_t i = 0; i < c.words.size(); ++i)
              acc[c.words[i]] += c.counts[i];
            words += c.total;
          })
          .run(sys, opts);
    if (!done) {
      std::cerr << "distributed_wordfreq: error: "
                << actorflow::to_string_any(done.error()) << '\n';
      rc = EXIT_FAILURE;
    } else {
      std::vector<std::pair<std::string, uint64_t>> ranked(acc.begin(),
                                                           acc.end());
      auto k = std::min(cfg.top, ranked.size());
      std::partial_sort(ranked.begin(), ranked.begin() + k, ranked.end(),
                        [](const auto& x, const auto& y) {
                          return x.second != y.second ? x.second > y.second
                                                      : x.first < y.first;
                        });
      auto& out = std::cout;
      out << "files:          " << files.size() << '\n'
          << "bytes:          " << bytes << " ("
          << human_bytes(static_cast<double>(bytes)) << ")\n"
          << "words:          " << words << '\n'
          << "distinct words: " << ranked.size() << '\n';
      if (k > 0) {
        size_t count_width = std::to_string(ranked[0].second).size();
        size_t rank_width = std::to_string(k).size();
        out << "top " << k << " words:\n";
        for (size_t i = 0; i < k; ++i)
          out << "  " << std::setw(static_cast<int>(rank_width)) << i + 1
              << ". " << std::setw(static_cast<int>(count_width))
              << ranked[i].second << "  " << ranked[i].first << '\n';
      }
      out << std::flush;
    }
    for (auto p : started)
      example::stop(p);
  }
  if (cfg.hold && (!cfg.metrics.empty() || !cfg.view.empty())) {
    std::cerr << "serving until stdin ends (press Enter)\n";
    std::string ignored;
    std::getline(std::cin, ignored);
  }
  return rc;
}
