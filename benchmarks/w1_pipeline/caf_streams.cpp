// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/caf_streams.cpp: W1 on CAF 0.17's built-in streams, (h):
// attach_stream_source, two attach_stream_stage actors and
// attach_stream_sink, composed with `snk * st2 * st1 * src` (CAF's own
// batching and credit).

#include "w1_pipeline/w1.hpp"

namespace bench {

namespace {

using w1_done_atom = caf::atom_constant<caf::atom("w1_done")>;

/// Source actor: on (open_atom, n) streams 0..n-1 to the next actor of the
/// pipeline (attach_stream_source).
caf::behavior caf_stream_source(caf::event_based_actor* self) {
  return {
    [self](caf::open_atom, int n) {
      return caf::attach_stream_source(
        self, [](int& i) { i = 0; },
        [n](int& i, caf::downstream<int>& out, size_t hint) {
          auto end = std::min<int64_t>(n,
                                       int64_t{i} + static_cast<int64_t>(hint));
          for (; i < end; ++i)
            out.push(i);
        },
        [n](const int& i) { return i == n; });
    },
  };
}

/// Stage actor applying `f` to every item (attach_stream_stage).
template <class F>
caf::behavior caf_stream_stage(caf::event_based_actor* self, F f) {
  return {
    [self, f](caf::stream<int> in) {
      return caf::attach_stream_stage(
        self, in, [](caf::unit_t&) {},
        [f](caf::unit_t&, caf::downstream<int>& out, int x) { out.push(f(x)); },
        [](caf::unit_t&, const caf::error&) {});
    },
  };
}

/// Sink actor summing the items; sends (w1_done, sum) to `reply` at the end.
caf::behavior caf_stream_sink(caf::event_based_actor* self, caf::actor reply) {
  return {
    [self, reply](caf::stream<int> in) {
      return caf::attach_stream_sink(
        self, in, [](uint64_t& acc) { acc = 0; },
        [](uint64_t& acc, int x) { acc += static_cast<uint64_t>(x); },
        [reply](uint64_t& acc, const caf::error&) {
          caf::anon_send(reply, w1_done_atom::value, acc);
        });
    },
  };
}

} // namespace

double run_caf_streams(caf::actor_system& sys, int n) {
  caf::scoped_actor self{sys};
  auto t0 = clock_type::now();
  auto snk = sys.spawn(caf_stream_sink, caf::actor{self});
  auto st2 = sys.spawn(
    caf_stream_stage<int (*)(int)>, +[](int x) { return x * 2; });
  auto st1 = sys.spawn(
    caf_stream_stage<int (*)(int)>, +[](int x) { return x + 1; });
  auto src = sys.spawn(caf_stream_source);
  auto pipeline = snk * st2 * st1 * src;
  self->send(pipeline, caf::open_atom::value, n);
  uint64_t sum = 0;
  bool done = false;
  self->receive(
    [&](w1_done_atom, uint64_t acc) {
      sum = acc;
      done = true;
    },
    caf::after(std::chrono::seconds{300}) >> [] {});
  auto dt = seconds_since(t0);
  for (auto& a : {snk, st2, st1, src})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  if (!done)
    die("variant h: the CAF stream did not finish within 300 s");
  verify('h', n, sum);
  return dt;
}

} // namespace bench
