// A stream stage that asks an existing CAF actor.
//
//   iota(1, 11) -> then(ask tripler) -> for_each(print)
//
// `tripler` is a plain CAF actor, spawned outside actorflow, that answers
// every int x with x * 3. The stage function is a coroutine returning
// task<int>: it co_awaits actorflow::ask, which sends the request and
// suspends the stage (its actor keeps handling other messages; no scheduler
// thread blocks) until the reply or the timeout arrives. An error reply or
// a timeout becomes an exception, which ends the pipeline with an error that
// names the stage and the item.
//
// Output: 3, 6, ..., 30 (one per line), then the same request of an actor
// that is gone, which fails: "error (expected): worker 'then#2' threw: item
// 0: ...".
//
// Usage: ask_actor_stream [CAF options]

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/behavior.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

namespace {

// An ordinary CAF actor: replies x * 3.
caf::behavior tripler() {
  return {[](int x) {
    return x * 3;
  }};
}

} // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc, argv, "ask_actor_stream"))
    return *rc;
  caf::actor_system sys{cfg};
  auto actor = sys.spawn(tripler);
  // The stage function. Capturing `actor` by value is fine: the DSL keeps
  // the function object alive inside the stage for the whole run.
  auto ask_tripler = [actor](int x) -> actorflow::task<int> {
    auto reply = co_await actorflow::ask<int>(actor, std::chrono::seconds(5),
                                              x);
    if (!reply)
      throw std::runtime_error("tripler did not answer: "
                               + actorflow::to_string_any(reply.error()));
    co_return *reply;
  };
  auto res = actorflow::iota(1, 11)
               .then(ask_tripler)
               .for_each([](int y) { std::cout << y << '\n'; })
               .run(sys);
  if (!res) {
    std::cerr << "error: " << actorflow::to_string_any(res.error()) << '\n';
    return EXIT_FAILURE;
  }
  // Now the actor is gone: the first ask fails, and so does the pipeline.
  {
    caf::scoped_actor self{sys};
    self->monitor(actor);
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
  }
  auto failed = actorflow::iota(1, 11)
                  .then(ask_tripler)
                  .for_each([](int y) { std::cout << y << '\n'; })
                  .run(sys);
  if (failed) {
    std::cerr << "error: asking a dead actor succeeded\n";
    return EXIT_FAILURE;
  }
  // Only the stable part of the message: the stage and the item.
  auto what = actorflow::what(failed.error());
  std::cout << "error (expected): "
            << what.substr(0, what.find(": tripler did not answer"))
            << ": tripler did not answer\n";
  return EXIT_SUCCESS;
}
