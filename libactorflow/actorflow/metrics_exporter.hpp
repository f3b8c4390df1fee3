// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Prometheus metrics of pipelines: an optional module (library
// `actorflow::metrics`, built when Debian's prometheus-cpp-dev is present)
// that serves the figures of `pipeline_stats` over HTTP for Prometheus to
// scrape.

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

/// Serves the statistics of pipelines as Prometheus metrics at
/// `http://ADDRESS/metrics`, in Prometheus' text format. The figures are read
/// when Prometheus scrapes, from the same instruments as `stats()`, so serving
/// costs the pipelines nothing between scrapes.
///
/// Every series has the label `pipeline`, the name given to `add`; stage
/// series add `stage` (the name in `stage_stats::name`), channel series
/// `from` and `to` (stage names, or "outside"):
///
/// | metric | type | what |
/// |---|---|---|
/// | `actorflow_stage_items_total{direction="in"/"out"}` | counter | `items_in`, `items_out` |
/// | `actorflow_stage_seconds_total{state="busy"/"stalled"/"idle"/"waiting"}` | counter | where the stage's time went |
/// | `actorflow_stage_state{state=...}` | gauge | 1 for the state the stage is in, 0 for the others |
/// | `actorflow_stage_failures_total{action="retry"/"skip"/"fail"}` | counter | failed calls by what followed |
/// | `actorflow_stage_latency_seconds` | histogram | `stage_stats::latency` |
/// | `actorflow_channel_items_total` | counter | `edge_stats::items` |
/// | `actorflow_channel_capacity` | gauge | `edge_stats::capacity` |
/// | `actorflow_channel_max_in_flight` | gauge | `edge_stats::max_in_flight` |
/// | `actorflow_pipeline_items_lost_total` | counter | `pipeline_stats::lost` |
/// | `actorflow_pipeline_items_cancelled_total` | counter | `pipeline_stats::cancelled` |
/// | `actorflow_pipeline_workers_lost_total` | counter | `pipeline_stats::workers_lost` |
///
/// The latency histogram's buckets are exact at its bounds (1.02 us to 17.2
/// s, a factor of 4 apart: bounds of `latency_histogram`'s own buckets); its
/// `_sum` is estimated from the buckets (each item counts with the middle of
/// its bucket, within 12.5%).
///
/// ~~~
/// auto exporter = actorflow::metrics_exporter::serve("127.0.0.1:9464");
/// if (!exporter)
///   return fail(exporter.error());
/// auto run = actorflow::iota(0, n).then(f).for_each(g).start(sys);
/// exporter->add("wordfreq", run);
/// // curl http://127.0.0.1:9464/metrics
/// ~~~
class ACTORFLOW_EXPORT metrics_exporter {
public:
  /// Where the statistics of one pipeline come from.
  using stats_source = std::function<pipeline_stats()>;

  /// Starts serving on `address`, "HOST:PORT" (port 0 picks a free port; see
  /// `port()`). Fails with `invalid_argument` for a malformed address and
  /// `listen_failed` if it cannot be bound (e.g. in use).
  static caf::expected<metrics_exporter> serve(std::string address);

  /// Moves the server; `other` may then only be destroyed or assigned to.
  metrics_exporter(metrics_exporter&& other) noexcept;

  /// Moves the server; this one's former server stops.
  metrics_exporter& operator=(metrics_exporter&& other) noexcept;

  /// Stops serving.
  ~metrics_exporter();

  /// Serves the statistics of `run` under `pipeline="name"`, also after the
  /// run ended (final figures) and after its handle is gone, until
  /// `remove(name)`. A second `add` with the same name replaces the first.
  /// Fails with `invalid_argument` for an empty name.
  template <class Running>
  requires requires(const Running& r) {
    r.monitor();
  }
  caf::error add(std::string name, const Running& run) {
    return add(std::move(name), run.monitor());
  }

  /// Serves the statistics that `monitor` collects (see `run_options`).
  caf::error add(std::string name,
                 std::shared_ptr<const pipeline_monitor> monitor);

  /// Serves whatever `source` returns, read at every scrape (from the
  /// exporter's threads: `source` must be safe to call from any thread).
  caf::error add(std::string name, stats_source source);

  /// Stops serving the pipeline `name`; false if there was none.
  bool remove(std::string_view name);

  /// The port the exporter listens on.
  uint16_t port() const noexcept;

  /// The URL to scrape, e.g. "http://127.0.0.1:9464/metrics".
  std::string url() const;

  /// The metrics as a scrape would return them now.
  std::string scrape() const;

private:
  struct impl;

  explicit metrics_exporter(std::unique_ptr<impl> ptr) noexcept;

  std::unique_ptr<impl> impl_;
};

} // namespace actorflow
