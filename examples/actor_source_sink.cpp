// Existing CAF actors at both ends of a pipeline.
//
//   archive (actor) --from_actor--+
//                                  +-> merge -> filter -> then(parse)
//   feed (actor)    --from_actor--+      -> to_actor(ledger (actor))
//
// - archive: an ordinary CAF actor holding order lines. It answers the
//   pipeline's pulls `(demand_atom, n)` with at most n lines, and with an
//   empty vector once it has none left (the end of its stream).
// - feed: an actor whose lines arrive over time (here: messages from main,
//   as from a socket). actor_source_queue keeps the pipeline's pending pull
//   as a response promise and answers it when a line comes in.
// - ledger: an ordinary CAF actor that receives the parsed orders in
//   batches `(batch_atom, std::vector<order>)`; its (empty) reply lets the
//   next batch go, so at most `window` batches wait in its mailbox. It also
//   gets the pipeline's outcome through `running::notify` and prints the
//   totals.
//
// Neither actor knows about channels or stages: both protocols are plain
// request/response. The pipeline asks for at most `credit` lines at a time,
// so a fast producer never floods it, and a slow ledger is never flooded.
//
// Output: the totals per item, in item order (deterministic).
//
// Usage: actor_source_sink [CAF options]

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/behavior.hpp>
#include <caf/exit_reason.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actorflow/all.hpp"

#include "example_support.hpp"

namespace {

// -- the item type between the stages ----------------------------------------

struct order {
  std::string item;
  int32_t quantity = 0;
};

// Items in CAF 0.17 messages need an inspect overload.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order& x) {
  return f(caf::meta::type_name("example_order"), x.item, x.quantity);
}

using close_atom = caf::atom_constant<caf::atom("close")>;

// -- archive: answers pulls from what it holds ---------------------------------

caf::behavior archive(caf::event_based_actor*) {
  auto lines = std::make_shared<std::vector<std::string>>(
    std::vector<std::string>{"apples 3", "pears 5", "# stocktaking", "plums 2",
                             "apples 4", "pears 1", "figs 7", "apples 10"});
  auto next = std::make_shared<size_t>(0);
  return {
    [lines, next](actorflow::demand_atom, uint32_t n) {
      std::vector<std::string> out;
      while (out.size() < n && *next < lines->size())
        out.push_back((*lines)[(*next)++]);
      return out; // empty once everything went out: the end
    },
  };
}

// -- feed: lines arrive over time ----------------------------------------------

struct feed_state {
  actorflow::actor_source_queue<std::string> queue;
};

caf::behavior feed(caf::stateful_actor<feed_state>* self) {
  self->state.queue.attach(self);
  return {
    [self](actorflow::demand_atom, uint32_t n) {
      return self->state.queue.pull(n); // lines now, or a promise
    },
    [self](std::string& line) { self->state.queue.push(std::move(line)); },
    [self](close_atom) { self->state.queue.close(); },
  };
}

// -- ledger: receives the orders, prints the totals at the end -----------------

struct ledger_state {
  std::map<std::string, int32_t> totals;
  size_t orders = 0;
};

caf::behavior ledger(caf::stateful_actor<ledger_state>* self) {
  return {
    [self](actorflow::batch_atom, std::vector<order>& batch) {
      for (auto& o : batch) {
        self->state.totals[o.item] += o.quantity;
        ++self->state.orders;
      }
      // Returning nothing acknowledges the batch.
    },
    [self](actorflow::done_atom, caf::unit_t) {
      std::cout << "ledger: " << self->state.orders << " orders\n";
      for (auto& [item, total] : self->state.totals)
        std::cout << "  " << item << ": " << total << '\n';
      self->quit();
    },
    [self](actorflow::done_atom, caf::error& err) {
      std::cout << "ledger: the pipeline failed: "
                << actorflow::to_string_any(err) << '\n';
      self->quit(err);
    },
  };
}

// "apples 3" -> {apples, 3}
order parse(const std::string& line) {
  std::istringstream in{line};
  order o;
  if (!(in >> o.item >> o.quantity))
    throw std::runtime_error("not an order: " + line);
  return o;
}

} // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  if (auto rc = example::configure(cfg, argc, argv, "actor_source_sink"))
    return *rc;
  caf::actor_system sys{cfg};
  auto a = sys.spawn(archive);
  auto f = sys.spawn(feed);
  auto l = sys.spawn(ledger);
  // Small credit and window: items move in small steps, and still all
  // arrive.
  actorflow::actor_source_options src;
  src.credit = 4;
  actorflow::actor_sink_options snk;
  snk.batch = 3;
  snk.window = 2;
  auto run = actorflow::merge(actorflow::from_actor<std::string>(a, src),
                              actorflow::from_actor<std::string>(f, src))
               .filter([](const std::string& line) { return line[0] != '#'; })
               .then(parse)
               .to_actor(l, snk)
               .start(sys);
  run.notify(l); // the ledger learns the outcome: (done_atom, unit or error)
  // Lines for the feed, as if they came from a socket.
  for (auto line : {"plums 1", "figs 2", "kiwis 9"})
    caf::anon_send(f, std::string{line});
  caf::anon_send(f, close_atom::value);
  // Wait for the ledger to print and quit.
  caf::scoped_actor self{sys};
  self->monitor(l);
  int rc = EXIT_SUCCESS;
  self->receive([&](const caf::down_msg& dm) {
    if (dm.reason)
      rc = EXIT_FAILURE;
  });
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  return rc;
}
