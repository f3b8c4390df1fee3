// What every example does before its pipeline: take its own leading
// arguments, then give actorflow's defaults and CAF's command-line options to
// the actor system's configuration.
//
//   int main(int argc, char** argv) {
//     int n = 10;
//     if (!example::take_count(argc, argv, n, "pipeline_stream"))
//       return 2;
//     caf::actor_system_config cfg;
//     if (auto rc = example::configure(cfg, argc, argv, "pipeline_stream"))
//       return *rc;
//     caf::actor_system sys{cfg};
//     ...
//   }

#pragma once

#include <charconv>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string_view>

#include <caf/actor_system_config.hpp>

#include "actorflow/init.hpp"

namespace example {

/// Takes an optional leading count (`prog [N] [CAF options]`) off the command
/// line: on success `n` holds it and `argv` no longer shows it. Returns false
/// after printing the usage when the first argument is not a non-negative
/// integer; leaves everything alone when there is no such argument.
inline bool take_count(int& argc, char**& argv, int& n, const char* prog) {
  if (argc < 2 || argv[1][0] == '-')
    return true;
  std::string_view arg = argv[1];
  int value = 0;
  auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), value);
  if (ec != std::errc{} || end != arg.data() + arg.size() || value < 0) {
    std::cerr << "usage: " << prog << " [N] [CAF options]\n";
    return false;
  }
  n = value;
  argv[1] = argv[0]; // the program name moves up; CAF never sees N
  --argc;
  ++argv;
  return true;
}

/// Applies `actorflow::init` (library defaults, e.g. one scheduler thread per
/// core) and then CAF's options from the command line, so that
/// `--scheduler.max-threads=2` and friends work in every example. Returns the
/// exit code when the program should stop now: 2 after a bad option (printed
/// with `prog`, followed by `usage` if given), 0 after CAF printed `--help`;
/// std::nullopt to go on.
inline std::optional<int> configure(
  caf::actor_system_config& cfg, int argc, char** argv, const char* prog,
  const std::function<void(std::ostream&)>& usage = nullptr) {
  actorflow::init(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << prog << ": error: " << cfg.render(err) << '\n';
    if (usage)
      usage(std::cerr);
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  return std::nullopt;
}

} // namespace example
