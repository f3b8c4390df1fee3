// wordfreq_worker: parallel word-frequency count over all regular files
// under one or more directories, built from hand-written workers and
// channels (the worker style). examples/wordfreq.cpp does the same job with
// the stream DSL; this version shows how the pieces look underneath and
// when blocking workers (own threads for file I/O) are worth it.
//
//   walker --paths--> reader --chunks--> tokenize xN --counts--> main (merge)
//   (blocking)        (blocking)         (coroutines)
//
// - walker: a blocking worker (own thread) walks the directory trees with
//   std::filesystem and sends the path of every regular file. Symlinks are
//   not followed (no loops; the same set of files as `find DIR -type f`).
// - reader: a blocking worker, since file I/O blocks. It reads the files and
//   packs their text into chunks of about 256 KiB: many small files share a
//   chunk, a big file is split at a non-word byte, so no word is ever cut.
// - tokenize: N coroutine workers share the chunk channel (copies of one
//   receiver); each counts words in a hash map and sends the map on after
//   every few MiB of text. A word is [A-Za-z_][A-Za-z0-9_]*, counted in
//   lower case.
// - main: merges the maps, prints progress to stderr, then the summary and
//   the top K words to stdout.
//
// All channels are bounded: however large the input, at most a few MiB of
// text are in flight, and the walker never runs far ahead of the reader.
//
// Usage: wordfreq_worker [--workers N] [--top K] [--quiet] [--no-timing] [DIR...]
//        (default DIR: /usr/include; CAF options such as
//        --scheduler.max-threads=2 pass through)
// Exit codes: 0 success, 1 runtime failure, 2 bad command line or input.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/meta/type_name.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"
#include "wordfreq_common.hpp"

using namespace wordfreq;
using actorflow::receiver;
using actorflow::sender;
using actorflow::task;

namespace {

// -- message types ------------------------------------------------------------

// Text of one or more files (or of a part of a big file).
struct chunk {
  std::string text;   // file contents, files separated by '\n'
  uint64_t bytes = 0; // bytes read from files (the separators don't count)
  uint64_t files = 0; // files that ended in this chunk
};

// CAF 0.17 only puts types into messages that it could serialize, so a
// channel's item type needs an inspect overload (or a whitelisting with
// CAF_ALLOW_UNSAFE_MESSAGE_TYPE). Channels never leave the process, so
// nothing is actually serialized.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk& x) {
  return f(caf::meta::type_name("wordfreq_chunk"), x.text, x.bytes, x.files);
}

// -- pipeline stages ----------------------------------------------------------

// What the blocking stages could not do; main reads it after joining.
struct io_stats {
  std::atomic<uint64_t> unreadable{0}; // entries we could not walk or read
};

// Walks every root and sends the path of each regular file.
void walker(std::vector<fs::path> roots, sender<std::string> tx,
            io_stats* stats) {
  file_walker files{std::move(roots), &stats->unreadable, "wordfreq_worker"};
  uintmax_t size = 0;
  while (auto path = files.next(size))
    if (!tx.blocking_send(path->string()))
      return; // the reader is gone (it failed): stop early
}

constexpr size_t chunk_size = 256 * 1024;

// Reads files and sends their text in chunks of about `chunk_size` bytes.
void reader(receiver<std::string> rx, sender<chunk> tx, io_stats* stats) {
  chunk cur;
  cur.text.reserve(chunk_size + 4096);
  // cur.text[0, word_prefix) holds word bytes only: no place to cut there.
  size_t word_prefix = 0;
  // Sends the text up to (and including) the last non-word byte, keeping the
  // trailing partial word for the next chunk. Returns false if the
  // tokenizers are gone.
  auto ship = [&](bool all) {
    size_t cut = cur.text.size();
    if (!all) {
      while (cut > word_prefix
             && is_word_char(static_cast<unsigned char>(cur.text[cut - 1])))
        --cut;
      if (cut == word_prefix) {
        word_prefix = cur.text.size();
        return true; // one giant word so far: keep reading
      }
    }
    chunk out;
    if (cut == cur.text.size()) { // all of it: hand over the buffer
      out.text.swap(cur.text);
      cur.text.reserve(chunk_size + 4096);
    } else {
      out.text = cur.text.substr(0, cut);
      cur.text.erase(0, cut);
    }
    out.bytes = std::exchange(cur.bytes, 0);
    out.files = std::exchange(cur.files, 0);
    word_prefix = cur.text.size(); // the carried part of a word
    return static_cast<bool>(tx.blocking_send(std::move(out)));
  };
  while (auto path = rx.blocking_recv()) {
    std::unique_ptr<FILE, decltype(&fclose)> fp{fopen(path->c_str(), "rb"),
                                                &fclose};
    if (!fp) {
      ++stats->unreadable;
      continue;
    }
    for (;;) {
      auto old = cur.text.size();
      auto want = std::max(chunk_size - std::min(old, chunk_size),
                           chunk_size / 4);
      cur.text.resize(old + want);
      auto got = fread(cur.text.data() + old, 1, want, fp.get());
      cur.text.resize(old + got);
      cur.bytes += got;
      if (got < want) {
        if (ferror(fp.get()))
          ++stats->unreadable; // what we read so far still counts
        break;
      }
      if (cur.text.size() >= chunk_size && !ship(false))
        return;
    }
    cur.text.push_back('\n'); // words never span two files
    ++cur.files;
    if (cur.text.size() >= chunk_size && !ship(true))
      return;
  }
  if (cur.files > 0 || !cur.text.empty())
    ship(true);
}

