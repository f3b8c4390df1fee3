// A process that looks like a node to a driver but never answers a spawn
// request: it publishes an actor on 127.0.0.1 (a free port), prints
// "PORT <n>", and prints "SPAWN" when a spawn request arrives. The test
// then kills it, so the node is gone while the driver waits for the answer.
//
//   mute_node

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/all.hpp"
#include "peers/test_stages.hpp"

int main() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(60);
  auto reg = std::make_shared<actorflow::stage_registry>();
  test_stages::register_stages(*reg);
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  actorflow::distribution_options dopts;
  dopts.heartbeat = std::chrono::milliseconds{100};
  dopts.connection_timeout = std::chrono::milliseconds{2000};
  actorflow::init_distribution(cfg, dopts);
  reg->apply(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto mute = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    // Skipped messages stay in the mailbox unanswered.
    self->set_default_handler([](caf::scheduled_actor*, caf::message_view&) {
      std::printf("SPAWN\n");
      std::fflush(stdout);
      return caf::result<caf::message>{caf::skip};
    });
    // A behavior, so that the actor lives; it matches nothing a driver sends.
    return {
      [](int8_t) {},
    };
  });
  auto port = sys.middleman().publish(mute, 0, "127.0.0.1");
  if (!port) {
    std::fprintf(stderr, "mute_node: %s\n", sys.render(port.error()).c_str());
    return EXIT_FAILURE;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  sigset_t all;
  sigfillset(&all);
  int sig = 0;
  sigwait(&all, &sig);
  std::_Exit(EXIT_SUCCESS);
}
