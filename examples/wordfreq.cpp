// wordfreq: parallel word-frequency count over all regular files under one
// or more directories.
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
// Usage: wordfreq [--workers N] [--top K] [--quiet] [--no-timing] [DIR...]
//        (default DIR: /usr/include; CAF options such as
//        --scheduler.max-threads=2 pass through)
// Exit codes: 0 success, 1 runtime failure, 2 bad command line or input.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h> // isatty

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/meta/type_name.hpp>

#include "actorflow/all.hpp"

namespace fs = std::filesystem;
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

// Hash and equality that let us look up a std::string_view without building
// a std::string first (C++20 heterogeneous lookup).
struct string_hash {
  using is_transparent = void;
  size_t operator()(std::string_view x) const noexcept {
    return std::hash<std::string_view>{}(x);
  }
};

using word_map
  = std::unordered_map<std::string, uint64_t, string_hash, std::equal_to<>>;

// What a tokenize worker found in the chunks since its last send.
struct word_counts {
  uint64_t bytes = 0;
  uint64_t files = 0;
  uint64_t words = 0;
  word_map counts;
};

// CAF 0.17 only puts types into messages that it could serialize, so a
// channel's item type needs an inspect overload (or a whitelisting with
// CAF_ALLOW_UNSAFE_MESSAGE_TYPE). Channels never leave the process, so
// nothing is actually serialized.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk& x) {
  return f(caf::meta::type_name("wordfreq_chunk"), x.text, x.bytes, x.files);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, word_counts& x) {
  return f(caf::meta::type_name("wordfreq_word_counts"), x.bytes, x.files,
           x.words, x.counts);
}

// -- tokenizer ----------------------------------------------------------------

constexpr bool is_word_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

constexpr bool is_word_char(unsigned char c) {
  return is_word_start(c) || (c >= '0' && c <= '9');
}

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Counts the words of `text` into `out`; returns the number of words. Same
// matches as `grep -oE '[A-Za-z_][A-Za-z0-9_]*'`: in "123abc" the word is
// "abc".
uint64_t tokenize(std::string_view text, word_map& out) {
  uint64_t words = 0;
  std::string word;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    if (!is_word_start(static_cast<unsigned char>(text[i]))) {
      // Skip a run of non-words; digits not preceded by a letter included.
      ++i;
      continue;
    }
    word.clear();
    while (i < n && is_word_char(static_cast<unsigned char>(text[i])))
      word.push_back(to_lower(text[i++]));
    ++words;
    if (auto it = out.find(std::string_view{word}); it != out.end())
      ++it->second;
    else
      out.emplace(word, 1);
  }
  return words;
}

// -- pipeline stages ----------------------------------------------------------

// What the blocking stages could not do; main reads it after joining.
struct io_stats {
  std::atomic<uint64_t> unreadable{0}; // entries we could not walk or read
};

// Walks every root and sends the path of each regular file.
void walker(std::vector<fs::path> roots, sender<std::string> tx,
            io_stats* stats) {
  auto emit = [&](const fs::path& p) {
    return static_cast<bool>(tx.blocking_send(p.string()));
  };
  for (auto& root : roots) {
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) { // a file given on the command line
      if (!emit(root))
        return;
      continue;
    }
    fs::recursive_directory_iterator it{
      root, fs::directory_options::skip_permission_denied, ec};
    for (; !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
      const auto& entry = *it;
      std::error_code ec2;
      if (entry.is_symlink(ec2) || !entry.is_regular_file(ec2))
        continue; // not followed: no loops, no file counted twice
      if (!emit(entry.path()))
        return; // the reader is gone (it failed): stop early
    }
    if (ec) {
      ++stats->unreadable;
      std::cerr << "wordfreq: warning: " << root.string() << ": "
                << ec.message() << '\n';
    }
  }
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

// -- presentation -------------------------------------------------------------

std::string human_bytes(double x) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (x >= 1000.0 && u < 4) {
    x /= 1000.0;
    ++u;
  }
  std::ostringstream os;
  os << std::fixed << std::setprecision(u == 0 ? 0 : 1) << x << ' ' << units[u];
  return os.str();
}

std::string human_count(double x) {
  std::ostringstream os;
  if (x >= 1e6)
    os << std::fixed << std::setprecision(1) << x / 1e6 << 'M';
  else if (x >= 1e3)
    os << std::fixed << std::setprecision(1) << x / 1e3 << 'k';
  else
    os << static_cast<uint64_t>(x);
  return os.str();
}

