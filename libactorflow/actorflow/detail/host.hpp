// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>

#include "actorflow/clock.hpp"
#include "actorflow/detail/endpoint_id.hpp"
#include "actorflow/detail/export.hpp"
#include "actorflow/detail/stage_probe.hpp"

namespace actorflow::detail {

/// The host-side part of a channel end. A host actor routes every protocol
/// message that names the endpoint's id to `handle` and calls `flush` at the
/// end of the activation in which the endpoint marked itself dirty.
class ACTORFLOW_EXPORT endpoint {
public:
  explicit endpoint(endpoint_id id) noexcept : id_(id) {
    // nop
  }

  virtual ~endpoint();

  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  endpoint_id id() const noexcept {
    return id_;
  }

  /// Handles a protocol message (see atoms.hpp) addressed to this endpoint.
  virtual void handle(caf::type_erased_tuple& msg) = 0;

  /// Sends what accumulated during the activation (items, credit, demand).
  virtual void flush() = 0;

  /// Set by the host while the endpoint is on its dirty list.
  bool dirty = false;

private:
  endpoint_id id_;
};

/// Thrown into a coroutine whose host was asked to stop, at its next `recv`
/// or `send`: the worker then ends as if its exit message had killed it.
class ACTORFLOW_EXPORT stopped : public std::exception {
public:
  ~stopped() override;

  const char* what() const noexcept override;
};

/// Throws `stopped`.
[[noreturn]] ACTORFLOW_EXPORT void throw_stopped();

/// Throws `stopped` if the current host was asked to stop: for a loop that
/// calls user code before its next `recv` or `send`.
ACTORFLOW_EXPORT void throw_if_stopped();

/// An event-based actor that hosts endpoints and the coroutines that await
/// them. Items arrive in batches; the coroutines run until they suspend, and
/// what they produced leaves in one message per endpoint at the end of the
/// activation. That is how actorflow batches without adding latency.
class ACTORFLOW_EXPORT host : public caf::event_based_actor {
public:
  explicit host(caf::actor_config& cfg);

  ~host() override;

  /// The host whose activation runs on this thread, or nullptr.
  static host* current() noexcept;

  /// Sees an exit message (cancel, a failing pipeline, a linked actor) the
  /// moment it is enqueued, not when the mailbox gets to it: a stage busy
  /// with its buffered input checks `stop_requested` between two items, so
  /// it stops after the call it is in instead of working through its input.
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;

  /// True once an exit message other than `exit_reason::normal` was sent to
  /// this host. Safe from any thread; endpoints check it per item.
  bool stop_requested() const noexcept {
    return stop_.load(std::memory_order_relaxed);
  }

  /// The flag behind `stop_requested`, for loops that test it per item.
  const std::atomic<bool>& stop_flag() const noexcept {
    return stop_;
  }

  void add_endpoint(endpoint* ep);

  void remove_endpoint(endpoint* ep) noexcept;

  void mark_dirty(endpoint* ep);

  /// Resumes `h` later in this activation.
  void make_ready(std::coroutine_handle<> h);

  /// Measure how long coroutines run per activation (see `last_run_ns`).
  void time_runs() noexcept {
    start_probe_calibration();
    timed_ = true;
  }

  /// How long the coroutines ran in the current activation (0 unless
  /// `time_runs` was called). Valid while endpoints flush.
  uint64_t last_run_ns() const noexcept {
    return last_run_ns_;
  }

  /// The host waits for one more close acknowledgement before it quits.
  void expect_close_ack() noexcept {
    ++pending_acks_;
  }

  /// Resumes `h` now, from a callback that CAF runs inside this actor (for
  /// example a response handler), then settles the activation.
  void resume_from_callback(std::coroutine_handle<> h);

  /// Resumes `h` when the actor `whom` is down; stores the exit reason in
  /// `*reason` first unless `reason` is null.
  void resume_on_down(const caf::actor_addr& whom, std::coroutine_handle<> h,
                      caf::error* reason = nullptr);

  /// Calls `f` with the exit reason when the actor `whom` is down (monitors
  /// it). `f` runs inside this actor; the activation settles afterwards, so
  /// `f` may call `make_ready`. For awaitables that wait on a peer actor as
  /// well as on something else (e.g. a response that may never come).
  void when_down(const caf::actor_addr& whom,
                 std::function<void(const caf::error&)> f);

  caf::behavior make_behavior() override;

  const char* name() const override;

