// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/tbb.cpp: the oneTBB variants of W1: (g) parallel_pipeline of
// four serial_in_order filters and (i) a flow graph of serial nodes.

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/parallel_pipeline.h>

#include "tbb_source.hpp"
#include "w1_pipeline/w1.hpp"

namespace bench {

double run_tbb(const w1_options& opt, int n) {
  using tbb::filter_mode;
  auto t0 = clock_type::now();
  int next = 0;
  uint64_t sum = 0;
  tbb::parallel_pipeline(
    opt.tbb_tokens,
    tbb::make_filter<void, int>(filter_mode::serial_in_order,
                                tbb_counter(next, n))
      & tbb::make_filter<int, int>(filter_mode::serial_in_order,
                                   [](int x) { return x + 1; })
      & tbb::make_filter<int, int>(filter_mode::serial_in_order,
                                   [](int x) { return x * 2; })
      & tbb::make_filter<int, void>(filter_mode::serial_in_order, [&](int x) {
          sum += static_cast<uint64_t>(x);
        }));
  auto dt = seconds_since(t0);
  verify('g', n, sum);
  return dt;
}

/// input_node -> function_node(x+1) -> function_node(x*2) -> function_node
/// (sum), every node serial; the first stage rejects while busy, so the input
/// node only produces what the graph takes (no unbounded buffering upstream).
double run_tbb_flow_graph(int n) {
  namespace flow = tbb::flow;
  auto t0 = clock_type::now();
  flow::graph g;
  int next = 0;
  uint64_t sum = 0;
  flow::input_node<int> src{g, tbb_counter(next, n)};
  flow::function_node<int, int, flow::rejecting> add_one{g, flow::serial,
                                                         [](int x) {
                                                           return x + 1;
                                                         }};
  flow::function_node<int, int> times_two{g, flow::serial, [](int x) {
                                            return x * 2;
                                          }};
  flow::function_node<int, flow::continue_msg> sink{
    g, flow::serial, [&](int x) {
      sum += static_cast<uint64_t>(x);
      return flow::continue_msg{};
    }};
  flow::make_edge(src, add_one);
  flow::make_edge(add_one, times_two);
  flow::make_edge(times_two, sink);
  src.activate();
  g.wait_for_all();
  auto dt = seconds_since(t0);
  verify('i', n, sum);
  return dt;
}

} // namespace bench
