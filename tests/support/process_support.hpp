// Child processes for the multi-process tests (not a suite itself).

#pragma once

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace actorflow_test {

/// A child process started with posix_spawn, whose stdout the test reads
/// line by line (bounded waits). The destructor kills it (SIGKILL, by PID)
/// and reaps it, so no test leaves a process behind.
class child_process {
public:
  explicit child_process(std::vector<std::string> args) {
    int fds[2];
    if (::pipe(fds) != 0)
      throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_ = fds[0];
    if (rc != 0) {
      ::close(out_);
      throw std::runtime_error("posix_spawn failed: " + args[0]);
    }
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  ~child_process() {
    kill(SIGKILL);
    wait();
    if (out_ >= 0)
      ::close(out_);
  }

  pid_t pid() const noexcept {
    return pid_;
  }

  void kill(int sig) {
    if (pid_ > 0 && !reaped_)
      ::kill(pid_, sig);
  }

  /// Reaps the child (blocks until it exited).
  void wait() {
    if (pid_ > 0 && !reaped_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      status_ = status;
    }
  }

  int status() const noexcept {
    return status_;
  }

  /// Reads one line of the child's stdout, or nothing after `limit`.
  std::optional<std::string> read_line(std::chrono::milliseconds limit
                                       = std::chrono::milliseconds{5000}) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto pos = buf_.find('\n'); pos != std::string::npos) {
        auto line = buf_.substr(0, pos);
        buf_.erase(0, pos + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char tmp[512];
      auto n = ::read(out_, tmp, sizeof(tmp));
      if (n <= 0)
        return std::nullopt; // the child closed stdout (exited)
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  /// Reads lines until one starts with `prefix`; returns the rest of it.
  std::optional<std::string> expect(const std::string& prefix,
                                    std::chrono::milliseconds limit
                                    = std::chrono::milliseconds{5000}) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      auto line = read_line(left);
      if (!line)
        return std::nullopt;
      if (line->rfind(prefix, 0) == 0)
        return line->substr(prefix.size());
    }
    return std::nullopt;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string buf_;
};

/// Bytes per MiB, for bounds on VmRSS.
inline constexpr long long mib = 1024 * 1024;

/// The resident set of process `pid` in bytes (VmRSS), or -1.
inline long long rss_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6)) * 1024;
  return -1;
}

/// Calls `f(target)` with the target of every file descriptor process `pid`
/// has open (e.g. "socket:[4242]"); false if its /proc entry is gone.
template <class F>
bool for_each_fd(pid_t pid, F f) {
  auto dir = "/proc/" + std::to_string(pid) + "/fd";
  auto* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return false;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.')
      continue;
    char target[256] = {};
    auto path = dir + "/" + e->d_name;
    auto n = ::readlink(path.c_str(), target, sizeof(target) - 1);
    f(std::string_view{target, n > 0 ? static_cast<size_t>(n) : 0});
  }
  ::closedir(d);
  return true;
}

/// How many file descriptors process `pid` has open, or -1.
inline long long fd_count(pid_t pid) {
  long long result = 0;
  return for_each_fd(pid, [&](std::string_view) { ++result; }) ? result : -1;
}

/// How many of the TCP connections from `client_ports` (on 127.0.0.1)
/// process `pid` holds an open socket of: its fds that are sockets, matched
/// by inode against its /proc/net/tcp. Exact where a difference of fd
/// counts is not (an unrelated fd of the process may open or close
/// meanwhile).
inline size_t sockets_from(pid_t pid, const std::set<uint16_t>& client_ports) {
  std::set<unsigned long> inodes;
  for_each_fd(pid, [&](std::string_view target) {
    unsigned long inode = 0;
    if (std::sscanf(std::string{target}.c_str(), "socket:[%lu]", &inode) == 1)
      inodes.insert(inode);
  });
  std::ifstream tcp{"/proc/" + std::to_string(pid) + "/net/tcp"};
  std::string line;
  std::getline(tcp, line); // header
  size_t held = 0;
  while (std::getline(tcp, line)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    unsigned rem_port = 0;
    unsigned long inode = 0;
    if (std::sscanf(line.c_str(),
                    " %*d: %*x:%*x %*x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu",
                    &rem_port, &inode)
          == 2
        && inodes.count(inode) != 0
        && client_ports.count(static_cast<uint16_t>(rem_port)) != 0)
      ++held;
  }
  return held;
}

/// The address 127.0.0.1:`port` (0: any free port, for a bind).
inline sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

} // namespace actorflow_test
