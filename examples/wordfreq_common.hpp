// What the two wordfreq examples share: the item types, the tokenizer, the
// command line, the progress line and the report. wordfreq.cpp builds the
// pipeline with the stream DSL, wordfreq_worker.cpp with hand-written
// workers and channels.

#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h> // isatty

#include <caf/meta/type_name.hpp>

namespace wordfreq {

namespace fs = std::filesystem;

// -- item types ---------------------------------------------------------------

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

// Words counted in some text, and how much text that was.
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
typename Inspector::result_type inspect(Inspector& f, word_counts& x) {
  return f(caf::meta::type_name("wordfreq_word_counts"), x.bytes, x.files,
           x.words, x.counts);
}

// Adds `x` into `total`.
inline void merge_into(word_counts& total, word_counts&& x) {
  total.files += x.files;
  total.bytes += x.bytes;
  total.words += x.words;
  if (total.counts.empty()) {
    total.counts = std::move(x.counts);
    return;
  }
  for (auto& [word, n] : x.counts) {
    if (auto it = total.counts.find(std::string_view{word});
        it != total.counts.end())
      it->second += n;
    else
      total.counts.emplace(word, n);
  }
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
inline uint64_t tokenize(std::string_view text, word_map& out) {
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

// -- walking ------------------------------------------------------------------

// The regular files under some roots (a root may be a file itself), one at
// a time. Symlinks are not followed (no loops; the same set of files as
// `find DIR -type f`). Walk errors are warnings on stderr and count in
// `unreadable`.
class file_walker {
public:
  file_walker(std::vector<fs::path> roots, std::atomic<uint64_t>* unreadable,
              const char* prog)
    : roots_(std::move(roots)), unreadable_(unreadable), prog_(prog) {
    // nop
  }

  // The next file and its size (0 if unknown), or nullopt at the end.
  std::optional<fs::path> next(uintmax_t& size) {
    for (;;) {
      if (it_) {
        if (advance_)
          it_->increment(ec_);
        advance_ = true;
        for (; !ec_ && *it_ != fs::recursive_directory_iterator{};
             it_->increment(ec_)) {
          const auto& entry = **it_;
          std::error_code ec;
          if (entry.is_symlink(ec) || !entry.is_regular_file(ec))
            continue; // not followed: no loops, no file counted twice
          size = entry.file_size(ec);
          if (ec)
            size = 0;
          return entry.path(); // the next call moves on from here
        }
        if (ec_) {
          ++*unreadable_;
          std::cerr << prog_ << ": warning: " << current_.string() << ": "
                    << ec_.message() << '\n';
        }
        it_.reset();
        continue;
      }
      if (next_root_ == roots_.size())
        return std::nullopt;
      current_ = roots_[next_root_++];
      std::error_code ec;
      if (fs::is_regular_file(current_, ec)) { // a file given as a root
        size = fs::file_size(current_, ec);
        if (ec)
          size = 0;
        return current_;
      }
      ec_.clear();
      it_.emplace(current_, fs::directory_options::skip_permission_denied, ec_);
      advance_ = false;
    }
  }

private:
  std::vector<fs::path> roots_;
  std::atomic<uint64_t>* unreadable_;
  const char* prog_;
  size_t next_root_ = 0;
  fs::path current_;
  std::optional<fs::recursive_directory_iterator> it_;
  std::error_code ec_;
  bool advance_ = false;
};

// -- command line -------------------------------------------------------------

struct options {
  size_t workers = std::max(1u, std::thread::hardware_concurrency());
  size_t top = 20;
  bool quiet = false;
  bool timing = true;
  std::vector<fs::path> roots;
  std::vector<char*> caf_args; // CAF's options pass through
};

inline void usage(std::ostream& out, const char* prog) {
  out << "usage: " << prog
      << " [--workers N] [--top K] [--quiet] [--no-timing] [DIR...]\n"
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
inline bool is_caf_option(std::string_view arg) {
  return arg.find_first_of(".#") != std::string_view::npos
         || arg.starts_with("--config-file") || arg == "--dump-config"
         || arg == "--long-help";
}

// Parses a positive number; false on garbage.
inline bool parse_count(std::string_view s, size_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

// Fills `opts`; returns -1 to go on, or the exit code (0 after --help, 2 on
// a bad command line or a missing directory).
inline int parse_command_line(int argc, char** argv, options& opts,
                              const char* prog) {
  opts.caf_args.push_back(argv[0]);
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
      usage(std::cout, prog);
      return EXIT_SUCCESS;
    } else if (arg == "--quiet" || arg == "-q") {
      opts.quiet = true;
    } else if (arg == "--no-timing") {
      opts.timing = false;
    } else if (value_of("--workers", value)) {
      if (!parse_count(value, opts.workers) || opts.workers == 0) {
        std::cerr << prog << ": error: --workers needs a number >= 1\n";
        return 2;
      }
    } else if (value_of("--top", value)) {
      if (!parse_count(value, opts.top)) {
        std::cerr << prog << ": error: --top needs a number\n";
        return 2;
      }
    } else if (arg.starts_with("--") && is_caf_option(arg)) {
      opts.caf_args.push_back(argv[i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::cerr << prog << ": error: unknown option " << arg << '\n';
      usage(std::cerr, prog);
      return 2;
    } else {
      opts.roots.emplace_back(arg);
    }
  }
  if (opts.roots.empty())
    opts.roots.emplace_back("/usr/include");
  for (auto& root : opts.roots) {
    std::error_code ec;
    auto st = fs::status(root, ec);
    if (!fs::exists(st)) {
      std::cerr << prog << ": error: " << root.string()
                << ": no such file or directory\n";
      return 2;
    }
    if (!fs::is_directory(st) && !fs::is_regular_file(st)) {
      std::cerr << prog << ": error: " << root.string()
                << ": not a directory or regular file\n";
      return 2;
    }
  }
  return -1;
}

// -- presentation -------------------------------------------------------------

inline std::string human_bytes(double x) {
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

inline std::string human_count(double x) {
  std::ostringstream os;
  if (x >= 1e6)
    os << std::fixed << std::setprecision(1) << x / 1e6 << 'M';
  else if (x >= 1e3)
    os << std::fixed << std::setprecision(1) << x / 1e3 << 'k';
  else
    os << static_cast<uint64_t>(x);
  return os.str();
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

// The progress line on stderr, at most twice a second: overwritten in place
// on a terminal, one line each time in a log file.
class progress {
public:
  explicit progress(bool enabled)
    : enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {
    // nop
  }

  void update(const word_counts& total) {
    if (!enabled_ || seconds_since(last_) < 0.5)
      return;
    last_ = std::chrono::steady_clock::now();
    auto secs = seconds_since(start_);
    std::ostringstream line;
    line << "files " << total.files << "  " << human_bytes(total.bytes) << "  "
         << human_count(total.words) << " words  ("
         << human_bytes(total.bytes / secs) << "/s, "
         << human_count(total.words / secs) << " words/s)";
    auto text = line.str();
    if (tty_) // overwrite the previous line in place
      std::cerr << '\r' << text
                << std::string(width_ > text.size() ? width_ - text.size() : 0,
                               ' ')
                << std::flush;
    else // a log file: one line each time
      std::cerr << text << std::endl;
    width_ = text.size();
  }

  // Clears the line (terminal only).
  void finish() {
    if (tty_ && width_ > 0)
      std::cerr << '\r' << std::string(width_, ' ') << '\r' << std::flush;
    width_ = 0;
  }

  std::chrono::steady_clock::time_point start() const {
    return start_;
  }

private:
  bool enabled_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  size_t width_ = 0;
};

// The summary and the top K words on stdout.
inline void print_report(const word_counts& total, const options& opts,
                         double elapsed) {
  std::vector<std::pair<std::string_view, uint64_t>> ranked(
    total.counts.begin(), total.counts.end());
  auto k = std::min(opts.top, ranked.size());
  auto by_count = [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  };
  std::partial_sort(ranked.begin(), ranked.begin() + k, ranked.end(), by_count);
  auto& out = std::cout;
  out << "files:          " << total.files << '\n'
      << "bytes:          " << total.bytes << " (" << human_bytes(total.bytes)
      << ")\n"
      << "words:          " << total.words << '\n'
      << "distinct words: " << total.counts.size() << '\n';
  if (opts.timing)
    out << "elapsed:        " << std::fixed << std::setprecision(2) << elapsed
        << " s, " << std::setprecision(1) << total.bytes / 1e6 / elapsed
        << " MB/s, " << opts.workers << " tokenizer(s)\n";
  if (k > 0) {
    size_t count_width = std::to_string(ranked[0].second).size();
    size_t rank_width = std::to_string(k).size();
    out << "top " << k << " words:\n";
    for (size_t i = 0; i < k; ++i)
      out << "  " << std::setw(static_cast<int>(rank_width)) << i + 1 << ". "
          << std::setw(static_cast<int>(count_width)) << ranked[i].second
          << "  " << ranked[i].first << '\n';
  }
}

} // namespace wordfreq
