// A faulty link between a driver and a node for the chaos test (not a suite
// itself): a TCP proxy on 127.0.0.1 that delays what it forwards and, when
// told, stalls or cuts its connections.
//
// Network namespaces with `tc netem` would be the usual tool, but the kernel
// of the CI machine has no netem qdisc ("Specified qdisc kind is unknown"),
// so the proxy plays the link. TCP hands the peers a byte stream: a proxy
// cannot lose or reorder single packets the way netem does (TCP would
// retransmit and reorder them back, which the peers see as delay). So
// "reordering" here is jitter (a random delay per chunk, order kept), and
// "loss" is what a peer of a lossy link can see: a stall (nothing moves for
// a while; longer than the connection timeout, the peers give up) or a cut
// (the connection is reset).

#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/process_support.hpp"

namespace actorflow_test {

/// How a `link_proxy` delays each chunk it forwards: `base` plus a uniform
/// random share of `jitter`, never overtaking the chunk before it.
struct link_delay {
  std::chrono::microseconds base{0};
  std::chrono::microseconds jitter{0};
};

/// A TCP proxy from a free port on 127.0.0.1 to `127.0.0.1:target`, run by
/// a thread of its own. Every accepted connection gets a connection of its
/// own to the target; bytes go both ways, each chunk delayed as `delay`
/// says. The destructor closes everything and joins the thread.
class link_proxy {
public:
  link_proxy(uint16_t target, link_delay delay, uint64_t seed)
    : target_(target), delay_(delay), rng_(seed) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback_address(0);
    if (listen_ < 0
        || ::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
             != 0
        || ::listen(listen_, 64) != 0 || ::pipe(wake_) != 0)
      throw std::runtime_error("link_proxy: cannot listen on 127.0.0.1");
    socklen_t len = sizeof(addr);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    nonblocking(listen_);
    nonblocking(wake_[0]);
    thread_ = std::thread([this] { loop(); });
  }

  link_proxy(const link_proxy&) = delete;
  link_proxy& operator=(const link_proxy&) = delete;

  ~link_proxy() {
    stop_ = true;
    poke();
    thread_.join();
    for (auto& c : conns_)
      close_both(*c, false);
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  /// The address to give the driver instead of the node's.
  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  /// Resets every open connection now (both sides see the connection
  /// break); later connections go through.
  void cut() {
    ++cuts_;
    poke();
  }

  /// Forwards nothing, either way, for `d` from now (and reads nothing, so
  /// that the peers' sends back up as on a link that lost every packet).
  void stall(std::chrono::milliseconds d) {
    stall_until_ = now_ns() + d.count() * 1'000'000;
    poke();
  }

  /// Connections accepted so far.
  int accepted() const noexcept {
    return accepted_;
  }

private:
  /// Bytes in flight one way, each chunk with the moment it may go.
  struct chunk {
    int64_t due;
    std::string bytes;
    size_t sent = 0;
  };

  struct direction {
    std::deque<chunk> q;
    size_t queued = 0;
    int64_t last_due = 0;
    bool eof = false; // the sender closed its side
  };

  struct conn {
    int down = -1; // the driver's side
    int up = -1;   // the node's side
    direction to_up;
    direction to_down;
  };

  /// Past this much queued one way, the proxy stops reading that way.
  static constexpr size_t max_queued = size_t{4} << 20;

  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }

