// This file is part of actorflow. See README.md for the project's license.
//
// l1_latency/tbb.cpp: L1 through a oneTBB flow graph.

#include <tbb/flow_graph.h>

#include "l1_latency/l1.hpp"

namespace bench {

std::vector<int64_t> run_tbb_graph(double rate, int64_t n) {
  using namespace tbb::flow;
  l1_sink sink{n};
  graph g;
  function_node<l1_item, l1_item> first(g, serial, l1_first);
  function_node<l1_item, l1_item> second(g, 2, l1_second);
  sequencer_node<l1_item> order(g, [](const l1_item& x) { return x.seq; });
  function_node<l1_item, continue_msg> last(g, serial, [&](const l1_item& x) {
    sink(x);
    return continue_msg{};
  });
  make_edge(first, second);
  make_edge(second, order);
  make_edge(order, last);
  std::thread source{[&] {
    feed(rate, n, [&](l1_item x) { first.try_put(x); });
  }};
  source.join();
  g.wait_for_all();
  return sink.take("tbb flow graph");
}

} // namespace bench
