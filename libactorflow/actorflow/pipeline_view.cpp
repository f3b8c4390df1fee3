// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/pipeline_view.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <CivetServer.h>

#include "actorflow/detail/duration_text.hpp"
#include "actorflow/error.hpp"
#include "actorflow/internal/stats_graph.hpp"
#include "actorflow/internal/stats_sources.hpp"

namespace actorflow {

namespace {

using std::chrono::nanoseconds;

/// Names the view in errors.
constexpr const char* self_name = "pipeline view";

// -- text ----------------------------------------------------------------------

std::string xml_escape(std::string_view x) {
  std::string out;
  for (auto c : x) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, x);
  return buf;
}

std::string rate_text(double per_s) {
  if (per_s < 1e3)
    return format("%.0f", per_s);
  if (per_s < 1e6)
    return format("%.1fk", per_s / 1e3);
  return format("%.2fM", per_s / 1e6);
}

std::string percent(double share) {
  return format("%.0f%%", 100 * share);
}

/// Letters, digits, '-', '_' and '.': a name that needs no escaping in a
/// URL.
bool plain_name(std::string_view x) {
  return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

caf::error check_name(const std::string& name) {
  if (plain_name(name))
    return {};
  return make_error(error_code::invalid_argument,
                    "pipeline view: name '" + name
                      + "' must be letters, digits, '-', '_' and '.'");
}

// -- the graph -----------------------------------------------------------------

/// Where a stage's time went: over the interval, or over its life.
struct shares {
  double busy = 0;
  double stalled = 0;
  double idle = 0;
  double waiting = 0;
  nanoseconds busy_time{0};
};

shares shares_of(const stage_stats& now, const stage_stats* before) {
  auto d = [&](nanoseconds stage_stats::*m) {
    return before ? now.*m - before->*m : now.*m;
  };
  shares s;
  auto busy = d(&stage_stats::busy);
  auto stalled = d(&stage_stats::stalled);
  auto idle = d(&stage_stats::idle);
  auto waiting = d(&stage_stats::waiting);
  auto total = static_cast<double>((busy + stalled + idle + waiting).count());
  if (total > 0) {
    s.busy = static_cast<double>(busy.count()) / total;
    s.stalled = static_cast<double>(stalled.count()) / total;
    s.idle = static_cast<double>(idle.count()) / total;
    s.waiting = static_cast<double>(waiting.count()) / total;
  }
  s.busy_time = busy;
  return s;
}

constexpr int node_w = 210;
constexpr int node_h = 84;
constexpr int col_gap = 70;
constexpr int row_gap = 28;
constexpr int margin = 20;

} // namespace

std::string to_svg(const pipeline_stats& now, const pipeline_stats* before,
                   double seconds) {
  auto n = now.stages.size();
  if (before != nullptr && (before->stages.size() != n || seconds <= 0))
    before = nullptr;
  // Columns: one after the stages a stage reads from.
  std::vector<size_t> col(n, 0);
  for (size_t pass = 0; pass < n; ++pass) {
    bool changed = false;
    for (auto& e : now.edges)
      if (internal::data_edge(e) && col[e.to] < col[e.from] + 1
          && e.to != e.from) {
        col[e.to] = col[e.from] + 1;
        changed = true;
      }
    if (!changed)
      break;
  }
  std::vector<size_t> row(n, 0);
  std::map<size_t, size_t> per_col;
  size_t cols = 0;
  size_t rows = 0;
  for (size_t i = 0; i < n; ++i) {
    row[i] = per_col[col[i]]++;
    cols = std::max(cols, col[i] + 1);
    rows = std::max(rows, row[i] + 1);
  }
  auto x_of = [&](size_t i) {
    return margin + static_cast<int>(col[i]) * (node_w + col_gap);
  };
  auto y_of = [&](size_t i) {
    return margin + 20 + static_cast<int>(row[i]) * (node_h + row_gap);
  };
  // Per stage: shares, rate, and the bottleneck (busy the longest). A stage
  // that passes items on (to a stage or out of the pipeline) is rated by
  // what it sends, a sink by what it takes.
  std::vector<bool> passes_on(n, false);
  std::vector<size_t> ins(n, 0);
  std::vector<size_t> outs(n, 0);
  for (auto& e : now.edges) {
    if (e.from != edge_stats::outside && !e.control)
      passes_on[e.from] = true;
    if (internal::data_edge(e)) {
      ++outs[e.from];
      ++ins[e.to];
    }
  }
  std::vector<shares> sh(n);
  std::optional<size_t> hot;
  for (size_t i = 0; i < n; ++i) {
    auto prev = before ? &before->stages[i] : nullptr;
    sh[i] = shares_of(now.stages[i], prev);
    if (sh[i].busy_time.count() > 0
        && (!hot || sh[i].busy_time > sh[*hot].busy_time))
      hot = i;
  }
  uint64_t items_done = 0;
  for (size_t i = 0; i < n; ++i)
    if (!passes_on[i])
      items_done += now.stages[i].items_in;
  auto width = 2 * margin + static_cast<int>(cols) * (node_w + col_gap)
               - col_gap;
  auto height = 2 * margin + 20 + static_cast<int>(rows) * (node_h + row_gap);
  std::string out;
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
         + std::to_string(width) + "\" height=\"" + std::to_string(height)
         + "\" viewBox=\"0 0 " + std::to_string(width) + " "
         + std::to_string(height) + "\" data-items=\""
         + std::to_string(items_done)
         + "\" font-family=\"Helvetica, Arial, sans-serif\" "
           "font-size=\"12\">\n"
           "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
           "refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"9\" "
           "markerHeight=\"9\" "
           "orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" "
           "fill=\"#555\"/></marker></defs>\n";
  out += "<text x=\"" + std::to_string(margin) + "\" y=\""
         + std::to_string(margin + 4) + "\" fill=\"#444\">"
         + (before ? "last " + format("%.1f", seconds) + " s" : "whole run")
         + (hot ? "; bottleneck: " + xml_escape(now.stages[*hot].name) : "")
         + "</text>\n";
  // Edges first, under the nodes.
  for (auto& e : now.edges) {
    if (e.from == edge_stats::outside || e.to == edge_stats::outside)
      continue;
    auto x1 = x_of(e.from) + node_w;
    auto y1 = y_of(e.from) + node_h / 2;
    auto x2 = x_of(e.to);
    auto y2 = y_of(e.to) + node_h / 2;
    if (e.control) {
      // Tokens flow back: a dashed arc below the stages.
      x1 = x_of(e.from) + node_w / 2;
      y1 = y_of(e.from) + node_h;
      x2 = x_of(e.to) + node_w / 2;
      y2 = y_of(e.to) + node_h;
      auto low = std::max(y1, y2) + row_gap - 6;
      out += "<path d=\"M " + std::to_string(x1) + " " + std::to_string(y1)
             + " C " + std::to_string(x1) + " " + std::to_string(low) + ", "
             + std::to_string(x2) + " " + std::to_string(low) + ", "
             + std::to_string(x2) + " " + std::to_string(y2)
             + "\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"4 3\" "
               "marker-end=\"url(#arrow)\"/>\n";
      continue;
    }
    // How full: items sent minus items taken, where one stage writes and
    // one reads; else the high-water mark.
    std::string label;
    double fill = 0;
    auto cap = static_cast<double>(std::max<size_t>(e.capacity, 1));
    if (outs[e.from] == 1 && ins[e.to] == 1) {
      auto& w = now.stages[e.from];
      auto& r = now.stages[e.to];
      auto held = w.items_out > r.items_in ? w.items_out - r.items_in : 0;
      held = std::min<uint64_t>(held, e.capacity);
      fill = static_cast<double>(held) / cap;
      label = std::to_string(held) + "/" + std::to_string(e.capacity);
    } else {
      fill = static_cast<double>(e.max_in_flight) / cap;
      label = "peak " + std::to_string(e.max_in_flight) + "/"
              + std::to_string(e.capacity);
    }
    auto color = fill > 0.9 ? "#c62828" : fill > 0.5 ? "#ef6c00" : "#555";
    auto mx = (x1 + x2) / 2;
    out += "<g class=\"channel\" data-fill=\"" + format("%.3f", fill)
           + "\"><path d=\"M " + std::to_string(x1) + " " + std::to_string(y1)
           + " C " + std::to_string(mx) + " " + std::to_string(y1) + ", "
           + std::to_string(mx) + " " + std::to_string(y2) + ", "
           + std::to_string(x2) + " " + std::to_string(y2)
           + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\""
           + format("%.1f", 1 + 3 * fill) + "\" marker-end=\"url(#arrow)\"/>";
    out += "<text x=\"" + std::to_string(mx) + "\" y=\""
           + std::to_string((y1 + y2) / 2 - 5)
           + "\" text-anchor=\"middle\" font-size=\"10\" fill=\"" + color
           + "\">" + label + "</text></g>\n";
  }
  for (size_t i = 0; i < n; ++i) {
    auto& s = now.stages[i];
    auto prev = before ? &before->stages[i] : nullptr;
    // Items per second leaving the stage (taken, for the last stages).
    auto count = passes_on[i] ? s.items_out : s.items_in;
    auto count_before = prev ? (passes_on[i] ? prev->items_out : prev->items_in)
                             : 0;
    std::string rate
      = before ? rate_text(static_cast<double>(count - count_before) / seconds)
                   + " items/s"
               : std::to_string(count) + " items";
    auto x = x_of(i);
    auto y = y_of(i);
    bool is_hot = hot && *hot == i;
    out += "<g class=\"stage\" data-name=\"" + xml_escape(s.name)
           + "\" data-items-in=\"" + std::to_string(s.items_in)
           + "\" data-items-out=\"" + std::to_string(s.items_out)
           + "\" data-busy=\"" + format("%.3f", sh[i].busy) + "\">";
    out += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y)
           + "\" width=\"" + std::to_string(node_w) + "\" height=\""
           + std::to_string(node_h) + "\" rx=\"8\" fill=\""
           + (is_hot ? "#f4a6a6" : "#ffffff") + "\" stroke=\""
           + (is_hot ? "#b71c1c" : "#777") + "\" stroke-width=\""
           + (is_hot ? "2" : "1") + "\"/>";
    auto line = [&](int dy, const std::string& text, const char* extra = "") {
      out += "<text x=\"" + std::to_string(x + 8) + "\" y=\""
             + std::to_string(y + dy) + "\"" + extra + ">" + text + "</text>";
    };
    line(16, xml_escape(s.name) + (s.done ? " (done)" : ""),
         " font-weight=\"bold\"");
    line(32, rate
               + (s.retried + s.skipped + s.failed > 0
                    ? ", failed calls "
                        + std::to_string(s.retried + s.skipped + s.failed)
                    : ""));
    line(47,
         "busy " + percent(sh[i].busy) + ", stalled " + percent(sh[i].stalled)
           + ", idle " + percent(sh[i].idle)
           + (sh[i].waiting > 0 ? ", waiting " + percent(sh[i].waiting) : ""));
    if (s.latency.count() > 0)
      line(62, "latency p50 " + detail::duration_text(s.latency.percentile(0.5))
                 + ", p99 "
                 + detail::duration_text(s.latency.percentile(0.99)));
    // The shares as a bar: busy, waiting, stalled, idle.
    auto bar_x = static_cast<double>(x + 8);
    auto bar_w = static_cast<double>(node_w - 16);
    for (auto [share, color] :
         {std::pair{sh[i].busy, "#e53935"}, std::pair{sh[i].waiting, "#8e24aa"},
          std::pair{sh[i].stalled, "#fb8c00"},
          std::pair{sh[i].idle, "#90a4ae"}}) {
      if (share <= 0)
        continue;
      out += "<rect x=\"" + format("%.1f", bar_x) + "\" y=\""
             + std::to_string(y + node_h - 13) + "\" width=\""
             + format("%.1f", share * bar_w) + "\" height=\"6\" fill=\"" + color
             + "\"/>";
      bar_x += share * bar_w;
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

namespace {

// -- the server ------------------------------------------------------------------

/// The reading that rates are measured against, per pipeline: renewed once
/// it is a second old, so rates cover about the last second.
struct baseline {
  pipeline_stats stats;
  std::chrono::steady_clock::time_point at;
};

class view_state {
public:
  internal::stats_sources pipelines;

  /// The graph of `name` now, or nothing.
  std::optional<std::string> graph(std::string_view name) {
    auto source = pipelines.find(name);
    if (!source)
      return std::nullopt;
    auto now = source();
    auto t = std::chrono::steady_clock::now();
    std::lock_guard guard{mtx_};
    auto& base = baselines_[std::string{name}];
    if (!base || base->stats.stages.size() != now.stages.size()) {
      base = baseline{now, t};
      return to_svg(now, nullptr, 0);
    }
    auto dt = std::chrono::duration<double>(t - base->at).count();
    auto svg = dt >= 0.05 ? to_svg(now, &base->stats, dt)
                          : to_svg(now, nullptr, 0);
    if (dt >= 1.0)
      base = baseline{std::move(now), t};
    return svg;
  }

  void forget(std::string_view name) {
    std::lock_guard guard{mtx_};
    baselines_.erase(std::string{name});
  }

private:
  std::mutex mtx_;
  std::map<std::string, std::optional<baseline>> baselines_;
};

void reply(mg_connection* conn, int status, const char* type,
           const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, status == 200 ? "OK" : "Not Found", type, body.size());
  mg_write(conn, body.data(), body.size());
}

std::string page(const std::string& name, const std::string& svg) {
  auto esc = xml_escape(name);
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
         "<title>actorflow: "
         + esc
         + "</title><style>body{font-family:Helvetica,Arial,sans-serif;"
           "margin:16px;color:#222}#graph svg{max-width:100%;height:auto}"
           ".legend span{display:inline-block;width:10px;height:10px;"
           "margin:0 4px 0 12px}.muted{color:#666}</style></head><body>"
           "<h1>"
         + esc + "</h1><div id=\"graph\">" + svg
         + "</div><p class=\"legend\">time: <span style=\"background:"
           "#e53935\"></span>busy<span style=\"background:#8e24aa\"></span>"
           "waiting<span style=\"background:#fb8c00\"></span>stalled"
           "<span style=\"background:#90a4ae\"></span>idle; red node: the "
           "bottleneck (busy the longest); channels: items in them / "
           "capacity</p><p class=\"muted\">Updates every second: <span "
           "id=\"updates\">0</span> so far.</p><ol id=\"history\" hidden>"
           "</ol>\n<script>\nlet updates = 0;\nasync function tick() {\n"
           "  try {\n    const r = await fetch('/graph/"
         + esc
         + ".svg', {cache: 'no-store'});\n    if (!r.ok) return;\n"
           "    document.getElementById('graph').innerHTML = await "
           "r.text();\n    document.getElementById('updates').textContent = "
           "++updates;\n    const svg = document.querySelector('#graph "
           "svg');\n    const li = document.createElement('li');\n"
           "    li.textContent = svg ? svg.getAttribute('data-items') : '';\n"
           "    document.getElementById('history').appendChild(li);\n"
           "  } catch (e) {}\n}\nsetInterval(tick, 1000);\n</script>\n"
           "</body></html>\n";
}

class handler final : public CivetHandler {
public:
  explicit handler(view_state* st) : st_(st) {
    // nop
  }

  bool handleGet(CivetServer*, mg_connection* conn) override {
    std::string uri = mg_get_request_info(conn)->local_uri;
    auto strip = [&](std::string_view prefix,
                     std::string_view suffix) -> std::optional<std::string> {
      if (uri.size() < prefix.size() + suffix.size()
          || uri.compare(0, prefix.size(), prefix) != 0
          || uri.compare(uri.size() - suffix.size(), suffix.size(), suffix)
               != 0)
        return std::nullopt;
      return uri.substr(prefix.size(),
                        uri.size() - prefix.size() - suffix.size());
    };
    if (uri == "/") {
      std::string body = "<!doctype html>\n<html><head><meta "
                         "charset=\"utf-8\"><title>actorflow</title></head>"
                         "<body><h1>Pipelines</h1><ul>";
      for (auto& [name, source] : st_->pipelines.all())
        body += "<li><a href=\"/view/" + xml_escape(name) + "\">"
                + xml_escape(name) + "</a></li>";
      body += "</ul></body></html>\n";
      reply(conn, 200, "text/html; charset=utf-8", body);
    } else if (auto name = strip("/graph/", ".svg")) {
      if (auto svg = st_->graph(*name))
        reply(conn, 200, "image/svg+xml", *svg);
      else
        reply(conn, 404, "text/plain", "no pipeline " + *name + "\n");
    } else if (auto name = strip("/view/", "")) {
      if (auto svg = st_->graph(*name))
        reply(conn, 200, "text/html; charset=utf-8", page(*name, *svg));
      else
        reply(conn, 404, "text/plain", "no pipeline " + *name + "\n");
    } else {
      reply(conn, 404, "text/plain", "not found\n");
    }
    return true;
  }

private:
  view_state* st_;
};

} // namespace

struct pipeline_view::impl {
  view_state state;
  handler root{&state};
  std::unique_ptr<CivetServer> server;
  std::string address;
  uint16_t port = 0;
};

caf::expected<pipeline_view> pipeline_view::serve(std::string address) {
  auto started = internal::start_listening(
    self_name, address,
    [&] {
      std::vector<std::string> options{"listening_ports", address,
                                       "num_threads", "2"};
      return std::make_unique<CivetServer>(options);
    },
    [](CivetServer& x) { return x.getListeningPorts(); });
  if (!started)
    return started.error();
  auto ptr = std::make_unique<impl>();
  std::tie(ptr->server, ptr->port) = std::move(*started);
  ptr->address = address;
  ptr->server->addHandler("/", &ptr->root);
  return pipeline_view{std::move(ptr)};
}

pipeline_view::pipeline_view(std::unique_ptr<impl> ptr) noexcept
  : impl_(std::move(ptr)) {
  // nop
}

pipeline_view::pipeline_view(pipeline_view&&) noexcept = default;

pipeline_view& pipeline_view::operator=(pipeline_view&&) noexcept = default;

pipeline_view::~pipeline_view() {
  // The server's threads stop before the handler and the state go.
  if (impl_ && impl_->server) {
    internal::listener_nudge nudge{impl_->address, impl_->port};
    impl_->server->close();
  }
}

caf::error pipeline_view::add(std::string name,
                              std::shared_ptr<const pipeline_monitor> monitor) {
  if (auto err = check_name(name))
    return err;
  impl_->state.forget(name);
  return impl_->state.pipelines.set(self_name, std::move(name),
                                    std::move(monitor));
}

caf::error pipeline_view::add(std::string name, stats_source source) {
  if (auto err = check_name(name))
    return err;
  impl_->state.forget(name);
  return impl_->state.pipelines.set(self_name, std::move(name),
                                    std::move(source));
}

bool pipeline_view::remove(std::string_view name) {
  impl_->state.forget(name);
  return impl_->state.pipelines.erase(name);
}

uint16_t pipeline_view::port() const noexcept {
  return impl_->port;
}

std::string pipeline_view::url(std::string_view name) const {
  return internal::http_base(impl_->address, impl_->port) + "/view/"
         + std::string{name};
}

std::string pipeline_view::svg(std::string_view name) const {
  return impl_->state.graph(name).value_or(std::string{});
}

} // namespace actorflow
