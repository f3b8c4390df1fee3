// The live page (actorflow/pipeline_view.hpp): headless Chromium loads it
// while a pipeline runs and must see the graph update, with moving numbers;
// the SVG names every stage; bad input gets clear errors.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "actorflow/pipeline_view.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using actorflow::error_code;
using actorflow::pipeline_view;
using actorflow_test::contains;
using actorflow_test::system_fixture;
namespace utf = boost::unit_test;

namespace {

/// Runs `cmd` with a shell and returns its stdout; `rc` gets its status.
std::string shell(const std::string& cmd, int& rc) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe{popen(cmd.c_str(), "r"), pclose};
  BOOST_REQUIRE_MESSAGE(pipe != nullptr, "cannot run " << cmd);
  std::string out;
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof(buf), pipe.get()))
    out.append(buf, n);
  rc = pclose(pipe.release());
  return out;
}

/// The numbers of the page's update history (`<ol id="history">`).
std::vector<long long> history(const std::string& dom) {
  std::vector<long long> result;
  auto pos = dom.find("id=\"history\"");
  auto end = dom.find("</ol>", pos);
  const std::string open = "<li>";
  while (pos != std::string::npos) {
    pos = dom.find(open, pos);
    if (pos == std::string::npos || pos > end)
      break;
    pos += open.size();
    auto stop = dom.find("</li>", pos);
    if (stop == std::string::npos)
      break;
    result.push_back(std::stoll(dom.substr(pos, stop - pos)));
    pos = stop;
  }
  return result;
}

/// A pipeline that moves steadily until cancelled (about 20 us per item at
/// the sink). Its channels are small, so that the sink reports what it took
/// every few items: the browser's updates follow each other in virtual
/// time, a few milliseconds apart for real.
auto steady(caf::actor_system& sys) {
  return actorflow::iota(0, 1'000'000'000)
    .then([](int x) { return x + 1; })
    .for_each([](int) { actorflow_test::spin_for(20us); })
    .start(sys, actorflow::run_options{.capacity = 16});
}

} // namespace

BOOST_AUTO_TEST_SUITE(pipeline_view_suite, *utf::label("view"))

//! Contract: headless Chromium loads the page of a running pipeline, the
//! page's script replaces the graph at least twice, and the items that left
//! the pipeline grow from one update to the next; the graph shows every
//! stage and names the bottleneck.
BOOST_FIXTURE_TEST_CASE(page_updates_in_a_real_browser, system_fixture) {
  auto view = pipeline_view::serve("127.0.0.1:0");
  BOOST_REQUIRE_MESSAGE(view, (view ? "" : to_string(view.error())));
  auto run = steady(sys);
  BOOST_TEST(!view->add("demo", run));
  // Let items reach the sink before the browser looks.
  BOOST_REQUIRE(actorflow_test::eventually([&] {
    auto st = run.stats();
    auto sink = st.find("sink#3");
    return sink != nullptr && sink->items_in > 0;
  }));
  auto profile = std::string{"/tmp/actorflow-view-test-"}
                 + std::to_string(::getpid());
  // Virtual time runs the page's timer (1 s) four times without waiting for
  // it; each update fetches the graph from the server for real.
  auto cmd = "timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu "
             "--disable-dev-shm-usage --user-data-dir="
             + profile + " --virtual-time-budget=4500 --dump-dom '"
             + view->url("demo") + "' 2>/dev/null";
  int rc = 0;
  auto dom = shell(cmd, rc);
  std::system(("rm -rf " + profile).c_str());
  run.cancel();
  (void)run.wait();
  BOOST_REQUIRE_MESSAGE(
    rc == 0, "chromium failed (" << rc << "; tools/deps.sh installs chromium)");
  BOOST_TEST_CONTEXT(dom) {
    auto xs = history(dom);
    BOOST_TEST_REQUIRE(xs.size() >= 2u);
    BOOST_TEST(xs.back() > xs.front());
    for (auto name : {"iota#1", "then#2", "sink#3"})
      BOOST_TEST(contains(dom, std::string{"data-name=\""} + name + "\""));
    BOOST_TEST(contains(dom, "bottleneck: sink#3"));
  }
}

//! Contract: the graph of a finished run shows every stage of a scatter
//! stage in its own column, with final counts; an unknown pipeline gets a
//! 404; bad input gets clear errors.
BOOST_FIXTURE_TEST_CASE(graph_and_bad_input, system_fixture) {
  auto view = pipeline_view::serve("127.0.0.1:0");
  BOOST_REQUIRE_MESSAGE(view, (view ? "" : to_string(view.error())));
  auto run = actorflow::iota(0, 1000)
               .parallel_then(2, [](int x) { return x * 2; })
               .for_each([](int) {})
               .start(sys);
  BOOST_TEST(!view->add("p", run));
  BOOST_TEST(static_cast<bool>(run.wait()));
  auto svg = view->svg("p");
  BOOST_TEST_CONTEXT(svg) {
    BOOST_TEST(svg.rfind("<svg ", 0) == 0u);
    BOOST_TEST(contains(svg, "data-items=\"1000\""));
    for (auto& s : run.stats().stages)
      BOOST_TEST(contains(svg, "data-name=\"" + s.name + "\""), s.name);
  }
  int rc = 0;
  auto base = view->url("p");
  auto body = shell("curl -sS --fail --max-time 5 '"
                      + base.substr(0, base.find("/view/")) + "/graph/p.svg'",
                    rc);
  BOOST_TEST(rc == 0);
  BOOST_TEST(contains(body, "data-name=\"sink#3\""));
  shell("curl -s --fail --max-time 5 '" + base + "x' >/dev/null", rc);
  BOOST_TEST(rc != 0); // 404
  BOOST_TEST(view->svg("nope").empty());
  auto code = [](const caf::error& err) {
    return static_cast<error_code>(err.code());
  };
  BOOST_TEST(code(view->add("a b", run)) == error_code::invalid_argument);
  BOOST_TEST(code(view->add("", run)) == error_code::invalid_argument);
  BOOST_TEST(view->remove("p"));
  BOOST_TEST(view->svg("p").empty());
  auto bad = pipeline_view::serve("localhost");
  BOOST_TEST_REQUIRE(!bad);
  BOOST_TEST(code(bad.error()) == error_code::invalid_argument);
  auto taken
    = pipeline_view::serve("127.0.0.1:" + std::to_string(view->port()));
  BOOST_TEST_REQUIRE(!taken);
  BOOST_TEST(code(taken.error()) == error_code::listen_failed);
}

BOOST_AUTO_TEST_SUITE_END()
