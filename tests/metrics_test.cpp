// The Prometheus exporter (actorflow/metrics_exporter.hpp): a real HTTP
// client (curl) scrapes it while a pipeline runs, and every figure it serves
// equals what `stats()` says; the counters move as items pass; bad input
// gets clear errors.
//
// "While it runs" means: the pipeline's source is a channel the test feeds,
// and each check waits (bounded) until every stage has seen the items fed so
// far, so the figures are still while the test compares them.

#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "actorflow/metrics_exporter.hpp"
#include "support/test_support.hpp"

using actorflow::error_code;
using actorflow::metrics_exporter;
using actorflow::pipeline_stats;
using actorflow_test::eventually;
using actorflow_test::system_fixture;
namespace utf = boost::unit_test;

namespace {

/// One sample of the text format: `name{k="v",...} value`.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// Parses Prometheus' text format (the subset prometheus-cpp writes: no
/// escapes in our label values, no timestamps).
std::vector<sample> parse(const std::string& text) {
  std::vector<sample> result;
  size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    if (eol == std::string::npos)
      eol = text.size();
    auto line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#')
      continue;
    sample s;
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    BOOST_REQUIRE_MESSAGE(space != std::string::npos, "bad line: " << line);
    if (brace != std::string::npos && brace < space) {
      s.name = line.substr(0, brace);
      auto close = line.find('}', brace);
      BOOST_REQUIRE_MESSAGE(close != std::string::npos, "bad line: " << line);
      auto body = line.substr(brace + 1, close - brace - 1);
      size_t p = 0;
      while (p < body.size()) {
        auto eq = body.find('=', p);
        auto q1 = body.find('"', eq);
        auto q2 = body.find('"', q1 + 1);
        BOOST_REQUIRE_MESSAGE(eq != std::string::npos
                                && q2 != std::string::npos,
                              "bad labels: " << line);
        s.labels[body.substr(p, eq - p)] = body.substr(q1 + 1, q2 - q1 - 1);
        p = q2 + 1;
        if (p < body.size() && body[p] == ',')
          ++p;
      }
    } else {
      s.name = line.substr(0, space);
    }
    s.value = std::stod(line.substr(space + 1));
    result.push_back(std::move(s));
  }
  return result;
}

/// The value of the one sample named `name` with (at least) `labels`; the
/// test case stops if there is none or more than one.
double value(const std::vector<sample>& xs, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  const sample* found = nullptr;
  for (auto& s : xs) {
    if (s.name != name)
      continue;
    bool match = true;
    for (auto& [k, v] : labels) {
      auto i = s.labels.find(k);
      match = match && i != s.labels.end() && i->second == v;
    }
    if (!match)
      continue;
    BOOST_REQUIRE_MESSAGE(found == nullptr, "two samples match " << name);
    found = &s;
  }
  BOOST_REQUIRE_MESSAGE(found != nullptr, "no sample " << name);
  return found->value;
}

/// A run of a pipeline ending in a sink must succeed.
void require_ok(caf::expected<caf::unit_t> res) {
  if (!res)
    BOOST_FAIL(
      "the pipeline failed: " << actorflow::to_string_any(res.error()));
}

/// GETs `url` with curl, the HTTP client Prometheus users reach for.
std::string curl(const std::string& url) {
  auto cmd = "curl -sS --fail --max-time 5 '" + url + "' 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe{popen(cmd.c_str(), "r"), pclose};
  BOOST_REQUIRE_MESSAGE(pipe != nullptr, "cannot run curl");
  std::string out;
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof(buf), pipe.get()))
    out.append(buf, n);
  auto rc = pclose(pipe.release());
  BOOST_REQUIRE_MESSAGE(rc == 0,
                        "curl " << url << " failed (" << rc
                                << "; tools/deps.sh installs curl): " << out);
  return out;
}

