// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/metrics_exporter.hpp"

#include <map>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "actorflow/error.hpp"
#include "actorflow/internal/stats_sources.hpp"

namespace actorflow {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using labels = std::vector<ClientMetric::Label>;

/// Names the exporter in errors.
constexpr const char* self_name = "metrics exporter";

double seconds(std::chrono::nanoseconds x) {
  return std::chrono::duration<double>(x).count();
}

/// The families of one scrape, in a fixed order; each sample goes into its
/// family by name.
class families {
public:
  families() {
    add("actorflow_stage_items_total", MetricType::Counter,
        "Items a stage took from its inputs (direction=in) or sent "
        "(direction=out).");
    add("actorflow_stage_seconds_total", MetricType::Counter,
        "Time a stage spent busy, stalled on backpressure, idle waiting for "
        "input, or waiting on anything else.");
    add("actorflow_stage_state", MetricType::Gauge,
        "1 for the state a stage is in now, 0 for the others.");
    add("actorflow_stage_failures_total", MetricType::Counter,
        "Failed calls of a stage's function, by what the stage did next.");
    add("actorflow_stage_latency_seconds", MetricType::Histogram,
        "Time items took through a stage, from entering its input channel to "
        "leaving it (sum estimated from the buckets).");
    add("actorflow_channel_items_total", MetricType::Counter,
        "Items that went through a channel between two stages.");
    add("actorflow_channel_capacity", MetricType::Gauge,
        "Most items a channel lets be in flight.");
    add("actorflow_channel_max_in_flight", MetricType::Gauge,
        "High-water mark of items in flight in a channel (equal to the "
        "capacity: its receiver held its sender back).");
    add("actorflow_pipeline_items_lost_total", MetricType::Counter,
        "Items nobody could take any more (a stage actor killed from "
        "outside).");
    add("actorflow_pipeline_items_cancelled_total", MetricType::Counter,
        "Items dropped because the pipeline was cancelled or failed.");
    add("actorflow_pipeline_workers_lost_total", MetricType::Counter,
        "Remote workers lost to nodes that died, hung or disconnected.");
  }

  void sample(const std::string& family, labels ls, double value) {
    auto& f = at(family);
    ClientMetric m;
    m.label = std::move(ls);
    if (f.type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    f.metric.push_back(std::move(m));
  }

  void histogram(const std::string& family, labels ls,
                 ClientMetric::Histogram h) {
    ClientMetric m;
    m.label = std::move(ls);
    m.histogram = std::move(h);
    at(family).metric.push_back(std::move(m));
  }

  std::vector<MetricFamily> release() {
    return std::move(all_);
  }

private:
  void add(std::string name, MetricType type, std::string help) {
    MetricFamily f;
    f.name = std::move(name);
    f.type = type;
    f.help = std::move(help);
    all_.push_back(std::move(f));
  }

  MetricFamily& at(const std::string& name) {
    for (auto& f : all_)
      if (f.name == name)
        return f;
    throw std::logic_error("actorflow: no metric family " + name);
  }

  std::vector<MetricFamily> all_;
};

/// The middle of bucket `b` of a `latency_histogram`, in nanoseconds.
double middle_ns(size_t b) {
  auto lo = b == 0
              ? 0.0
              : static_cast<double>(latency_histogram::upper_bound(b - 1)) + 1;
  return (lo + static_cast<double>(latency_histogram::upper_bound(b))) / 2;
}

/// Bounds of the Prometheus histogram: 2^10 - 1 ns, then a factor of 4 up to
/// 2^34 - 1 ns. Each is the upper bound of a bucket of `latency_histogram`,
/// so the cumulative counts are exact.
ClientMetric::Histogram to_prometheus(const latency_histogram& h) {
  ClientMetric::Histogram result;
  result.sample_count = h.count();
  auto& buckets = h.buckets();
  uint64_t below = 0;
  double sum_ns = 0;
  size_t b = 0;
  auto take = [&](size_t last) {
    for (; b <= last; ++b) {
      below += buckets[b];
      sum_ns += static_cast<double>(buckets[b]) * middle_ns(b);
    }
  };
  for (int k = 10; k <= 34; k += 2) {
    auto last = latency_histogram::bucket_of((uint64_t{1} << k) - 1);
    take(last);
    auto bound = static_cast<double>(latency_histogram::upper_bound(last));
    result.bucket.push_back(ClientMetric::Bucket{below, bound / 1e9});
  }
  take(latency_histogram::bucket_count - 1);
  result.sample_sum = sum_ns / 1e9;
  return result;
}

/// Adds the samples of pipeline `name`.
void collect(const std::string& name, const pipeline_stats& st, families& out) {
  auto stage_labels = [&](const stage_stats& s) {
    return labels{{"pipeline", name}, {"stage", s.name}};
  };
  auto with = [](labels ls, std::string key, std::string value) {
    ls.push_back({std::move(key), std::move(value)});
    return ls;
  };
  for (auto& s : st.stages) {
    auto ls = stage_labels(s);
    out.sample("actorflow_stage_items_total", with(ls, "direction", "in"),
               static_cast<double>(s.items_in));
    out.sample("actorflow_stage_items_total", with(ls, "direction", "out"),
               static_cast<double>(s.items_out));
    std::pair<const char*, std::chrono::nanoseconds> times[]
      = {{"busy", s.busy},
         {"stalled", s.stalled},
         {"idle", s.idle},
         {"waiting", s.waiting}};
    for (auto& [state, t] : times)
      out.sample("actorflow_stage_seconds_total", with(ls, "state", state),
                 seconds(t));
    for (auto x :
         {stage_state::starting, stage_state::busy, stage_state::stalled,
          stage_state::idle, stage_state::waiting, stage_state::done})
      out.sample("actorflow_stage_state", with(ls, "state", to_string(x)),
                 s.state == x ? 1.0 : 0.0);
    std::pair<const char*, uint64_t> failures[]
      = {{"retry", s.retried}, {"skip", s.skipped}, {"fail", s.failed}};
    for (auto& [action, n] : failures)
      out.sample("actorflow_stage_failures_total", with(ls, "action", action),
                 static_cast<double>(n));
    out.histogram("actorflow_stage_latency_seconds", ls,
                  to_prometheus(s.latency));
  }
  // One series per pair of ends: two channels between the same stages (rare)
  // add up, so that no two series share their labels.
  struct channel_sum {
    uint64_t items = 0;
    uint64_t capacity = 0;
    uint64_t peak = 0;
  };
  std::map<labels, channel_sum> channels;
  auto end_name = [&](size_t i) {
    return i == edge_stats::outside ? std::string{"outside"}
                                    : st.stages[i].name;
  };
  for (auto& e : st.edges) {
    labels ls{{"pipeline", name},
              {"from", end_name(e.from)},
              {"to", end_name(e.to)},
              {"kind", e.control ? "control" : "data"}};
    auto& sum = channels[ls];
    sum.items += e.items;
    sum.capacity += e.capacity;
    sum.peak += e.max_in_flight;
  }
  for (auto& [ls, sum] : channels) {
    out.sample("actorflow_channel_items_total", ls,
               static_cast<double>(sum.items));
    out.sample("actorflow_channel_capacity", ls,
               static_cast<double>(sum.capacity));
    out.sample("actorflow_channel_max_in_flight", ls,
               static_cast<double>(sum.peak));
  }
  labels pl{{"pipeline", name}};
  out.sample("actorflow_pipeline_items_lost_total", pl,
             static_cast<double>(st.lost));
  out.sample("actorflow_pipeline_items_cancelled_total", pl,
             static_cast<double>(st.cancelled));
  out.sample("actorflow_pipeline_workers_lost_total", pl,
             static_cast<double>(st.workers_lost));
}

/// What Prometheus' exposer calls at every scrape.
class collector final : public prometheus::Collectable {
public:
  std::vector<MetricFamily> Collect() const override {
    families out;
    for (auto& [name, source] : pipelines.all())
      collect(name, source(), out);
    return out.release();
  }

