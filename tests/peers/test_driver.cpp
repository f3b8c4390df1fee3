// A driver process for remote_failure_test: runs a long pipeline with
// workers on the node given as its argument, prints "RUNNING" once items
// flow, and waits to be killed (the test checks that the node cleans up).
//
//   test_driver 127.0.0.1:<port> [stage]   (default stage: slow_square)

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/all.hpp"
#include "peers/test_stages.hpp"

int main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(60);
  if (argc < 2) {
    std::fprintf(stderr, "usage: test_driver host:port [stage]\n");
    return EXIT_FAILURE;
  }
  std::string where = argv[1];
  std::string stage = argc > 2 ? argv[2] : "slow_square";
  auto reg = std::make_shared<actorflow::stage_registry>();
  test_stages::register_stages(*reg);
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  actorflow::init_distribution(cfg);
  reg->apply(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  bool told = false;
  auto r = actorflow::remote_parallel_then<int64_t>(actorflow::iota(int32_t{0}),
                                                    {{where, 2}}, stage)
             .for_each([&](int64_t) {
               if (!told) {
                 told = true;
                 std::printf("RUNNING\n");
                 std::fflush(stdout);
               }
             })
             .run(sys);
  // Only reached if the pipeline fails.
  std::printf("FAILED %s\n",
              r ? "no error" : actorflow::to_string_any(r.error()).c_str());
  std::fflush(stdout);
  std::_Exit(EXIT_FAILURE);
}
