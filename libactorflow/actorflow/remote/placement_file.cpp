// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/placement_file.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/config_value.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>

#include "actorflow/error.hpp"
#include "actorflow/remote/detail/remote_stage.hpp"

namespace actorflow {

namespace {

using caf::config_value;

/// The error of one section: `source [section]: what`.
caf::error section_error(const std::string& source, const std::string& section,
                         const std::string& what) {
  return make_error(error_code::invalid_argument, "placement file '" + source
                                                    + "' [" + section
                                                    + "]: " + what);
}

caf::error file_error(const std::string& source, const std::string& what) {
  return make_error(error_code::invalid_argument,
                    "placement file '" + source + "': " + what);
}

/// CAF's parser error, with its line and column when it has them.
std::string syntax_error_text(const caf::error& err) {
  if (err.category() != caf::atom("parser"))
    return to_string_any(err);
  auto text = "syntax error ("
              + caf::to_string(static_cast<caf::pec>(err.code())) + ")";
  auto& ctx = err.context();
  if (ctx.match_elements<config_value::dictionary>()) {
    auto& where = ctx.get_as<config_value::dictionary>(0);
    auto line = caf::get_if<config_value::integer>(&where, "line");
    auto column = caf::get_if<config_value::integer>(&where, "column");
    if (line && column)
      text += " at line " + std::to_string(*line) + ", column "
              + std::to_string(*column);
  }
  return text;
}

/// The node addresses of a section: one string or a list of strings.
caf::expected<std::vector<std::string>> read_nodes(const std::string& source,
                                                   const std::string& section,
                                                   const config_value& value) {
  std::vector<std::string> nodes;
  auto& data = value.get_data();
  if (auto str = caf::get_if<config_value::string>(&data)) {
    nodes.push_back(*str);
  } else if (auto xs = caf::get_if<config_value::list>(&data)) {
    for (auto& x : *xs) {
      auto str = caf::get_if<config_value::string>(&x.get_data());
      if (str == nullptr)
        return section_error(source, section,
                             "nodes must be quoted strings (\"host:port\" or "
                             "\"local\"), got "
                               + caf::to_string(x));
      nodes.push_back(*str);
    }
  } else {
    return section_error(source, section,
                         "nodes must be a list of quoted strings, got "
                           + caf::to_string(value));
  }
  if (nodes.empty())
    return section_error(source, section, "nodes is empty");
  for (auto& where : nodes)
    if (where != "local" && !detail::parse_address(where))
      return section_error(source, section,
                           "bad node address '" + where
                             + "' (expected host:port or local)");
  return nodes;
}

/// Checks one count of workers.
caf::expected<size_t> read_count(const std::string& source,
                                 const std::string& section,
                                 const config_value& value) {
  auto n = caf::get_if<config_value::integer>(&value.get_data());
  if (n == nullptr)
    return section_error(source, section,
                         "workers must be a number or a list of numbers, got "
                           + caf::to_string(value));
  if (*n <= 0)
    return section_error(source, section,
                         "workers must be positive, got " + std::to_string(*n));
  return static_cast<size_t>(*n);
}

/// The workers per node of a section: one number, or one per node.
caf::expected<std::vector<size_t>> read_workers(const std::string& source,
                                                const std::string& section,
                                                const config_value* value,
                                                size_t nodes) {
  if (value == nullptr)
    return std::vector<size_t>(nodes, 1);
  auto xs = caf::get_if<config_value::list>(&value->get_data());
  if (xs == nullptr) {
    auto n = read_count(source, section, *value);
    if (!n)
      return n.error();
    return std::vector<size_t>(nodes, *n);
  }
  if (xs->size() != nodes)
    return section_error(source, section,
                         "workers lists " + std::to_string(xs->size())
                           + " numbers for " + std::to_string(nodes)
                           + " nodes (give one number for all, or one per "
                             "node)");
  std::vector<size_t> counts;
  for (auto& x : *xs) {
    auto n = read_count(source, section, x);
    if (!n)
      return n.error();
    counts.push_back(*n);
  }
  return counts;
}

/// Adds the stage of the section `name` (if it has keys) and of its
/// sub-sections (`[name.sub]`, which CAF's reader nests in it) to `result`.
caf::error add_section(placement_map& result, const std::string& name,
                       const config_value::dictionary& entries) {
  auto& source = result.source();
  const config_value* nodes_value = nullptr;
  const config_value* workers_value = nullptr;
  bool sub_sections = false;
  for (auto& [key, entry] : entries) {
    if (auto sub = caf::get_if<config_value::dictionary>(&entry.get_data())) {
      sub_sections = true;
      if (auto err = add_section(result, name + "." + key, *sub))
        return err;
    } else if (key == "nodes") {
      nodes_value = &entry;
    } else if (key == "workers") {
      workers_value = &entry;
    } else {
      return section_error(
        source, name, "unknown key '" + key + "' (expected nodes and workers)");
    }
  }
  if (nodes_value == nullptr) {
    if (workers_value == nullptr && sub_sections)
      return caf::none; // only a prefix of its sub-sections' names
    return section_error(source, name, "names no nodes");
  }
  auto nodes = read_nodes(source, name, *nodes_value);
  if (!nodes)
    return nodes.error();
  auto counts = read_workers(source, name, workers_value, nodes->size());
  if (!counts)
    return counts.error();
  placement where;
  for (size_t i = 0; i < nodes->size(); ++i)
    where.push_back({(*nodes)[i], (*counts)[i]});
  result.set(name, std::move(where));
  return caf::none;
}

} // namespace

// -- placement_map ------------------------------------------------------------

placement_map::placement_map(std::string source) : source_(std::move(source)) {
  // nop
}

caf::expected<placement> placement_map::at(std::string_view stage) const {
  if (auto i = stages_.find(stage); i != stages_.end())
    return i->second;
  std::string known;
  for (auto& entry : stages_)
    known += (known.empty() ? "" : ", ") + entry.first;
  return make_error(error_code::invalid_argument,
                    "'" + source_ + "' places no stage '" + std::string{stage}
                      + "' (it places: " + (known.empty() ? "nothing" : known)
                      + ")");
}

void placement_map::set(std::string stage, placement where) {
  stages_.insert_or_assign(std::move(stage), std::move(where));
}

// -- reading ------------------------------------------------------------------

caf::expected<placement_map> parse_placements(std::string_view text,
                                              std::string source) {
  std::istringstream in{std::string{text}};
  auto parsed = caf::actor_system_config::parse_config(in);
  if (!parsed)
    return file_error(source, syntax_error_text(parsed.error()));
  placement_map result{source};
  for (auto& [section, value] : *parsed) {
    auto entries = caf::get_if<config_value::dictionary>(&value.get_data());
    if (entries == nullptr)
      return file_error(source, "'" + section
                                  + "' is outside of a section (each stage "
                                    "is a [section])");
    if (auto err = add_section(result, section, *entries))
      return err;
  }
  if (result.stages().empty())
    return file_error(source, "places no stage (expected a [section] with "
                              "nodes for each stage)");
  return result;
}

caf::expected<placement_map> read_placements(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return file_error(path, "cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad())
    return file_error(path, "cannot be read");
  return parse_placements(text.str(), path);
}

} // namespace actorflow