  // -- graceful leave (a node that drains, see drain_node) --------------------

  /// Calls `f` inside this host when a drain request (`drain_atom`) arrives,
  /// or at once if one arrived already: the worker should finish the items
  /// it holds and end. Returns a key for `forget_drain`. See `drain_hook`.
  size_t on_drain(std::function<void()> f);

  /// Removes the function that `on_drain` returned `key` for.
  void forget_drain(size_t key) noexcept;

  // -- statistics (pipeline stages only) -------------------------------------

  /// Makes this host record its activations in `p` (before it starts).
  void set_probe(std::shared_ptr<stage_probe> p) noexcept {
    probe_ = std::move(p);
  }

  /// Makes this host's timers use `c` (before it starts); null: the steady
  /// clock.
  void set_clock(std::shared_ptr<actorflow::clock> c) noexcept {
    clock_ = c ? std::move(c) : actorflow::steady_clock();
  }

  /// The clock of this host's timers (see timer.hpp).
  const std::shared_ptr<actorflow::clock>& clock() const noexcept {
    return clock_;
  }

  /// The probe of the stage this host runs, or null.
  const std::shared_ptr<stage_probe>& probe() const noexcept {
    return probe_;
  }

  /// Tells the probe why the coroutine is about to suspend (an endpoint calls
  /// this from its `suspend`; any other suspension counts as waiting).
  void note_wait(stage_state why) noexcept {
    wait_ = why;
  }

  /// Why the coroutine that ran last suspended: `idle` or `stalled` on one of
  /// this host's endpoints, `waiting` on anything else (an ask, a timer).
  /// Valid while endpoints flush.
  stage_state last_wait() const noexcept {
    return wait_;
  }

protected:
  /// Called once from make_behavior, inside an activation.
  virtual void start() {
    // nop
  }

  /// Called at the end of every activation, after flushing.
  virtual void after_activation() {
    // nop
  }

  /// Runs ready coroutines, then flushes dirty endpoints, then calls
  /// `after_activation`. Every handler of a host ends with this.
  void settle();

  /// Terminates the host with `reason` once every endpoint it closed was
  /// acknowledged by its channel.
  void finish(caf::error reason);

  bool finishing() const noexcept {
    return finishing_;
  }

  /// Sets `current()` for the lifetime of the guard.
  class activation {
  public:
    explicit activation(host* self) noexcept;
    ~activation();

  private:
    host* prev_;
  };

private:
  void on_orphan(caf::message_view& view);

  void on_drain_request();

  void try_quit();

  std::atomic<bool> stop_{false};
  bool timed_ = false;
  std::shared_ptr<actorflow::clock> clock_ = actorflow::steady_clock();
  uint64_t last_run_ns_ = 0;
  bool finishing_ = false;
  bool quit_called_ = false;
  size_t pending_acks_ = 0;
  caf::error reason_;
  std::unordered_map<endpoint_id, endpoint*> endpoints_;
  std::vector<endpoint*> dirty_;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  struct down_waiter {
    std::coroutine_handle<> h;
    caf::error* reason;
  };
  std::unordered_multimap<caf::actor_addr, down_waiter> on_down_;
  std::shared_ptr<stage_probe> probe_;
  stage_state wait_ = stage_state::waiting;
  std::unordered_multimap<caf::actor_addr,
                          std::function<void(const caf::error&)>>
    down_callbacks_;
  bool drain_requested_ = false;
  size_t next_drain_key_ = 0;
  std::vector<std::pair<size_t, std::function<void()>>> drain_hooks_;
};

/// Registers a function with the current host's `on_drain` for as long as it
/// lives (a local of a worker's coroutine). Outside a host it does nothing.
///
/// ~~~
/// bool draining = false;
/// drain_hook hook{[&] {
///   draining = true;
///   in.interrupt_recv();
/// }};
/// while (!draining)
///   if (auto x = co_await in.recv()) ... else break;
/// ~~~
class drain_hook {
public:
  explicit drain_hook(std::function<void()> f) : self_(host::current()) {
    if (self_ != nullptr)
      key_ = self_->on_drain(std::move(f));
  }

  drain_hook(const drain_hook&) = delete;
  drain_hook& operator=(const drain_hook&) = delete;

  ~drain_hook() {
    if (self_ != nullptr)
      self_->forget_drain(key_);
  }

private:
  host* self_;
  size_t key_ = 0;
};

} // namespace actorflow::detail