/// Checks every stage's and channel's figures in `xs` against `st`.
void check_against(const std::vector<sample>& xs, const pipeline_stats& st,
                   const std::string& pipeline) {
  for (auto& s : st.stages) {
    BOOST_TEST_CONTEXT("stage " << s.name) {
      std::map<std::string, std::string> ls{{"pipeline", pipeline},
                                            {"stage", s.name}};
      auto with = [&](std::string k, std::string v) {
        auto copy = ls;
        copy[std::move(k)] = std::move(v);
        return copy;
      };
      BOOST_TEST(
        value(xs, "actorflow_stage_items_total", with("direction", "in"))
        == static_cast<double>(s.items_in));
      BOOST_TEST(
        value(xs, "actorflow_stage_items_total", with("direction", "out"))
        == static_cast<double>(s.items_out));
      BOOST_TEST(
        value(xs, "actorflow_stage_failures_total", with("action", "retry"))
        == static_cast<double>(s.retried));
      BOOST_TEST(
        value(xs, "actorflow_stage_failures_total", with("action", "skip"))
        == static_cast<double>(s.skipped));
      BOOST_TEST(value(xs, "actorflow_stage_latency_seconds_count", ls)
                 == static_cast<double>(s.latency.count()));
      BOOST_TEST(
        value(xs, "actorflow_stage_latency_seconds_bucket", with("le", "+Inf"))
        == static_cast<double>(s.latency.count()));
      double states = 0;
      for (auto x : {"starting", "busy", "stalled", "idle", "waiting", "done"})
        states += value(xs, "actorflow_stage_state", with("state", x));
      BOOST_TEST(states == 1.0);
    }
  }
  for (auto& e : st.edges) {
    auto end = [&](size_t i) {
      return i == actorflow::edge_stats::outside ? std::string{"outside"}
                                                 : st.stages[i].name;
    };
    std::map<std::string, std::string> ls{
      {"pipeline", pipeline}, {"from", end(e.from)}, {"to", end(e.to)}};
    BOOST_TEST_CONTEXT("channel " << end(e.from) << " -> " << end(e.to)) {
      BOOST_TEST(value(xs, "actorflow_channel_items_total", ls)
                 == static_cast<double>(e.items));
      BOOST_TEST(value(xs, "actorflow_channel_capacity", ls)
                 == static_cast<double>(e.capacity));
      BOOST_TEST(value(xs, "actorflow_channel_max_in_flight", ls)
                 == static_cast<double>(e.max_in_flight));
    }
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(metrics)

//! Contract: while a pipeline runs, a scrape with curl returns, for every
//! stage and channel, exactly the figures of `stats()`; the item counters
//! and the failure counters move as items pass; after the run every stage
//! is "done" and the figures are final.
BOOST_FIXTURE_TEST_CASE(scrape_matches_stats_while_running, system_fixture,
                        *utf::label("metrics")) {
  auto exporter = metrics_exporter::serve("127.0.0.1:0");
  BOOST_REQUIRE_MESSAGE(exporter,
                        (exporter ? "" : to_string(exporter.error())));
  BOOST_TEST(exporter->port() != 0u);
  auto ch = actorflow::channel<int>(sys, 32);
  BOOST_TEST_REQUIRE(static_cast<bool>(ch));
  auto [tx, rx] = std::move(*ch);
  // Every 100th item fails twice: one retry, then skipped.
  auto run = actorflow::from(std::move(rx))
               .then(
                 [](int x) {
                   if (x % 100 == 0)
                     throw std::runtime_error("no multiples of 100");
                   return x * 2;
                 },
                 {.on_error = actorflow::error_policy::retry(1).or_skip()})
               .for_each([](int) {})
               .start(sys);
  BOOST_TEST(!exporter->add("demo", run));
  auto feed = [&tx = tx](int first, int last) {
    for (int i = first; i < last; ++i)
      BOOST_REQUIRE(tx.blocking_send(i));
  };
  auto settled = [&](uint64_t sent, uint64_t kept) {
    return eventually([&] {
      auto st = run.stats();
      auto src = st.find("from#1");
      auto then = st.find("then#2");
      auto sink = st.find("sink#3");
      return src && then && sink && src->items_out == sent
             && then->items_in == sent && then->items_out == kept
             && sink->items_in == kept;
    });
  };
  feed(1, 501); // 5 multiples of 100
  BOOST_REQUIRE_MESSAGE(settled(500, 495), to_string(run.stats()));
  auto st1 = run.stats();
  auto xs1 = parse(curl(exporter->url()));
  check_against(xs1, st1, "demo");
  BOOST_TEST(value(xs1, "actorflow_stage_failures_total",
                   {{"stage", "then#2"}, {"action", "retry"}})
             == 5.0);
  BOOST_TEST(value(xs1, "actorflow_stage_failures_total",
                   {{"stage", "then#2"}, {"action", "skip"}})
             == 5.0);
  feed(501, 1001);
  BOOST_REQUIRE_MESSAGE(settled(1000, 990), to_string(run.stats()));
  auto st2 = run.stats();
  auto xs2 = parse(curl(exporter->url()));
  check_against(xs2, st2, "demo");
  BOOST_TEST(value(xs2, "actorflow_stage_items_total",
                   {{"stage", "sink#3"}, {"direction", "in"}})
             == 990.0);
  BOOST_TEST(value(xs2, "actorflow_channel_items_total",
                   {{"from", "then#2"}, {"to", "sink#3"}})
             == 990.0);
  // Time only grows.
  for (auto state : {"busy", "stalled", "idle", "waiting"})
    BOOST_TEST(value(xs2, "actorflow_stage_seconds_total",
                     {{"stage", "then#2"}, {"state", state}})
               >= value(xs1, "actorflow_stage_seconds_total",
                        {{"stage", "then#2"}, {"state", state}}));
  tx.close();
  require_ok(run.wait());
  auto st3 = run.stats();
  auto xs3 = parse(exporter->scrape());
  check_against(xs3, st3, "demo");
  for (auto& s : st3.stages)
    BOOST_TEST(value(xs3, "actorflow_stage_state",
                     {{"stage", s.name}, {"state", "done"}})
               == 1.0);
  BOOST_TEST(
    value(xs3, "actorflow_pipeline_items_lost_total", {{"pipeline", "demo"}})
    == 0.0);
  // The same failure counts in stats() and its graph.
  BOOST_TEST(st3.find("then#2")->retried == 10u);
  BOOST_TEST(st3.find("then#2")->skipped == 10u);
  BOOST_TEST(st3.find("then#2")->failed == 0u);
  BOOST_TEST(actorflow_test::contains(
    st3.to_dot(), "failed calls: retried 10, skipped 10, failed 0"));
}

//! Contract: one exporter serves several pipelines, each under its own
//! `pipeline` label, keeps serving a run's final figures after its handle is
//! gone, and forgets a removed one.
BOOST_FIXTURE_TEST_CASE(several_pipelines_and_remove, system_fixture,
                        *utf::label("metrics")) {
  auto exporter = metrics_exporter::serve("127.0.0.1:0");
  BOOST_REQUIRE_MESSAGE(exporter,
                        (exporter ? "" : to_string(exporter.error())));
  {
    auto a = actorflow::iota(0, 300)
               .then([](int x) { return x + 1; })
               .for_each([](int) {})
               .start(sys);
    auto b = actorflow::iota(0, 700)
               .filter([](int x) { return x % 7 == 0; })
               .for_each([](int) {})
               .start(sys);
    BOOST_TEST(!exporter->add("a", a));
    BOOST_TEST(!exporter->add("b", b));
    require_ok(a.wait());
    require_ok(b.wait());
  }
  auto xs = parse(curl(exporter->url()));
  BOOST_TEST(
    value(xs, "actorflow_stage_items_total",
          {{"pipeline", "a"}, {"stage", "then#2"}, {"direction", "out"}})
    == 300.0);
  BOOST_TEST(
    value(xs, "actorflow_stage_items_total",
          {{"pipeline", "b"}, {"stage", "filter#2"}, {"direction", "out"}})
    == 100.0);
  BOOST_TEST(exporter->remove("a"));
  BOOST_TEST(!exporter->remove("a"));
  auto text = curl(exporter->url());
  BOOST_TEST(!actorflow_test::contains(text, "pipeline=\"a\""));
  BOOST_TEST(actorflow_test::contains(text, "pipeline=\"b\""));
}

//! Contract: bad input gets a clear error: a malformed address, a port out of
//! range, an address in use, a pipeline without a name or a run.
BOOST_FIXTURE_TEST_CASE(bad_input_gets_clear_errors, system_fixture,
                        *utf::label("metrics")) {
  auto code = [](const caf::error& err) {
    return static_cast<error_code>(err.code());
  };
  for (auto bad :
       {"9464", ":9464", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"}) {
    auto res = metrics_exporter::serve(bad);
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST_REQUIRE(!res);
      BOOST_TEST(code(res.error()) == error_code::invalid_argument);
    }
  }
  auto first = metrics_exporter::serve("127.0.0.1:0");
  BOOST_REQUIRE_MESSAGE(first, (first ? "" : to_string(first.error())));
  auto taken = "127.0.0.1:" + std::to_string(first->port());
  auto second = metrics_exporter::serve(taken);
  BOOST_TEST_REQUIRE(!second);
  BOOST_TEST(code(second.error()) == error_code::listen_failed);
  BOOST_TEST(actorflow_test::contains(to_string(second.error()), taken));
  auto run = actorflow::iota(0, 10).for_each([](int) {}).start(sys);
  require_ok(run.wait());
  BOOST_TEST(code(first->add("", run)) == error_code::invalid_argument);
  BOOST_TEST(
    code(first->add("x", std::shared_ptr<const actorflow::pipeline_monitor>{}))
    == error_code::invalid_argument);
  BOOST_TEST(code(first->add("x", metrics_exporter::stats_source{}))
             == error_code::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