  internal::stats_sources pipelines;
};

} // namespace

struct metrics_exporter::impl {
  std::shared_ptr<collector> metrics = std::make_shared<collector>();
  std::unique_ptr<prometheus::Exposer> exposer;
  std::string address;
  uint16_t port = 0;
};

caf::expected<metrics_exporter> metrics_exporter::serve(std::string address) {
  auto started = internal::start_listening(
    self_name, address,
    // One thread: scrapes are rare and cheap, and serialized they read the
    // pipelines' figures one at a time.
    [&] { return std::make_unique<prometheus::Exposer>(address, 1); },
    [](prometheus::Exposer& x) { return x.GetListeningPorts(); });
  if (!started)
    return started.error();
  auto ptr = std::make_unique<impl>();
  std::tie(ptr->exposer, ptr->port) = std::move(*started);
  ptr->address = address;
  ptr->exposer->RegisterCollectable(ptr->metrics);
  return metrics_exporter{std::move(ptr)};
}

metrics_exporter::metrics_exporter(std::unique_ptr<impl> ptr) noexcept
  : impl_(std::move(ptr)) {
  // nop
}

metrics_exporter::metrics_exporter(metrics_exporter&&) noexcept = default;

metrics_exporter& metrics_exporter::operator=(
  metrics_exporter&&) noexcept = default;

metrics_exporter::~metrics_exporter() {
  // The exposer's threads stop before the collector goes.
  if (impl_ && impl_->exposer) {
    internal::listener_nudge nudge{impl_->address, impl_->port};
    impl_->exposer.reset();
  }
}

caf::error metrics_exporter::add(
  std::string name, std::shared_ptr<const pipeline_monitor> monitor) {
  return impl_->metrics->pipelines.set(self_name, std::move(name),
                                       std::move(monitor));
}

caf::error metrics_exporter::add(std::string name, stats_source source) {
  return impl_->metrics->pipelines.set(self_name, std::move(name),
                                       std::move(source));
}

bool metrics_exporter::remove(std::string_view name) {
  return impl_->metrics->pipelines.erase(name);
}

uint16_t metrics_exporter::port() const noexcept {
  return impl_->port;
}

std::string metrics_exporter::url() const {
  return internal::http_base(impl_->address, impl_->port) + "/metrics";
}

std::string metrics_exporter::scrape() const {
  return prometheus::TextSerializer{}.Serialize(impl_->metrics->Collect());
}

} // namespace actorflow
