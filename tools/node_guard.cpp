// The node program's guard on its plain TCP connections (see the header).

#include "node_guard.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/scribe_impl.hpp>

namespace actorflow_node {

namespace {

namespace net = caf::io::network;

using clock_type = std::chrono::steady_clock;

// Where install_guard leaves the limits for the backend, which CAF constructs
// with nothing but the actor system.
constexpr const char* max_message_key = "actorflow-node.max-message-bytes";
constexpr const char* max_pending_key = "actorflow-node.max-pending-bytes";
constexpr const char* greeting_key = "actorflow-node.greeting-timeout";

guard_limits limits_of(const caf::actor_system_config& cfg) {
  guard_limits result;
  result.max_message = static_cast<size_t>(caf::get_or(
    cfg, max_message_key, static_cast<int64_t>(result.max_message)));
  result.max_pending = static_cast<size_t>(caf::get_or(
    cfg, max_pending_key, static_cast<int64_t>(result.max_pending)));
  result.greeting_timeout
    = std::chrono::duration_cast<std::chrono::milliseconds>(
      caf::get_or(cfg, greeting_key, caf::timespan{result.greeting_timeout}));
  return result;
}

class guarded_scribe;

/// The guard's accounting, shared by the backend and its connections.
class guard_state {
public:
  explicit guard_state(guard_limits limits) : limits_(limits) {
    // nop
  }

  const guard_limits& limits() const noexcept {
    return limits_;
  }

  /// Takes `n` bytes of the budget for large payloads, if they are left.
  bool reserve(size_t n) {
    auto cur = pending_.load();
    do {
      if (n > limits_.max_pending - cur)
        return false;
    } while (!pending_.compare_exchange_weak(cur, cur + n));
    return true;
  }

  void release(size_t n) {
    pending_ -= n;
  }

  /// The inbound connections that sent no complete message header yet. Not
  /// owned: a connection leaves when it sends one or ends. Inbound
  /// connections are made, used and released in the backend's loop only,
  /// like the sweep, so none of them ends while the sweep runs.
  std::unordered_set<guarded_scribe*>& greeting() noexcept {
    return greeting_;
  }

  /// Says on stderr that a connection was closed, at most once a second:
  /// how often this happens is up to the peers.
  void report(const std::string& what) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto now = clock_type::now();
    if (reported_ && now - last_report_ < std::chrono::seconds{1}) {
      ++unreported_;
      return;
    }
    if (unreported_ > 0)
      std::fprintf(stderr,
                   "actorflow_node: closed %zu connection(s) of peers since "
                   "the last report\n",
                   unreported_);
    std::fprintf(stderr, "actorflow_node: %s\n", what.c_str());
    reported_ = true;
    last_report_ = now;
    unreported_ = 0;
  }

private:
  guard_limits limits_;
  std::atomic<size_t> pending_{0};
  std::unordered_set<guarded_scribe*> greeting_;
  std::mutex mtx_;
  bool reported_ = false;
  clock_type::time_point last_report_;
  size_t unreported_ = 0;
};

/// A connection of CAF's backend whose read requests are checked.
class guarded_scribe : public net::scribe_impl {
public:
  guarded_scribe(net::default_multiplexer& mpx, net::native_socket fd,
                 std::shared_ptr<guard_state> state, bool inbound)
    : net::scribe_impl(mpx, fd),
      state_(std::move(state)),
      deadline_(clock_type::now() + state_->limits().greeting_timeout),
      peer_(addr() + ":" + std::to_string(port())),
      watched_(inbound) {
    if (watched_)
      state_->greeting().insert(this);
  }

  ~guarded_scribe() override {
    unwatch();
    state_->release(held_);
  }

  /// CAF's BASP broker asks for the next header or for a payload of the
  /// size its header announced: a payload over the limits is never read.
  void configure_read(caf::io::receive_policy::config x) override {
    state_->release(std::exchange(held_, 0));
    auto n = x.second;
    if (n > guard_limits::large_read && refusal_.empty()) {
      auto& lim = state_->limits();
      if (n > lim.max_message)
        refusal_ = "a message of " + std::to_string(n)
                   + " bytes, over --max-message-bytes="
                   + std::to_string(lim.max_message);
      else if (!state_->reserve(n))
        refusal_ = "a message of " + std::to_string(n)
                   + " bytes while others fill --max-pending-bytes="
                   + std::to_string(lim.max_pending);
      else
        held_ = n;
    }
    // Nothing is allocated for a refused payload: the connection closes as
    // soon as the broker's handler that asked for it returns (`consume`).
    if (!refusal_.empty())
      x = caf::io::receive_policy::exactly(1);
    net::scribe_impl::configure_read(x);
  }

