// wordfreq: parallel word-frequency count over all regular files under one
// or more directories, with the stream DSL (actorflow/flow.hpp).
//
//   generate(groups of files)              source stage: walks the trees
//     .parallel_then_unordered(N, count)   N worker actors: read + tokenize
//     .fold(merge)                         sink actor: merge + progress
//     .run(sys)
//
// - source: walks the directory trees with std::filesystem (symlinks not
//   followed: the same set of files as `find DIR -type f`) and hands out
//   groups of files of about 2 MiB together, so that every work item is
//   big enough to be worth a message and small enough to spread over the
//   workers.
// - count: N workers read the files of a group and count their words in a
//   hash map (one map per group). A word is [A-Za-z_][A-Za-z0-9_]*, counted
//   in lower case.
// - merge: the sink adds each map into the total and prints progress to
//   stderr; main prints the summary and the top K words to stdout.
//
// Every link is a bounded channel: however large the input, only a few maps
// and a few groups of paths are in flight, and the walk never runs far
// ahead of the workers. examples/wordfreq_worker.cpp does the same job with
// hand-written workers and channels.
//
// Usage: wordfreq [--workers N] [--top K] [--quiet] [--no-timing] [DIR...]
//        (default DIR: /usr/include; CAF options such as
//        --scheduler.max-threads=2 pass through)
// Exit codes: 0 success, 1 runtime failure, 2 bad command line or input.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/meta/type_name.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"
#include "wordfreq_common.hpp"

using namespace wordfreq;

namespace {

// Files that one worker counts in one go.
struct file_group {
  std::vector<std::string> paths;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_group& x) {
  return f(caf::meta::type_name("wordfreq_file_group"), x.paths);
}

constexpr uintmax_t group_bytes = 2 * 1024 * 1024;
constexpr size_t group_files = 1024;

// Reads the files of `g` and counts their words. A file that cannot be read
// is skipped (and counted in `unreadable`).
word_counts count_words(const file_group& g,
                        std::atomic<uint64_t>& unreadable) {
  thread_local std::string text; // reused: no allocation per file
  word_counts out;
  for (auto& path : g.paths) {
    std::unique_ptr<FILE, decltype(&fclose)> fp{fopen(path.c_str(), "rb"),
                                                &fclose};
    if (!fp) {
      ++unreadable;
      continue;
    }
    // Read the whole file: its size (from fstat) plus one byte, so that a
    // file that grew meanwhile shows and is read on. (resize zero-fills:
    // sizing by the file, not by a fixed step, keeps that cheap.)
    struct stat st;
    size_t want = fstat(fileno(fp.get()), &st) == 0
                    ? static_cast<size_t>(st.st_size) + 1
                    : 64 * 1024;
    text.clear();
    for (;;) {
      auto old = text.size();
      text.resize(old + want);
      auto got = fread(text.data() + old, 1, want, fp.get());
      text.resize(old + got);
      if (got < want) {
        if (ferror(fp.get()))
          ++unreadable; // what we read so far still counts
        break;
      }
      want = std::max<size_t>(want, 64 * 1024);
    }
    out.bytes += text.size();
    out.files += 1;
    out.words += tokenize(text, out.counts);
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  const char* prog = "wordfreq";
  options opts;
  if (auto rc = parse_command_line(argc, argv, opts, prog); rc >= 0)
    return rc;
  caf::actor_system_config cfg;
  if (auto rc = example::configure(
        cfg, static_cast<int>(opts.caf_args.size()), opts.caf_args.data(), prog,
        [prog](std::ostream& os) { usage(os, prog); }))
    return *rc;
  caf::actor_system sys{cfg};

  std::atomic<uint64_t> unreadable{0};
  progress meter{!opts.quiet};
  // The walk, one group of files per call; nullopt at the end.
  auto walker = std::make_shared<file_walker>(opts.roots, &unreadable, prog);
  auto next_group = [walker]() -> std::optional<file_group> {
    file_group g;
    uintmax_t bytes = 0;
    uintmax_t size = 0;
    while (bytes < group_bytes && g.paths.size() < group_files) {
      auto path = walker->next(size);
      if (!path)
        break;
      g.paths.push_back(path->string());
      bytes += size;
    }
    if (g.paths.empty())
      return std::nullopt;
    return g;
  };
  const auto n = opts.workers;
  // At most 2 maps per worker wait for the merge (window and capacity).
  auto total
    = actorflow::generate(next_group)
        .parallel_then_unordered(
          n, [&unreadable](file_group g) { return count_words(g, unreadable); },
          2 * n)
        .fold(
          word_counts{},
          [&meter](word_counts& acc, word_counts&& x) {
            merge_into(acc, std::move(x));
            meter.update(acc);
            return std::move(acc);
          },
          actorflow::stage_options{.capacity = 2 * n})
        .run(sys);
  auto elapsed = seconds_since(meter.start());
  meter.finish();
  if (auto k = unreadable.load(); k > 0)
    std::cerr << prog << ": warning: skipped " << k << " unreadable entr"
              << (k == 1 ? "y" : "ies") << '\n';
  if (!total) {
    std::cerr << prog << ": error: " << actorflow::to_string_any(total.error())
              << '\n';
    return EXIT_FAILURE; // no report from partial counts
  }
  print_report(*total, opts, elapsed);
  return EXIT_SUCCESS;
}
