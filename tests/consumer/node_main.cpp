// A downstream driver against an *installed* node (see run.cmake): starts
// the installed actorflow_node with the installed example plugin on
// 127.0.0.1 and a free port, runs a distributed pipeline through it and
// checks every result, then kills the node by PID.
//
//   node_consumer <path of actorflow_node> <path of libexample_stages.so>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"

namespace {

/// The node process; killed when this goes out of scope.
struct node_process {
  pid_t pid = -1;
  int out = -1;

  node_process(const std::string& node, const std::string& plugin) {
    int fds[2];
    if (::pipe(fds) != 0)
      return;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string plugins = "--plugins=" + plugin;
      ::execl(node.c_str(), node.c_str(), plugins.c_str(), "--port=0",
              "--host=127.0.0.1", "--exit-with-parent",
              "--scheduler.max-threads=2", static_cast<char*>(nullptr));
      std::perror("exec actorflow_node");
      ::_exit(127);
    }
    ::close(fds[1]);
    out = fds[0];
  }

  ~node_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0)
      ::close(out);
  }

  /// The port from the node's "PORT <n>" line, or an empty string if it
  /// does not say within 20 s.
  std::string port() {
    std::string line;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      char c = 0;
      if (::read(out, &c, 1) != 1)
        return {};
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.rfind("PORT ", 0) == 0)
        return line.substr(5);
      line.clear();
    }
    return {};
  }
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: node_consumer NODE PLUGIN\n";
    return 2;
  }
  node_process node{argv[1], argv[2]};
  auto port = node.port();
  if (port.empty()) {
    std::cerr << "FAILED: the installed node did not report its port\n";
    return 1;
  }
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  if (auto err = actorflow::init_distribution(cfg)) {
    std::cerr << "FAILED: " << actorflow::to_string_any(err) << '\n';
    return 1;
  }
  // The item types of the example plugin, under its names.
  actorflow::add_item_type<int32_t>(cfg, "int32");
  actorflow::add_item_type<int64_t>(cfg, "int64");
  caf::actor_system sys{cfg};
  auto result = actorflow::remote_parallel_then<int64_t>(
                  actorflow::iota(int32_t{0}, int32_t{1000}),
                  {{"127.0.0.1:" + port, 2}}, "square")
                  .collect()
                  .run(sys);
  if (!result) {
    std::cerr << "FAILED: " << actorflow::to_string_any(result.error()) << '\n';
    return 1;
  }
  for (int32_t i = 0; i < 1000; ++i)
    if (result->size() != 1000 || (*result)[i] != int64_t{i} * i) {
      std::cerr << "FAILED: wrong result at " << i << '\n';
      return 1;
    }
  std::cout << "consumer node ok: 1000 items through the installed node\n";
  return 0;
}