  bool consume(caf::execution_unit* ctx, const void* buf,
               size_t num_bytes) override {
    greeted_ = true;
    unwatch();
    auto result = net::scribe_impl::consume(ctx, buf, num_bytes);
    if (!refusal_.empty()) {
      state_->report("closed the connection of " + peer_ + ": it announced "
                     + refusal_);
      // The path of a failed read: the broker drops the connection's state.
      io_failure(ctx, net::operation::read);
      return false;
    }
    // A large buffer is not kept between messages: only reads in progress
    // hold memory beyond `large_read`, and those are counted.
    if (held_ == 0 && rd_buf().capacity() > guard_limits::large_read)
      std::vector<char>{}.swap(rd_buf());
    return result;
  }

  /// Whether the peer missed its deadline for its first header.
  bool late(clock_type::time_point now) const noexcept {
    return !greeted_ && now >= deadline_;
  }

  /// Leaves the connections that the sweep watches (if among them).
  void unwatch() {
    if (std::exchange(watched_, false))
      state_->greeting().erase(this);
  }

  /// The peer's address (taken at the start: a reset peer has none later).
  const std::string& peer() const noexcept {
    return peer_;
  }

private:
  std::shared_ptr<guard_state> state_;
  clock_type::time_point deadline_;
  std::string peer_;
  bool watched_;
  bool greeted_ = false;
  size_t held_ = 0;
  std::string refusal_;
};

/// CAF's default network backend whose TCP connections are guarded.
class guarded_multiplexer : public net::default_multiplexer {
public:
  explicit guarded_multiplexer(caf::actor_system* sys)
    : net::default_multiplexer(sys),
      state_(std::make_shared<guard_state>(limits_of(sys->config()))) {
    // nop
  }

  const guard_limits& limits() const noexcept {
    return state_->limits();
  }

  /// Called by CAF's acceptor for each inbound connection.
  caf::io::scribe_ptr new_scribe(net::native_socket fd) override {
    return make_scribe(fd, true);
  }

  caf::expected<caf::io::scribe_ptr> new_tcp_scribe(const std::string& host,
                                                    uint16_t port) override {
    auto fd = net::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    return make_scribe(*fd, false);
  }

  /// Closes the inbound connections past their greeting deadline (runs in
  /// the backend's loop, like all of CAF's socket handling).
  void sweep() {
    auto now = clock_type::now();
    std::vector<caf::intrusive_ptr<guarded_scribe>> late;
    for (auto x : state_->greeting())
      if (x->late(now))
        late.emplace_back(x);
    for (auto& x : late) {
      x->unwatch();
      state_->report(
        "closed the connection of " + x->peer() + ": no message header within "
        + std::to_string(limits().greeting_timeout.count()) + " ms");
      x->io_failure(this, net::operation::read);
    }
  }

private:
  caf::intrusive_ptr<guarded_scribe> make_scribe(net::native_socket fd,
                                                 bool inbound) {
    net::keepalive(fd, true); // as CAF's backend does
    return caf::make_counted<guarded_scribe>(*this, fd, state_, inbound);
  }

  std::shared_ptr<guard_state> state_;
};

} // namespace

void install_guard(caf::actor_system_config& cfg, const guard_limits& limits) {
  caf::put(cfg.content, max_message_key,
           static_cast<int64_t>(limits.max_message));
  caf::put(cfg.content, max_pending_key,
           static_cast<int64_t>(limits.max_pending));
  caf::put(cfg.content, greeting_key, caf::timespan{limits.greeting_timeout});
  // Replaces the middleman loaded before (the last module of a kind wins).
  cfg.load<caf::io::middleman, guarded_multiplexer>();
}

void start_guard(caf::actor_system& sys) {
  auto mpx = dynamic_cast<guarded_multiplexer*>(&sys.middleman().backend());
  if (mpx == nullptr || mpx->limits().greeting_timeout.count() <= 0)
    return;
  // A late connection lives at most a quarter of its timeout longer.
  auto every = std::max(mpx->limits().greeting_timeout / 4,
                        std::chrono::milliseconds{10});
  sys.spawn<caf::hidden>([mpx, every](caf::event_based_actor* self) {
    self->delayed_send(self, every, caf::tick_atom_v);
    return caf::behavior{[=](caf::tick_atom) {
      mpx->post([mpx] { mpx->sweep(); });
      self->delayed_send(self, every, caf::tick_atom_v);
    }};
  });
}

} // namespace actorflow_node
