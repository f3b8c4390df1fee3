// A stage plugin for tools/actorflow_node (see README, "Distributed
// pipelines"): build it as a shared object and start a node with
//
//   actorflow_node --plugins=build/examples/plugins/libexample_stages.so
//
// Drivers register the same item types under the same names (see
// examples/distributed_wordfreq.cpp).

#include <cctype>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "actorflow/remote.hpp"

/// The entry point that actorflow_node looks up with dlsym.
extern "C" __attribute__((visibility("default"))) void actorflow_register(
  actorflow::stage_registry& reg) {
  reg.add_item_type<int32_t>("int32");
  reg.add_item_type<int64_t>("int64");
  reg.add_item_type<std::string>("string");
  reg.register_stage<int32_t, int64_t>("square", [](int32_t x) {
    return int64_t{x} * x;
  });
  // Lower-cases a line and keeps letters and blanks only.
  reg.register_stage<std::string, std::string>(
    "normalize", [](std::string line) {
      for (auto& c : line) {
        auto u = static_cast<unsigned char>(c);
        c = std::isalpha(u) ? static_cast<char>(std::tolower(u)) : ' ';
      }
      return line;
    });
}