  static void nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  static void nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }

  void poke() {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }

  /// Closes both sides; `reset` sends an RST instead of a FIN.
  static void close_both(conn& c, bool reset) {
    for (int* fd : {&c.down, &c.up}) {
      if (*fd < 0)
        continue;
      if (reset) {
        linger lg{1, 0};
        ::setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      }
      ::close(*fd);
      *fd = -1;
    }
  }

  void accept_one() {
    auto fd = ::accept(listen_, nullptr, nullptr);
    if (fd < 0)
      return;
    ++accepted_;
    auto c = std::make_unique<conn>();
    c->down = fd;
    c->up = ::socket(AF_INET, SOCK_STREAM, 0);
    auto addr = loopback_address(target_);
    // A blocking connect on the loopback: the kernel answers at once, even
    // for a stopped node; a dead one refuses, and the driver sees its
    // connection close.
    if (c->up < 0
        || ::connect(c->up, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
             != 0) {
      close_both(*c, false);
      return;
    }
    nonblocking(c->down);
    nonblocking(c->up);
    nodelay(c->down);
    nodelay(c->up);
    conns_.push_back(std::move(c));
  }

  /// Reads what `from` has into `d`; false once the connection is broken.
  bool pull(int from, direction& d, int64_t now) {
    char buf[65536];
    auto n = ::read(from, buf, sizeof(buf));
    if (n == 0) {
      d.eof = true;
      return true;
    }
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    int64_t delay = delay_.base.count() * 1000;
    if (delay_.jitter.count() > 0)
      delay += std::uniform_int_distribution<int64_t>{0, delay_.jitter.count()
                                                           * 1000}(rng_);
    auto due = std::max(now + delay, d.last_due);
    d.last_due = due;
    d.queued += static_cast<size_t>(n);
    d.q.push_back({due, std::string(buf, static_cast<size_t>(n))});
    return true;
  }

  /// Writes the due chunks of `d` to `to`; false once the connection is
  /// broken.
  bool push(int to, direction& d, int64_t now) {
    while (!d.q.empty() && d.q.front().due <= now) {
      auto& c = d.q.front();
      auto n = ::send(to, c.bytes.data() + c.sent, c.bytes.size() - c.sent,
                      MSG_NOSIGNAL);
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.sent += static_cast<size_t>(n);
      d.queued -= static_cast<size_t>(n);
      if (c.sent < c.bytes.size())
        return true;
      d.q.pop_front();
    }
    return true;
  }

  void loop() {
    int handled_cuts = 0;
    std::vector<pollfd> fds;
    while (!stop_) {
      auto now = now_ns();
      bool stalled = now < stall_until_.load();
      if (auto n = cuts_.load(); n != handled_cuts) {
        handled_cuts = n;
        for (auto& c : conns_)
          close_both(*c, true);
        conns_.clear();
      }
      // What to wait for, and how long: the next due chunk, or the end of
      // a stall, or 50 ms.
      int64_t next = now + 50'000'000;
      if (stalled)
        next = std::min(next, stall_until_.load());
      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_, POLLIN, 0});
      for (auto& c : conns_) {
        short down = 0;
        short up = 0;
        if (!stalled) {
          if (!c->to_up.eof && c->to_up.queued < max_queued)
            down |= POLLIN;
          if (!c->to_down.eof && c->to_down.queued < max_queued)
            up |= POLLIN;
          for (auto* d : {&c->to_up, &c->to_down}) {
            if (d->q.empty())
              continue;
            if (d->q.front().due <= now)
              (d == &c->to_up ? up : down) |= POLLOUT;
            else
              next = std::min(next, d->q.front().due);
          }
        }
        // While stalled, not even a peer's hang-up is looked at (poll would
        // report it at once, again and again): it goes through afterwards.
        fds.push_back({stalled ? -1 : c->down, down, 0});
        fds.push_back({stalled ? -1 : c->up, up, 0});
      }
      auto wait_ms = std::max<int64_t>(0, (next - now + 999'999) / 1'000'000);
      ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
      if (fds[0].revents & POLLIN) {
        char tmp[64];
        while (::read(wake_[0], tmp, sizeof(tmp)) > 0) {
          // drain
        }
      }
      if (stop_)
        break;
      if (fds[1].revents & POLLIN)
        accept_one();
      now = now_ns();
      stalled = now < stall_until_.load();
      for (size_t i = 0; i + 2 < fds.size() && i / 2 < conns_.size(); i += 2) {
        auto& c = *conns_[i / 2];
        auto& dn = fds[i + 2];
        auto& up = fds[i + 3];
        bool ok = true;
        if (!stalled) {
          if (dn.revents & (POLLIN | POLLHUP | POLLERR))
            ok = pull(c.down, c.to_up, now) && ok;
          if (up.revents & (POLLIN | POLLHUP | POLLERR))
            ok = pull(c.up, c.to_down, now) && ok;
          ok = ok && push(c.up, c.to_up, now) && push(c.down, c.to_down, now);
        }
        // A side that closed ends the connection once its last bytes went
        // through (CAF never half-closes).
        bool done = (c.to_up.eof && c.to_up.q.empty())
                    || (c.to_down.eof && c.to_down.q.empty());
        if (!ok || done)
          close_both(c, !ok);
      }
      std::erase_if(conns_,
                    [](const std::unique_ptr<conn>& c) { return c->down < 0; });
    }
  }

  uint16_t target_;
  link_delay delay_;
  std::mt19937_64 rng_;
  int listen_ = -1;
  uint16_t port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> cuts_{0};
  std::atomic<int64_t> stall_until_{0};
  std::atomic<int> accepted_{0};
  std::vector<std::unique_ptr<conn>> conns_;
  std::thread thread_;
};

} // namespace actorflow_test
