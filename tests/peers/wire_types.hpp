// Item types shared by wire_test and its peer process.

#pragma once

#include <cstdint>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "actorflow/remote.hpp"

namespace wire_test_types {

/// A non-trivially copyable item: crosses the wire in CAF's own format.
struct word {
  std::string text;
  int32_t n = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, word& x) {
  return f(caf::meta::type_name("wire_test::word"), x.text, x.n);
}

using consume_atom = caf::atom_constant<caf::atom("consume")>;
using consume_words_atom = caf::atom_constant<caf::atom("consumew")>;
using produce_atom = caf::atom_constant<caf::atom("produce")>;
using result_atom = caf::atom_constant<caf::atom("result")>;

inline void register_types(caf::actor_system_config& cfg) {
  actorflow::add_item_type<int32_t>(cfg, "int32");
  actorflow::add_item_type<word>(cfg, "wire_test::word");
}

} // namespace wire_test_types