// Counts the words of the chunks it gets. It sends its counts on after about
// `flush_bytes` of text (and at the end): a word that occurs in many chunks
// then costs main one merge per flush rather than one per chunk.
constexpr uint64_t flush_bytes = 4 * 1024 * 1024;

task<> tokenizer(receiver<chunk> rx, sender<word_counts> tx) {
  word_counts out;
  uint64_t text_bytes = 0;
  for (;;) {
    auto c = co_await rx.recv();
    if (c) {
      out.bytes += c->bytes;
      out.files += c->files;
      out.words += tokenize(c->text, out.counts);
      text_bytes += c->text.size();
    }
    if ((!c && text_bytes > 0) || text_bytes >= flush_bytes) {
      // Name the value first: g++ 12 miscompiles a braced temporary inside
      // a co_await expression, e.g. `co_await tx.send(std::exchange(out,
      // {}))` frees memory it does not own.
      auto batch = std::move(out);
      out = word_counts{};
      text_bytes = 0;
      if (!co_await tx.send(std::move(batch)))
        break; // main is gone
    }
    if (!c)
      break; // end of stream
  }
}

} // namespace

int main(int argc, char** argv) {
  const char* prog = "wordfreq_worker";
  options opts;
  if (auto rc = parse_command_line(argc, argv, opts, prog); rc >= 0)
    return rc;
  const auto workers = opts.workers;
  caf::actor_system_config cfg;
  if (auto rc = example::configure(
        cfg, static_cast<int>(opts.caf_args.size()), opts.caf_args.data(), prog,
        [prog](std::ostream& os) { usage(os, prog); }))
    return *rc;
  caf::actor_system sys{cfg};

  // -- pipeline --------------------------------------------------------------
  // Capacities: paths are small, so let the walker run a little ahead; each
  // chunk is up to 256 KiB, so allow about two per tokenizer.
  auto paths = actorflow::channel<std::string>(sys, 256);
  auto chunks = actorflow::channel<chunk>(sys, 2 * workers);
  auto results = actorflow::channel<word_counts>(sys, 2 * workers);
  if (!paths || !chunks || !results) {
    std::cerr << prog << ": error: cannot create channels\n";
    return EXIT_FAILURE;
  }
  auto [paths_tx, paths_rx] = std::move(*paths);
  auto [chunks_tx, chunks_rx] = std::move(*chunks);
  auto [results_tx, results_rx] = std::move(*results);
  using actorflow::worker_options;
  io_stats stats;
  progress meter{!opts.quiet};
  std::vector<actorflow::worker> ws;
  ws.push_back(actorflow::spawn_blocking_worker(
    sys, worker_options{.name = "walker"}, walker, opts.roots,
    std::move(paths_tx), &stats));
  ws.push_back(actorflow::spawn_blocking_worker(
    sys, worker_options{.name = "reader"}, reader, std::move(paths_rx),
    std::move(chunks_tx), &stats));
  // N tokenizers share one receiver and one sender (copies); the originals
  // go to the last one, so that main holds no handle that would keep a
  // channel open.
  for (size_t i = 0; i < workers; ++i) {
    worker_options wo{.name = "tokenize-" + std::to_string(i + 1)};
    if (i + 1 < workers)
      ws.push_back(
        actorflow::spawn_worker(sys, wo, tokenizer, chunks_rx, results_tx));
    else
      ws.push_back(actorflow::spawn_worker(
        sys, wo, tokenizer, std::move(chunks_rx), std::move(results_tx)));
  }

  // -- merge (this thread) ---------------------------------------------------
  word_counts total;
  while (auto r = results_rx.blocking_recv()) {
    merge_into(total, std::move(*r));
    meter.update(total);
  }
  auto elapsed = seconds_since(meter.start());
  meter.finish();
  int rc = EXIT_SUCCESS;
  for (auto& w : ws) {
    if (auto err = w.join()) {
      std::cerr << prog << ": error: " << actorflow::to_string_any(err) << '\n';
      rc = EXIT_FAILURE;
    }
  }
  if (auto n = stats.unreadable.load(); n > 0)
    std::cerr << prog << ": warning: skipped " << n << " unreadable entr"
              << (n == 1 ? "y" : "ies") << '\n';
  if (rc != EXIT_SUCCESS)
    return rc; // no report from partial counts
  print_report(total, opts, elapsed);
  return rc;
}
