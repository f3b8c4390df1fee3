// This file is part of actorflow. See README.md for the project's license.
//
// l1_latency/caf_actors.cpp: L1 through plain CAF 0.17 actors, one message
// per item and no flow control (what a user writes without a library).

#include <future>
#include <map>

#include "l1_latency/l1.hpp"

namespace bench {

namespace {

/// Restores the order of the workers' results and hands them to the sink.
caf::behavior gather(caf::event_based_actor* self, caf::actor sink) {
  auto held = std::make_shared<std::map<uint64_t, l1_item>>();
  auto next = std::make_shared<uint64_t>(0);
  return {
    [=](l1_item x) {
      if (x.seq != *next) {
        held->emplace(x.seq, x);
        return;
      }
      self->send(sink, x);
      ++*next;
      for (auto i = held->begin(); i != held->end() && i->first == *next;
           i = held->erase(i)) {
        self->send(sink, i->second);
        ++*next;
      }
    },
  };
}

} // namespace

std::vector<int64_t> run_caf_actors(caf::actor_system& sys, double rate,
                                    int64_t n) {
  l1_sink sink{n};
  std::promise<void> finished;
  auto sink_actor = sys.spawn([&](caf::event_based_actor*) -> caf::behavior {
    return {
      [&](l1_item x) {
        sink(x);
        if (sink.done())
          finished.set_value();
      },
    };
  });
  auto gather_actor = sys.spawn(gather, sink_actor);
  auto work = [](caf::event_based_actor* self,
                 caf::actor next) -> caf::behavior {
    return {
      [=](l1_item x) { self->send(next, l1_second(x)); },
    };
  };
  auto w1 = sys.spawn(work, gather_actor);
  auto w2 = sys.spawn(work, gather_actor);
  auto first = sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
    auto turn = std::make_shared<bool>(false);
    return {
      [=](l1_item x) {
        *turn = !*turn;
        self->send(*turn ? w1 : w2, l1_first(x));
      },
    };
  });
  std::thread source{[&] {
    feed(rate, n, [&](l1_item x) { caf::anon_send(first, x); });
  }};
  source.join();
  finished.get_future().wait();
  for (auto& a : {first, w1, w2, gather_actor, sink_actor})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return sink.take("caf actors");
}

} // namespace bench
