// What a driver needs to place stages: placements from a file
// (read_placements: what a file places, every kind of bad file as a clear
// error naming the file and the section, a pipeline placed by a file on a
// node process) and the nodes query (describe_node and `actorflow_node
// --describe`: a node's stages, item types and running workers, and clear
// errors for what is not a node).

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "support/remote_support.hpp"

using namespace actorflow_test;
using actorflow::error_code;

namespace {

/// `where` as "where*workers" entries, for readable comparisons.
std::vector<std::string> entries(const actorflow::placement& where) {
  std::vector<std::string> result;
  for (auto& w : where)
    result.push_back(w.where + "*" + std::to_string(w.workers));
  return result;
}

/// The error message of parsing `text`, or "accepted".
std::string parse_error(const std::string& text) {
  auto places = actorflow::parse_placements(text, "test.ini");
  if (places)
    return "accepted";
  BOOST_TEST((code_of(places.error()) == error_code::invalid_argument));
  return actorflow::what(places.error());
}

/// A file under the system's temporary directory, removed when destroyed.
struct temp_file {
  std::string path;

  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/actorflow-placement-XXXXXX";
    auto fd = ::mkstemp(name);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream out{path};
    out << text;
  }

  ~temp_file() {
    std::remove(path.c_str());
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(placement_file)

//! Contract: a file places each of its sections' stage on its nodes, with
//! one count of workers for all nodes, one per node, or 1 by default; a
//! section name with dots is the stage name with dots; "local" is a node.
BOOST_AUTO_TEST_CASE(places_each_section_on_its_nodes) {
  auto places = actorflow::parse_placements(R"(
; comment
[square]
nodes = ["10.0.0.5:4242", "10.0.0.6:4242", "local"]
workers = [4, 3, 1]

[halve]
nodes = ["127.0.0.1:1", "[::1]:2"]
workers = 2

[wordfreq.count]
nodes = "node-a.example:4242"
)",
                                            "test.ini");
  BOOST_REQUIRE_MESSAGE(places, error_text(places));
  BOOST_TEST(places->source() == "test.ini");
  BOOST_TEST(places->stages().size() == 3u);
  auto square = places->at("square");
  BOOST_REQUIRE_MESSAGE(square, error_text(square));
  BOOST_TEST((entries(*square)
              == std::vector<std::string>{"10.0.0.5:4242*4", "10.0.0.6:4242*3",
                                          "local*1"}));
  auto halve = places->at("halve");
  BOOST_REQUIRE_MESSAGE(halve, error_text(halve));
  BOOST_TEST((entries(*halve)
              == std::vector<std::string>{"127.0.0.1:1*2", "[::1]:2*2"}));
  auto count = places->at("wordfreq.count");
  BOOST_REQUIRE_MESSAGE(count, error_text(count));
  BOOST_TEST(
    (entries(*count) == std::vector<std::string>{"node-a.example:4242*1"}));
}

//! Contract: asking for a stage the file does not place is an
//! invalid_argument error that names the file and the stages it places.
BOOST_AUTO_TEST_CASE(an_unplaced_stage_names_what_the_file_places) {
  auto places = actorflow::parse_placements(
    "[square]\nnodes = [\"local\"]\n[halve]\nnodes = [\"local\"]\n", "p.ini");
  BOOST_REQUIRE_MESSAGE(places, error_text(places));
  auto where = places->at("cube");
  BOOST_REQUIRE(!where);
  BOOST_TEST((code_of(where.error()) == error_code::invalid_argument));
  BOOST_TEST(actorflow::what(where.error())
             == "'p.ini' places no stage 'cube' (it places: halve, square)");
}

//! Contract: every kind of bad file is an invalid_argument error that names
//! the file, the section and what is wrong; nothing of it is accepted.
BOOST_AUTO_TEST_CASE(a_bad_file_is_a_clear_error) {
  struct bad_case {
    std::string text;
    std::string message;
  };
  std::vector<bad_case> cases{
    {"[square]\nnodes = [10.0.0.5:4242]\n",
     "placement file 'test.ini': syntax error"},
    {"nodes = [\"local\"]\n[square]\nnodes = [\"local\"]\n",
     "placement file 'test.ini': 'nodes' is outside of a section (each stage "
     "is a [section])"},
    {"[square]\nnodes = [\"local\"]\nworker = 4\n",
     "placement file 'test.ini' [square]: unknown key 'worker' (expected "
     "nodes and workers)"},
    {"[square]\nworkers = 4\n",
     "placement file 'test.ini' [square]: names no nodes"},
    {"[square]\n", "placement file 'test.ini' [square]: names no nodes"},
    {"[square]\nnodes = []\n",
     "placement file 'test.ini' [square]: nodes is empty"},
    {"[square]\nnodes = [\"10.0.0.5\"]\n",
     "placement file 'test.ini' [square]: bad node address '10.0.0.5' "
     "(expected host:port or local)"},
    {"[square]\nnodes = [\"10.0.0.5:99999\"]\n",
     "placement file 'test.ini' [square]: bad node address '10.0.0.5:99999' "
     "(expected host:port or local)"},
    {"[square]\nnodes = [4242]\n",
     "placement file 'test.ini' [square]: nodes must be quoted strings "
     "(\"host:port\" or \"local\"), got 4242"},
    {"[square]\nnodes = 4242\n",
     "placement file 'test.ini' [square]: nodes must be a list of quoted "
     "strings, got 4242"},
    {"[square]\nnodes = [\"local\"]\nworkers = 0\n",
     "placement file 'test.ini' [square]: workers must be positive, got 0"},
    {"[square]\nnodes = [\"local\"]\nworkers = -2\n",
     "placement file 'test.ini' [square]: workers must be positive, got -2"},
    {"[square]\nnodes = [\"local\"]\nworkers = \"4\"\n",
     "placement file 'test.ini' [square]: workers must be a number or a list "
     "of numbers, got \"4\""},
    {"[square]\nnodes = [\"local\", \"local\"]\nworkers = [1, 2, 3]\n",
     "placement file 'test.ini' [square]: workers lists 3 numbers for 2 "
     "nodes (give one number for all, or one per node)"},
    {"[wordfreq.count]\nworkers = 1\n",
     "placement file 'test.ini' [wordfreq.count]: names no nodes"},
    {"; nothing\n",
     "placement file 'test.ini': places no stage (expected a [section] with "
     "nodes for each stage)"},
    {"", "placement file 'test.ini': places no stage (expected a [section] "
         "with nodes for each stage)"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("file: " << c.text) {
      auto msg = parse_error(c.text);
      BOOST_TEST(msg.substr(0, c.message.size()) == c.message);
    }
  }
  // A syntax error says where it is (CAF's reader notices "4x" once it
  // reads the line's end, so it names the next line).
  auto msg = parse_error("[square]\nnodes = [\"local\"]\nworkers = 4x\n");
  BOOST_TEST(msg.find(" at line 4, column 1") != std::string::npos, msg);
}

//! Contract: a file that cannot be read is an invalid_argument error naming
//! it, and read_placements reads a file as parse_placements reads its text.
BOOST_AUTO_TEST_CASE(reads_a_file_and_names_a_missing_one) {
  auto missing = actorflow::read_placements("/nonexistent/placement.ini");
  BOOST_REQUIRE(!missing);
  BOOST_TEST((code_of(missing.error()) == error_code::invalid_argument));
  BOOST_TEST(actorflow::what(missing.error())
             == "placement file '/nonexistent/placement.ini': cannot be read");
  temp_file file{"[square]\nnodes = [\"local\"]\nworkers = 2\n"};
  auto places = actorflow::read_placements(file.path);
  BOOST_REQUIRE_MESSAGE(places, error_text(places));
  BOOST_TEST(places->source() == file.path);
  auto where = places->at("square");
  BOOST_REQUIRE_MESSAGE(where, error_text(where));
  BOOST_TEST((entries(*where) == std::vector<std::string>{"local*2"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(placement_run, driver_fixture)

//! Contract: a pipeline whose remote stage is placed by a file (a node
//! process and a local worker) equals the local run.
BOOST_AUTO_TEST_CASE(a_file_places_a_running_pipeline) {
  test_node node;
  temp_file file{"[square]\nnodes = [\"" + node.address
                 + "\", \"local\"]\nworkers = [2, 1]\n"};
  auto places = actorflow::read_placements(file.path);
  BOOST_REQUIRE_MESSAGE(places, error_text(places));
  auto where = places->at("square");
  BOOST_REQUIRE_MESSAGE(where, error_text(where));
  constexpr int32_t n = 5'000;
  auto result = actorflow::iota(int32_t{0}, n)
                  .compose(actorflow::remote_parallel_then<int64_t>(
                    *where, "square", opts()))
                  .collect()
                  .run(sys);
  BOOST_REQUIRE_MESSAGE(result, error_text(result));
  BOOST_TEST((*result == squares(n)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(nodes_query, driver_fixture)

//! Contract: describe_node lists every stage a node hosts with the names
//! of its item types (those the node registered), and how many workers it
//! runs for drivers: 0 when idle, 2 while a pipeline runs 2 workers there.
BOOST_AUTO_TEST_CASE(describe_node_lists_stages_types_and_workers) {
  test_node node;
  auto idle = actorflow::describe_node(sys, node.address);
  BOOST_REQUIRE_MESSAGE(idle, error_text(idle));
  BOOST_TEST(idle->address == node.address);
  BOOST_TEST(idle->running_workers == 0u);
  // The node runs the same plugin as this driver's registry.
  std::vector<std::string> want;
  for (auto& name : reg->names()) {
    auto entry = reg->find(name);
    want.push_back(name + ": "
                   + actorflow::detail::find_item_type(entry->in)->name + " -> "
                   + actorflow::detail::find_item_type(entry->out)->name);
  }
  std::vector<std::string> got;
  for (auto& st : idle->stages)
    got.push_back(st.name + ": " + st.in + " -> " + st.out);
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(got.size() >= 2u);
  // Two workers of a running pipeline.
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto run = actorflow::remote_parallel_then<int64_t>(
               actorflow::iota(int32_t{0}), {{node.address, 2}},
               "sleepy_square", opts())
               .for_each([seen](int64_t) { ++*seen; })
               .start(sys);
  BOOST_REQUIRE(eventually([&] { return seen->load() >= 4; }));
  auto busy = actorflow::describe_node(sys, node.address);
  BOOST_REQUIRE_MESSAGE(busy, error_text(busy));
  BOOST_TEST(busy->running_workers == 2u);
  run.cancel();
  BOOST_TEST(!run.wait());
}

//! Contract: asking what is not a node is a clear error, never a hang: a
//! bad address (invalid_argument), a port where nothing listens
//! (connect_failed), a peer that never answers (timeout).
BOOST_AUTO_TEST_CASE(describe_node_errors) {
  auto bad = actorflow::describe_node(sys, "127.0.0.1");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(code_of(bad.error()) == error_code::invalid_argument);
  refused_port refused;
  auto none = actorflow::describe_node(sys, refused.address());
  BOOST_REQUIRE(!none);
  BOOST_TEST(code_of(none.error()) == error_code::connect_failed,
             actorflow::to_string_any(none.error()));
  silent_listener silent;
  auto t0 = std::chrono::steady_clock::now();
  auto mute
    = actorflow::describe_node(sys, "127.0.0.1:" + std::to_string(silent.port),
                               std::chrono::milliseconds{500});
  BOOST_REQUIRE(!mute);
  BOOST_TEST(code_of(mute.error()) == error_code::timeout,
             actorflow::to_string_any(mute.error()));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds{5}));
}

//! Contract: `actorflow_node --describe=A,B` prints each node's workers and
//! stages, and exits with a failure when a node does not answer.
BOOST_AUTO_TEST_CASE(the_node_program_describes_nodes) {
  test_node node;
  child_process ok{{ACTORFLOW_TEST_NODE, "--describe=" + node.address}};
  auto head = ok.read_line();
  BOOST_REQUIRE(head);
  BOOST_TEST(*head == node.address + ": 0 workers running");
  auto first = ok.read_line();
  BOOST_REQUIRE(first);
  auto entry = reg->find(reg->names().front());
  BOOST_TEST(*first
             == "  " + reg->names().front() + ": "
                  + actorflow::detail::find_item_type(entry->in)->name + " -> "
                  + actorflow::detail::find_item_type(entry->out)->name);
  ok.wait();
  BOOST_TEST(WIFEXITED(ok.status()));
  BOOST_TEST(WEXITSTATUS(ok.status()) == 0);
  refused_port refused;
  child_process failed{{ACTORFLOW_TEST_NODE, "--describe=" + node.address + ","
                                               + refused.address()}};
  BOOST_TEST(failed.expect(node.address + ": ").has_value());
  failed.wait();
  BOOST_TEST(WIFEXITED(failed.status()));
  BOOST_TEST(WEXITSTATUS(failed.status()) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
