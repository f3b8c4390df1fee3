// This file is part of actorflow. See README.md for the project's license.

#pragma once

// What the libFuzzer harnesses in fuzz/ share: checks that end the run with
// a message, a limit on the size of any one allocation while a decoder runs,
// and the `--make-seeds=DIR` mode that writes a harness's seed corpus.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <typeinfo>
#include <vector>

#include <sanitizer/allocator_interface.h>
#include <sanitizer/common_interface_defs.h>

#include <caf/binary_serializer.hpp>

namespace actorflow_fuzz {

/// Ends the run: libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "actorflow fuzz: invariant broken at %s:%d: %s\n", file,
               line, what);
  std::abort();
}

/// Runs `f`; an exception that escapes it ends the run with its text: on a
/// node, an exception from decoding a peer's bytes ends CAF's broker.
template <class F>
void must_not_throw(const char* where, F f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "actorflow fuzz: %s threw %s: %s\n", where,
                 typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "actorflow fuzz: %s threw\n", where);
    std::abort();
  }
}

/// Defines libFuzzer's two entry points of a harness. With
/// `--make-seeds=DIR` on the command line, `write_seeds(seed_writer&)`
/// writes the harness's seed corpus and the program exits; otherwise
/// `setup()` runs once, and `check(const char*, size_t)` once per input,
/// where an exception that escapes it ends the run with `what` named.
///
/// ~~~
/// void check(const char* bytes, size_t size) { /* decode, AF_FUZZ_CHECK */ }
/// void write_seeds(actorflow_fuzz::seed_writer& out) { /* out.add(...) */ }
/// AF_FUZZ_ENTRY_POINTS(write_seeds, [] {}, "the decoder", check)
/// ~~~
#define AF_FUZZ_ENTRY_POINTS(write_seeds, setup, what, check)                  \
  extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {               \
    ::actorflow_fuzz::make_seeds_if_asked(argc, argv, write_seeds);            \
    setup();                                                                   \
    return 0;                                                                  \
  }                                                                            \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {    \
    ::actorflow_fuzz::must_not_throw(what, [&] {                               \
      check(reinterpret_cast<const char*>(data), size);                        \
    });                                                                        \
    return 0;                                                                  \
  }

#define AF_FUZZ_CHECK(cond)                                                    \
  ((cond) ? static_cast<void>(0)                                               \
          : ::actorflow_fuzz::fail(#cond, __FILE__, __LINE__))

// -- allocation limit ---------------------------------------------------------

namespace detail {

inline thread_local bool watching = false;
inline thread_local size_t limit = 0;

inline void on_malloc(const volatile void*, size_t size) {
  if (!watching || size <= limit)
    return;
  watching = false;
  std::fprintf(stderr,
               "actorflow fuzz: an allocation of %zu bytes while decoding, "
               "over the limit of %zu that the input's size allows:\n",
               size, limit);
  __sanitizer_print_stack_trace();
  std::abort();
}

inline void on_free(const volatile void*) {
  // nop
}

} // namespace detail

/// While alive, any single allocation of this thread over `limit` bytes
/// ends the run with the allocating stack: a decoder that trusts a count
/// from the input allocates what the count announces, not what was sent.
class alloc_limit {
public:
  explicit alloc_limit(size_t limit) {
    [[maybe_unused]] static const bool installed
      = __sanitizer_install_malloc_and_free_hooks(detail::on_malloc,
                                                  detail::on_free)
        != 0;
    detail::limit = limit;
    detail::watching = true;
  }

  alloc_limit(const alloc_limit&) = delete;
  alloc_limit& operator=(const alloc_limit&) = delete;

  ~alloc_limit() {
    detail::watching = false;
  }
};

// -- seeds --------------------------------------------------------------------

/// Writes the seed files of one harness into a folder.
class seed_writer {
public:
  explicit seed_writer(std::string dir) : dir_(std::move(dir)) {
    // nop
  }

  /// Writes `bytes` as the seed `name`.
  void add(const std::string& name, const std::vector<char>& bytes) {
    auto path = dir_ + "/" + name;
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      std::exit(EXIT_FAILURE);
    }
    ++count_;
  }

  /// Writes `words` as the libFuzzer dictionary of this corpus, the file
  /// DIR.dict beside the folder.
  void dictionary(const std::vector<std::string>& words) {
    auto path = dir_ + ".dict";
    std::ofstream out{path, std::ios::trunc};
    for (auto& word : words) {
      out << '"';
      for (unsigned char c : word) {
        if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
          char hex[5];
          std::snprintf(hex, sizeof(hex), "\\x%02x", c);
          out << hex;
        } else {
          out << c;
        }
      }
      out << "\"\n";
    }
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      std::exit(EXIT_FAILURE);
    }
  }

  size_t count() const noexcept {
    return count_;
  }

private:
  std::string dir_;
  size_t count_ = 0;
};

/// If the command line holds `--make-seeds=DIR` (an existing folder), hands
/// `write` a writer for DIR and exits: the harness writes its seed corpus
/// instead of fuzzing. Call from LLVMFuzzerInitialize.
template <class F>
void make_seeds_if_asked(int* argc, char*** argv, F write) {
  constexpr const char* flag = "--make-seeds=";
  for (int i = 1; i < *argc; ++i) {
    auto arg = (*argv)[i];
    if (std::strncmp(arg, flag, std::strlen(flag)) != 0)
      continue;
    std::string dir = arg + std::strlen(flag);
    while (dir.size() > 1 && dir.back() == '/')
      dir.pop_back();
    seed_writer out{dir};
    write(out);
    std::printf("wrote %zu seeds to %s\n", out.count(), dir.c_str());
    std::exit(EXIT_SUCCESS);
  }
}

/// The bytes of `xs...` in CAF's binary format (`ctx` may be null if no
/// element is an actor handle or a message).
template <class... Ts>
std::vector<char> to_bytes(caf::execution_unit* ctx, Ts&&... xs) {
  std::vector<char> buf;
  caf::binary_serializer sink{ctx, buf};
  if (auto err = sink(xs...)) {
    std::fprintf(stderr, "cannot serialize a seed\n");
    std::exit(EXIT_FAILURE);
  }
  return buf;
}

/// `prefix` followed by `rest`.
inline std::vector<char> cat(std::vector<char> prefix,
                             const std::vector<char>& rest) {
  prefix.insert(prefix.end(), rest.begin(), rest.end());
  return prefix;
}

} // namespace actorflow_fuzz
