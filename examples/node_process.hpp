// What the distributed examples share: starting this program again as a
// node process on 127.0.0.1 and stopping it.
//
//   auto [pid, address] = example::start_self({"--node"});
//   ...
//   example::stop(pid);

#pragma once

#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace example {

/// Starts this program with `args` and waits for the first line of its
/// stdout, "PORT <n>" (a node prints it once it listens). Returns its pid
/// and "127.0.0.1:<n>", or a pid of -1 if it did not start or said
/// something else (then it is killed).
inline std::pair<pid_t, std::string> start_self(std::vector<std::string> args) {
  int fds[2];
  if (::pipe(fds) != 0)
    return {-1, ""};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::string exe = "/proc/self/exe";
  args.insert(args.begin(), exe);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  auto rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(),
                          environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return {-1, ""};
  }
  std::string line;
  char c = 0;
  while (::read(fds[0], &c, 1) == 1 && c != '\n')
    line += c;
  ::close(fds[0]);
  if (line.rfind("PORT ", 0) != 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return {-1, ""};
  }
  return {pid, "127.0.0.1:" + line.substr(5)};
}

/// Kills (SIGKILL, by pid) and reaps a process from `start_self`; a no-op
/// for -1.
inline void stop(pid_t pid) {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

} // namespace example
