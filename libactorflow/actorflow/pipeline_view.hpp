// This file is part of actorflow. See README.md for the project's license.

#pragma once

// A live page of pipelines in the browser, part of the optional module
// `actorflow::metrics` (see metrics_exporter.hpp).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/stats.hpp"

namespace actorflow {

/// Serves a live page per pipeline: its graph as SVG, each stage with its
/// items per second, where its time went over the last second (busy,
/// stalled, idle, waiting) and its latency, each channel with how full it
/// is, and the bottleneck (the stage busy the longest over the last second)
/// in red. The page reloads the graph every second.
///
/// | path | what |
/// |---|---|
/// | `/` | the pipelines served, with links |
/// | `/view/NAME` | the live page of pipeline NAME |
/// | `/graph/NAME.svg` | its graph now (what the page reloads) |
///
/// ~~~
/// auto view = actorflow::pipeline_view::serve("127.0.0.1:8080");
/// if (!view)
///   return fail(view.error());
/// auto run = actorflow::iota(0, n).then(f).for_each(g).start(sys);
/// view->add("ingest", run);
/// // open http://127.0.0.1:8080/view/ingest
/// ~~~
class ACTORFLOW_EXPORT pipeline_view {
public:
  /// Where the statistics of one pipeline come from.
  using stats_source = std::function<pipeline_stats()>;

  /// Starts serving on `address`, "HOST:PORT" (port 0 picks a free port).
  /// Fails with `invalid_argument` for a malformed address and
  /// `listen_failed` if it cannot be bound.
  static caf::expected<pipeline_view> serve(std::string address);

  /// Moves the server; `other` may then only be destroyed or assigned to.
  pipeline_view(pipeline_view&& other) noexcept;

  /// Moves the server; this one's former server stops.
  pipeline_view& operator=(pipeline_view&& other) noexcept;

  /// Stops serving.
  ~pipeline_view();

  /// Serves the live page of `run` as `/view/NAME`, also after the run
  /// ended, until `remove(name)`. A second `add` with the same name replaces
  /// the first. Fails with `invalid_argument` for an empty name or one that
  /// needs escaping in a URL (use letters, digits, `-`, `_` and `.`).
  template <class Running>
  requires requires(const Running& r) {
    r.monitor();
  }
  caf::error add(std::string name, const Running& run) {
    return add(std::move(name), run.monitor());
  }

  /// Serves the statistics that `monitor` collects.
  caf::error add(std::string name,
                 std::shared_ptr<const pipeline_monitor> monitor);

  /// Serves whatever `source` returns (called from the server's threads).
  caf::error add(std::string name, stats_source source);

  /// Stops serving the pipeline `name`; false if there was none.
  bool remove(std::string_view name);

  /// The port the page is served on.
  uint16_t port() const noexcept;

  /// The URL of the page of pipeline `name`, e.g.
  /// "http://127.0.0.1:8080/view/ingest".
  std::string url(std::string_view name) const;

  /// The graph of pipeline `name` as the page shows it now (empty if there
  /// is no such pipeline).
  std::string svg(std::string_view name) const;

private:
  struct impl;

  explicit pipeline_view(std::unique_ptr<impl> ptr) noexcept;

  std::unique_ptr<impl> impl_;
};

/// Draws `now` as an SVG graph, with rates and shares over the time since
/// `before` (`seconds` earlier; null: over each stage's life). The layout
/// puts each stage one column after the stages it reads from.
ACTORFLOW_EXPORT std::string to_svg(const pipeline_stats& now,
                                    const pipeline_stats* before,
                                    double seconds);

} // namespace actorflow
