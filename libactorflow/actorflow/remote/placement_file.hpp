// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Placements read from a file: where the workers of each distributed stage
// run, kept out of the code so that operators can move stages between hosts
// without rebuilding the driver.

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/remote/remote_options.hpp"

namespace actorflow {

/// The placements of a pipeline's distributed stages, by stage name: what
/// `read_placements` returns.
///
/// ~~~
/// auto places = actorflow::read_placements("/etc/myapp/placement.ini");
/// if (!places)
///   return fail(places.error()); // the file, the section and what is wrong
/// auto where = places->at("square");
/// if (!where)
///   return fail(where.error()); // names the stages the file has
/// auto v = src.compose(actorflow::remote_parallel_then<int64_t>(*where,
///                                                                "square"))
///            .collect()
///            .run(sys);
/// ~~~
class ACTORFLOW_EXPORT placement_map {
public:
  /// An empty map that names its origin `source` in its errors.
  explicit placement_map(std::string source = "placements");

  /// The placement of `stage`, or an `invalid_argument` error that names the
  /// stages this map has.
  caf::expected<placement> at(std::string_view stage) const;

  /// Sets the placement of `stage` (replacing any).
  void set(std::string stage, placement where);

  /// Every stage and its placement, ordered by name.
  const std::map<std::string, placement, std::less<>>& stages() const noexcept {
    return stages_;
  }

  /// Where the placements came from (a file's path), as errors name it.
  const std::string& source() const noexcept {
    return source_;
  }

private:
  std::string source_;
  std::map<std::string, placement, std::less<>> stages_;
};

/// Reads the placements of distributed stages from the file at `path`, in
/// CAF's configuration format (INI with quoted strings and `[...]` lists):
/// one section per stage, named after the stage (`[wordfreq.count]` for the
/// stage "wordfreq.count").
///
/// ~~~
/// ; placement.ini
/// [square]
/// ; "host:port" of each node, or "local" for workers in the driver
/// nodes = ["10.0.0.5:4242", "10.0.0.6:4242", "local"]
/// ; workers per node: one number for all of them, or one per node
/// workers = [4, 4, 1]
///
/// [wordfreq.count]
/// nodes = ["10.0.0.5:4242"]
/// workers = 2
/// ~~~
///
/// `workers` defaults to 1. The file is checked whole, and strictly (CAF's
/// own configuration ignores keys it does not know; a placement must not):
/// a file that cannot be read, a syntax error (with its line and column), a
/// key outside a section, an unknown key, a section without nodes, a bad
/// node address, a count of workers that is not positive, a list of workers
/// whose length differs from the nodes', or a file without any stage each
/// give an `invalid_argument` error that names the file and the section.
/// CAF's reader merges sections of the same name: the last key wins.
ACTORFLOW_EXPORT caf::expected<placement_map> read_placements(
  const std::string& path);

/// Like `read_placements`, from the text `text`; errors name it `source`.
ACTORFLOW_EXPORT caf::expected<placement_map> parse_placements(
  std::string_view text, std::string source = "placements");

} // namespace actorflow