void usage(std::ostream& out) {
  out << "usage: wordfreq [--workers N] [--top K] [--quiet] [--no-timing] "
         "[DIR...]\n"
         "  Counts the words ([A-Za-z_][A-Za-z0-9_]*, case-insensitive) in "
         "all regular\n"
         "  files under each DIR (default: /usr/include) and prints the top "
         "K words.\n"
         "  --workers N  tokenizer workers (default: hardware threads)\n"
         "  --top K      how many words to list (default: 20)\n"
         "  --quiet      no progress on stderr\n"
         "  --no-timing  omit the time/throughput line (deterministic "
         "output)\n"
         "  CAF options (e.g. --scheduler.max-threads=2) pass through.\n";
}

// CAF's own options: --scheduler.max-threads=2, --config-file=x.ini, ...
bool is_caf_option(std::string_view arg) {
  return arg.find_first_of(".#") != std::string_view::npos
         || arg.starts_with("--config-file") || arg == "--dump-config"
         || arg == "--long-help";
}

// Parses a positive number; false on garbage.
bool parse_count(std::string_view s, size_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

} // namespace

int main(int argc, char** argv) {
  // -- command line ----------------------------------------------------------
  size_t workers = std::max(1u, std::thread::hardware_concurrency());
  size_t top = 20;
  bool quiet = false;
  bool timing = true;
  std::vector<fs::path> roots;
  std::vector<char*> caf_args{argv[0]}; // CAF's options pass through
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    // --name=value or --name value
    auto value_of = [&](std::string_view name, std::string_view& value) {
      if (arg == name && i + 1 < argc) {
        value = argv[++i];
        return true;
      }
      if (arg.size() > name.size() && arg.substr(0, name.size()) == name
          && arg[name.size()] == '=') {
        value = arg.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    std::string_view value;
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return EXIT_SUCCESS;
    } else if (arg == "--quiet" || arg == "-q") {
      quiet = true;
    } else if (arg == "--no-timing") {
      timing = false;
    } else if (value_of("--workers", value)) {
      if (!parse_count(value, workers) || workers == 0) {
        std::cerr << "wordfreq: error: --workers needs a number >= 1\n";
        return 2;
      }
    } else if (value_of("--top", value)) {
      if (!parse_count(value, top)) {
        std::cerr << "wordfreq: error: --top needs a number\n";
        return 2;
      }
    } else if (arg.starts_with("--") && is_caf_option(arg)) {
      caf_args.push_back(argv[i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::cerr << "wordfreq: error: unknown option " << arg << '\n';
      usage(std::cerr);
      return 2;
    } else {
      roots.emplace_back(arg);
    }
  }
  if (roots.empty())
    roots.emplace_back("/usr/include");
  for (auto& root : roots) {
    std::error_code ec;
    auto st = fs::status(root, ec);
    if (!fs::exists(st)) {
      std::cerr << "wordfreq: error: " << root.string()
                << ": no such file or directory\n";
      return 2;
    }
    if (!fs::is_directory(st) && !fs::is_regular_file(st)) {
      std::cerr << "wordfreq: error: " << root.string()
                << ": not a directory or regular file\n";
      return 2;
    }
  }
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  if (auto err = cfg.parse(static_cast<int>(caf_args.size()),
                           caf_args.data())) {
    std::cerr << "wordfreq: error: " << cfg.render(err) << '\n';
    usage(std::cerr);
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  caf::actor_system sys{cfg};

  // -- pipeline --------------------------------------------------------------
  // Capacities: paths are small, so let the walker run a little ahead; each
  // chunk is up to 256 KiB, so allow about two per tokenizer.
  auto paths = actorflow::channel<std::string>(sys, 256);
  auto chunks = actorflow::channel<chunk>(sys, 2 * workers);
  auto results = actorflow::channel<word_counts>(sys, 2 * workers);
  if (!paths || !chunks || !results) {
    std::cerr << "wordfreq: error: cannot create channels\n";
    return EXIT_FAILURE;
  }
  auto [paths_tx, paths_rx] = std::move(*paths);
  auto [chunks_tx, chunks_rx] = std::move(*chunks);
  auto [results_tx, results_rx] = std::move(*results);
  using actorflow::worker_options;
  io_stats stats;
  auto start = std::chrono::steady_clock::now();
  std::vector<actorflow::worker> ws;
  ws.push_back(actorflow::spawn_blocking_worker(
    sys, worker_options{.name = "walker"}, walker, roots, std::move(paths_tx),
    &stats));
  ws.push_back(actorflow::spawn_blocking_worker(
    sys, worker_options{.name = "reader"}, reader, std::move(paths_rx),
    std::move(chunks_tx), &stats));
  // N tokenizers share one receiver and one sender (copies); the originals
  // go to the last one, so that main holds no handle that would keep a
  // channel open.
  for (size_t i = 0; i < workers; ++i) {
    worker_options opts{.name = "tokenize-" + std::to_string(i + 1)};
    if (i + 1 < workers)
      ws.push_back(
        actorflow::spawn_worker(sys, opts, tokenizer, chunks_rx, results_tx));
    else
      ws.push_back(actorflow::spawn_worker(
        sys, opts, tokenizer, std::move(chunks_rx), std::move(results_tx)));
  }

  // -- merge (this thread) ---------------------------------------------------
  word_map total;
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t words = 0;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const bool progress = !quiet;
  auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
  };
  auto last_report = start;
  size_t progress_width = 0; // of the last progress line (tty only)
  while (auto r = results_rx.blocking_recv()) {
    files += r->files;
    bytes += r->bytes;
    words += r->words;
    for (auto& [word, n] : r->counts) {
      if (auto it = total.find(std::string_view{word}); it != total.end())
        it->second += n;
      else
        total.emplace(word, n);
    }
    if (progress && seconds_since(last_report) >= 0.5) {
      last_report = std::chrono::steady_clock::now();
      auto secs = seconds_since(start);
      std::ostringstream line;
      line << "files " << files << "  " << human_bytes(bytes) << "  "
           << human_count(words) << " words  (" << human_bytes(bytes / secs)
           << "/s, " << human_count(words / secs) << " words/s)";
      auto text = line.str();
      if (tty) // overwrite the previous line in place
        std::cerr << '\r' << text
                  << std::string(progress_width > text.size()
                                   ? progress_width - text.size()
                                   : 0,
                                 ' ')
                  << std::flush;
      else // a log file: one line each time
        std::cerr << text << std::endl;
      progress_width = text.size();
    }
  }
  auto elapsed = seconds_since(start);
  if (tty && progress_width > 0)
    std::cerr << '\r' << std::string(progress_width, ' ') << '\r' << std::flush;
  int rc = EXIT_SUCCESS;
  for (auto& w : ws) {
    if (auto err = w.join()) {
      std::cerr << "wordfreq: error: " << actorflow::to_string_any(err) << '\n';
      rc = EXIT_FAILURE;
    }
  }
  if (auto n = stats.unreadable.load(); n > 0)
    std::cerr << "wordfreq: warning: skipped " << n << " unreadable entr"
              << (n == 1 ? "y" : "ies") << '\n';
  if (rc != EXIT_SUCCESS)
    return rc; // no report from partial counts

  // -- report ----------------------------------------------------------------
  std::vector<std::pair<std::string_view, uint64_t>> ranked(total.begin(),
                                                            total.end());
  auto k = std::min(top, ranked.size());
  auto by_count = [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  };
  std::partial_sort(ranked.begin(), ranked.begin() + k, ranked.end(), by_count);
  auto& out = std::cout;
  out << "files:          " << files << '\n'
      << "bytes:          " << bytes << " (" << human_bytes(bytes) << ")\n"
      << "words:          " << words << '\n'
      << "distinct words: " << total.size() << '\n';
  if (timing)
    out << "elapsed:        " << std::fixed << std::setprecision(2) << elapsed
        << " s, " << std::setprecision(1) << bytes / 1e6 / elapsed << " MB/s, "
        << workers << " tokenizer(s)\n";
  if (k > 0) {
    size_t count_width = std::to_string(ranked[0].second).size();
    size_t rank_width = std::to_string(k).size();
    out << "top " << k << " words:\n";
    for (size_t i = 0; i < k; ++i)
      out << "  " << std::setw(static_cast<int>(rank_width)) << i + 1 << ". "
          << std::setw(static_cast<int>(count_width)) << ranked[i].second
          << "  " << ranked[i].first << '\n';
  }
  return rc;
}
