// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/type_erased_tuple.hpp>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/detail/batch.hpp"
#include "actorflow/detail/host.hpp"

namespace actorflow::detail {

/// Shared, lock-free instruments of one channel, readable from any thread.
struct channel_stats {
  std::atomic<uint64_t> pushed{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> returned{0};
  std::atomic<uint64_t> lost{0};
  /// Items dropped because the pipeline of the channel stopped.
  std::atomic<uint64_t> cancelled{0};
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> max_in_flight{0};
  /// Set by a pipeline that is cancelled or failed, before it stops its
  /// stages: from then on the channel drops what it would hand back or lose,
  /// and counts it in `cancelled`.
  std::atomic<bool> stopping{false};

  /// Counts `n` items the channel cannot deliver any more.
  void count_dropped(uint64_t n) noexcept {
    auto& counter = stopping.load(std::memory_order_acquire) ? cancelled : lost;
    counter.fetch_add(n, std::memory_order_relaxed);
  }
};

/// The largest capacity a channel may have: credits and counts travel as
/// 32-bit values, and a signed one must hold them too.
constexpr uint32_t max_channel_capacity = 0x7fffffff;

/// Settings shared by both ends of one channel.
struct channel_params {
  uint32_t capacity;
  uint32_t batch;
  /// Read-ahead of each receiver; 0 picks `window()`.
  uint32_t read_ahead = 0;
  /// Non-zero: a coroutine receiver sizes its read-ahead to about this much
  /// work (nanoseconds), measured while it runs, within [1, rx_window()].
  uint32_t read_ahead_ns = 0;

  /// How many credits a sender asks for, and how many items a receiver
  /// keeps in read-ahead: two batches (so one travels while the other is
  /// worked on), but never more than half the capacity (so both sides can
  /// hold some at the same time).
  uint32_t window() const noexcept {
    auto half = capacity / 2;
    auto two = batch * 2;
    return std::max<uint32_t>(1, std::min(half, two));
  }

  /// How many items a receiver keeps in read-ahead.
  uint32_t rx_window() const noexcept {
    return read_ahead != 0 ? read_ahead : window();
  }
};

/// The actor that a blocking (thread-side) endpoint uses as its mailbox.
class ACTORFLOW_EXPORT port : public host {
public:
  port(caf::actor_config& cfg, std::shared_ptr<endpoint> ep);

  ~port() override;

  const char* name() const override;

protected:
  void start() override;

  void after_activation() override;

  void on_exit() override;

private:
  std::shared_ptr<endpoint> ep_;
};

/// State common to both kinds of endpoint: binding and blocking support.
class ACTORFLOW_EXPORT endpoint_core : public endpoint {
public:
  enum class mode : uint8_t { unbound, hosted, blocking, closed };

  endpoint_core(caf::actor channel, channel_params params,
                endpoint_id id = next_endpoint_id());

  ~endpoint_core() override;

  mode current_mode() const noexcept {
    return mode_;
  }

  const caf::actor& channel() const noexcept {
    return channel_;
  }

  channel_params params() const noexcept {
    return params_;
  }

  /// The stop flag of the host this endpoint is bound to (see
  /// `host::stop_requested`). Only valid while bound to a host.
  const std::atomic<bool>& stop_flag() const noexcept {
    return host_->stop_flag();
  }

  /// Closes the endpoint from the context it lives in. A blocking endpoint
  /// asks its port to close it, so that the port sees every message that was
  /// in flight to it before it quits.
  void close() {
    if (mode_ == mode::blocking) {
      {
        std::lock_guard guard{mtx_};
        if (close_requested_)
          return;
        close_requested_ = true;
      }
      ring_port();
      return;
    }
    do_close();
  }

  /// Performs the close (in the worker or in the port).
  virtual void do_close() = 0;

  bool close_requested() {
    std::lock_guard guard{mtx_};
    return close_requested_ && mode_ != mode::closed;
  }

  /// Called by a port when it starts hosting this endpoint.
  void attach_port(host* p) noexcept {
    host_ = p;
  }

  /// Makes this endpoint count its items in `port` (owned by `owner`).
  /// Called before the endpoint is used (pipeline building); otherwise a
  /// hosted endpoint picks a port of its host's probe when it binds.
  void set_probe(std::shared_ptr<stage_probe> owner, port_probe* port) {
    probe_owner_ = std::move(owner);
    probe_port_ = port;
  }

protected:
  /// Binds to the calling context on first use and checks later uses. Returns
  /// the host for hosted use, nullptr for blocking use.
  host* bind_hosted(caf::atom_value bind);
  void bind_blocking(const std::shared_ptr<endpoint>& self,
                     caf::atom_value bind);

  /// Sends from whichever context the endpoint lives in.
  template <class... Ts>
  void to_channel(Ts&&... xs) {
    if (mode_ == mode::hosted)
      host_->send(channel_, std::forward<Ts>(xs)...);
    else
      caf::anon_send(channel_, std::forward<Ts>(xs)...);
  }

  /// Wakes the port so that its `flush` runs.
  void ring_port();

  /// Asks the host (worker or port) to call `flush` at the end of its
  /// activation. Only called from the host's context.
  void mark_dirty() {
    if (host_ != nullptr && !dirty)
      host_->mark_dirty(this);
  }

  /// Marks the endpoint closed; its host waits for the channel's ack.
  void finish_close() noexcept;

  caf::actor channel_;
  channel_params params_;
  mode mode_ = mode::unbound;
  host* host_ = nullptr;
  caf::actor port_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool ring_pending_ = false;
  bool close_requested_ = false;
  // Statistics (pipeline stages only): where this end counts its items.
  std::shared_ptr<stage_probe> probe_owner_;
  port_probe* probe_port_ = nullptr;
};

/// The state behind one `sender<T>` handle.
template <class T>
class tx_endpoint final : public endpoint_core {
public:
  using endpoint_core::endpoint_core;

  ~tx_endpoint() override {
    // close() ran in the handle; nothing to do here.
  }

  // -- hosted (coroutine) API ------------------------------------------------

  /// Binds to the current host and returns true if an item can be accepted
  /// now, or the channel is gone (the awaiter then resumes with failure).
  [[gnu::always_inline]] bool ready() {
    if (mode_ != mode::hosted) [[unlikely]]
      bind_hosted(bind_tx_atom::value);
    if (host_->stop_requested()) [[unlikely]]
      throw_stopped();
    return credit_ > 0 || rx_gone_;
  }

  void suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    host_->note_wait(stage_state::stalled); // no credit: backpressure
    mark_dirty();
  }

  /// Accepts `x` if possible; otherwise returns it.
  [[gnu::always_inline]] std::optional<T> accept(T&& x) {
    if (rx_gone_ || credit_ == 0) [[unlikely]]
      return std::optional<T>{std::move(x)};
    store(std::move(x));
    --credit_;
    if (pending() >= params_.batch) [[unlikely]]
      push_full();
    else
      mark_dirty();
    return std::nullopt;
  }

  // -- hosted batch fast path (never suspends) -------------------------------

  /// How many items `append` may take now without waiting: the credit,
  /// capped at the end of the current batch. Zero if the endpoint is not
  /// bound to a host yet (the first `send` binds it) or the receivers are
  /// gone.
  [[gnu::always_inline]] size_t room() const noexcept {
    if (mode_ != mode::hosted || rx_gone_ || host_->stop_requested())
      [[unlikely]]
      return 0;
    auto used = pending();
    auto left = used < params_.batch ? params_.batch - used : size_t{0};
    return std::min<size_t>(credit_, left);
  }

  /// Accepts `x`; only call it for at most `room()` items, then `commit`.
  [[gnu::always_inline]] void append(T&& x) {
    store(std::move(x));
    --credit_;
  }

  /// Ends a run of `append`s: ships a full batch, or marks the endpoint for
  /// the flush at the end of the activation (as `accept` does per item).
  void commit() {
    if (pending() >= params_.batch)
      push_full();
    else if (pending() > 0)
      mark_dirty();
  }

  [[gnu::noinline]] void grow_and_push(T&& x) {
    if constexpr (slots) {
      // Beyond the first slots, grow with use: resizing touches the
      // memory, and a huge channel's batch may never fill.
      auto want = std::min<size_t>(params_.batch,
                                   std::max<size_t>(2 * n_, first_slots()));
      out_.resize(std::max(want, n_ + 1));
      out_[n_++] = std::move(x);
    } else {
      out_.reserve(std::max<size_t>(params_.batch, out_.size() + 1));
      out_.push_back(std::move(x));
    }
  }

  [[gnu::noinline]] void push_full() {
    push(params_.window(), 0); // the next credit comes while we go on
  }

  // -- blocking API ------------------------------------------------------------

  template <class Self>
  std::optional<T> blocking_send(const Self& self, T&& x) {
    if (mode_ != mode::blocking)
      bind_blocking(self, bind_tx_atom::value);
    std::unique_lock guard{mtx_};
    while (!rx_gone_ && credit_ == 0) {
      if (target_ != params_.window()) {
        push(params_.window(), 0);
        ring_pending_ = false;
      }
      cv_.wait(guard);
    }
    if (rx_gone_)
      return std::optional<T>{std::move(x)};
    store(std::move(x));
    --credit_;
    if (pending() >= params_.batch) {
      push(params_.window(), 0);
    } else if (!ring_pending_) {
      ring_pending_ = true;
      guard.unlock();
      ring_port();
    }
    return std::nullopt;
  }

  // -- both --------------------------------------------------------------------

  /// Flushes what is pending and tells the channel this sender is gone.
  void do_close() override {
    std::unique_lock guard{mtx_, std::defer_lock};
    if (mode_ == mode::blocking)
      guard.lock();
    if (mode_ == mode::closed)
      return;
    if (probe_port_ != nullptr)
      bump(probe_port_->items, pending());
    to_channel(close_tx_atom::value, id(), batch<T>{take_out()},
               std::exchange(credit_, 0));
    finish_close();
  }

  /// Items the channel handed back because every receiver was gone.
  std::vector<T> take_returned() {
    std::unique_lock guard{mtx_, std::defer_lock};
    if (mode_ == mode::blocking)
      guard.lock();
    return std::exchange(returned_, {});
  }

  bool receivers_gone() {
    std::unique_lock guard{mtx_, std::defer_lock};
    if (mode_ == mode::blocking)
      guard.lock();
    return rx_gone_;
  }

  // -- endpoint interface ------------------------------------------------------

  void handle(caf::type_erased_tuple& msg) override {
    std::unique_lock guard{mtx_, std::defer_lock};
    if (mode_ == mode::blocking)
      guard.lock();
    if (msg.match_element<credit_atom>(0) && msg.match_element<uint32_t>(2)) {
      credit_ += msg.get_as<uint32_t>(2);
    } else if (msg.match_element<rx_gone_atom>(0)
               && msg.match_element<batch<T>>(2)
               && msg.match_element<uint64_t>(3)) {
      // Every receiver is gone. The channel hands back what it held of ours
      // and says how many of our items it has seen; `send` fails once every
      // item we pushed is accounted for, so that `take_returned` is complete
      // by then.
      auto& xs = msg.get_mutable_as<batch<T>>(2);
      returned_.insert(returned_.end(), std::make_move_iterator(xs.begin()),
                       std::make_move_iterator(xs.end()));
      seen_ = std::max(seen_, msg.get_as<uint64_t>(3));
      if (rx_gone_ || seen_ < pushed_)
        return;
      rx_gone_ = true;
      credit_ = 0;
      if (probe_port_ != nullptr) // accepted by send, so they count as sent
        bump(probe_port_->items, pending());
      auto first = out_.begin();
      returned_.insert(returned_.end(), std::make_move_iterator(first),
                       std::make_move_iterator(first + pending()));
      out_.clear();
      n_ = 0;
    } else if (msg.match_element<recall_atom>(0)) {
      // Others wait for capacity: give back what this sender is not using
      // right now (a worker waiting for credit holds none).
      if (credit_ > 0 && (mode_ == mode::blocking || !waiter_))
        push(0, std::exchange(credit_, 0));
      return;
    } else {
      mark_dirty(); // ring: flush does the work
      return;
    }
    if (mode_ == mode::blocking) {
      cv_.notify_all();
    } else if (waiter_) {
      host_->make_ready(std::exchange(waiter_, nullptr));
    }
  }

  void flush() override {
    if (mode_ == mode::hosted) {
      if (waiter_) {
        // The coroutine waits for credit: make sure the channel knows.
        if (pending() > 0 || target_ != params_.window())
          push(params_.window(), 0);
      } else if (pending() > 0) {
        // The coroutine waits elsewhere: send what it produced and keep the
        // credit for its next items. Should other senders need it, the
        // channel recalls it, so an idle sender never holds it hostage.
        push(target_, 0);
      }
    } else if (mode_ == mode::blocking) {
      std::lock_guard guard{mtx_};
      ring_pending_ = false;
      if (pending() > 0)
        push(params_.window(), 0);
    }
  }

private:
  /// Items of a trivially copyable type go into pre-sized slots: storing one
  /// is a plain inline assignment. (GCC does not inline vector::push_back into
  /// the coroutine frames; the out-of-line call was a fifth of a worker-style
  /// pipeline's time, bench_pipeline --variants a: 1.3x with slots.)
  static constexpr bool slots
    = std::conjunction_v<std::is_trivially_copyable<T>,
                         std::is_trivially_default_constructible<T>>;

  /// The most slots allocated up front for a batch: all of it, up to
  /// 64 KiB (`take_out` allocates fewer after small batches).
  size_t first_slots() const noexcept {
    return std::min<size_t>(params_.batch,
                            std::max<size_t>(64, size_t{65536} / sizeof(T)));
  }

  /// Items accepted and not pushed to the channel yet.
  [[gnu::always_inline]] size_t pending() const noexcept {
    if constexpr (slots)
      return n_;
    else
      return out_.size();
  }

  [[gnu::always_inline]] void store(T&& x) {
    if constexpr (slots) {
      if (n_ < out_.size()) [[likely]]
        out_[n_++] = std::move(x);
      else
        grow_and_push(std::move(x));
    } else {
      if (out_.size() < out_.capacity()) [[likely]]
        out_.push_back(std::move(x));
      else
        grow_and_push(std::move(x));
    }
  }

  std::vector<T> take_out() {
    std::vector<T> result;
    auto last = pending();
    if constexpr (slots) {
      out_.resize(n_); // shrinks: keeps the storage
      n_ = 0;
    }
    result.swap(out_);
    if (mode_ == mode::hosted) {
      // One allocation per batch, not log(batch). Slots: as many as the last
      // batch held and half again, at most 64 KiB (resizing zeroes them; a
      // worker that ships a batch whenever it suspends rarely fills one).
      if constexpr (slots)
        out_.resize(
          std::min(first_slots(), std::max<size_t>(64, last * 3 / 2)));
      else
        out_.reserve(params_.batch);
    }
    return result;
  }

  /// Hands the pending items to the channel and tells it the credit level
  /// this sender wants to hold (`target`, counting credit in flight).
  void push(uint32_t target, uint32_t give_back) {
    target_ = target;
    pushed_ += pending();
    if (probe_port_ != nullptr)
      bump(probe_port_->items, pending());
    to_channel(push_atom::value, id(), batch<T>{take_out()}, target, give_back);
  }

  /// Pending items: all of it, or (slots) its first `n_` elements.
  std::vector<T> out_;
  size_t n_ = 0;
  std::vector<T> returned_;
  uint32_t credit_ = 0;
  uint32_t target_ = 0;
  uint64_t pushed_ = 0; // items handed to the channel
  uint64_t seen_ = 0;   // of those, how many the channel confirmed
  bool rx_gone_ = false;
  std::coroutine_handle<> waiter_;
};

/// The state behind one `receiver<T>` handle.
template <class T>
class rx_endpoint final : public endpoint_core {
public:
  using endpoint_core::endpoint_core;

  ~rx_endpoint() override {
    // close() ran in the handle; nothing to do here.
  }

  // -- hosted (coroutine) API ------------------------------------------------

  [[gnu::always_inline]] bool ready() {
    if (mode_ != mode::hosted) [[unlikely]]
      bind_hosted(bind_rx_atom::value);
    if (host_->stop_requested()) [[unlikely]]
      throw_stopped();
    return pos_ < in_.size() || eos_;
  }

  void suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    // No input: idle, unless this is a control channel (tokens).
    host_->note_wait(probe_port_ != nullptr && probe_port_->control
                       ? stage_state::stalled
                       : stage_state::idle);
    mark_dirty();
  }

  /// Resumes the coroutine waiting for an item now; its `take` yields what
  /// is there, which may be nothing.
  void interrupt() {
    if (waiter_)
      host_->make_ready(std::exchange(waiter_, nullptr));
  }

  /// Forgets a suspended coroutine (a select resumed it through another
  /// endpoint).
  void cancel_suspend() noexcept {
    waiter_ = nullptr;
  }

  [[gnu::always_inline]] std::optional<T> take() {
    if (pos_ == in_.size()) [[unlikely]]
      return std::nullopt;
    auto result = std::optional<T>{std::move(in_[pos_++])};
    ++taken_;
    if (++consumed_ == half_window_ || pos_ == in_.size()) [[unlikely]]
      mark_dirty();
    return result;
  }

  // -- hosted batch fast path (never suspends) -------------------------------

  /// The items buffered now, oldest first (empty if the endpoint is not bound
  /// to a host yet: the first `recv` binds it, or once the host was asked to
  /// stop: the next `recv` throws). The caller moves from a prefix of them
  /// and then calls `consume` with its length.
  [[gnu::always_inline]] std::span<T> available() noexcept {
    if (mode_ != mode::hosted || host_->stop_requested()) [[unlikely]]
      return {};
    return std::span<T>{in_.data() + pos_, in_.size() - pos_};
  }

  /// Marks the first `n` items of `available()` as taken: the same
  /// accounting as `n` calls of `take`.
  [[gnu::always_inline]] void consume(size_t n) {
    if (n == 0)
      return;
    pos_ += n;
    taken_ += static_cast<uint32_t>(n);
    consumed_ += static_cast<uint32_t>(n);
    if (consumed_ >= half_window_ || pos_ == in_.size())
      mark_dirty();
  }

  // -- blocking API ------------------------------------------------------------

  template <class Self>
  std::optional<T> blocking_recv(const Self& self) {
    if (mode_ != mode::blocking)
      bind_blocking(self, bind_rx_atom::value);
    // Fast path: the thread owns `local_`, a whole batch taken under one
    // lock; it reports consumption under the lock once per half window.
    if (lpos_ < local_.size() && (consumed_ + 1) * 2 < window()) {
      ++consumed_;
      return std::optional<T>{std::move(local_[lpos_++])};
    }
    std::unique_lock guard{mtx_};
    // Items returned by earlier calls count as consumed from here on.
    if (lpos_ == local_.size() || consumed_ * 2 >= window())
      report();
    if (lpos_ == local_.size()) {
      while (pos_ == in_.size() && !eos_)
        cv_.wait(guard);
      if (pos_ == in_.size())
        return std::nullopt;
      local_.clear();
      if (pos_ == 0) {
        local_.swap(in_);
      } else {
        local_.assign(std::make_move_iterator(in_.begin() + pos_),
                      std::make_move_iterator(in_.end()));
        in_.clear();
      }
      lpos_ = 0;
      pos_ = 0;
    }
    ++consumed_;
    return std::optional<T>{std::move(local_[lpos_++])};
  }

  // -- both --------------------------------------------------------------------

  void do_close() override {
    std::unique_lock guard{mtx_, std::defer_lock};
    if (mode_ == mode::blocking)
      guard.lock();
    if (mode_ == mode::closed)
      return;
    // Unconsumed items, oldest first: the thread's batch, then the rest.
    std::vector<T> rest;
    rest.reserve(local_.size() - lpos_ + in_.size() - pos_);
    for (auto i = lpos_; i < local_.size(); ++i)
      rest.push_back(std::move(local_[i]));
    for (auto i = pos_; i < in_.size(); ++i)
      rest.push_back(std::move(in_[i]));
    local_.clear();
    lpos_ = 0;
    in_.clear();
    pos_ = 0;
    if (probe_port_ != nullptr)
      bump(probe_port_->items, consumed_);
    to_channel(close_rx_atom::value, id(), batch<T>{std::move(rest)},
               std::exchange(consumed_, 0));
    finish_close();
  }

  // -- endpoint interface ------------------------------------------------------

  void handle(caf::type_erased_tuple& msg) override {
    std::unique_lock guard{mtx_, std::defer_lock};
    if (mode_ == mode::blocking)
      guard.lock();
    if (msg.match_element<items_atom>(0) && msg.match_element<batch<T>>(2)) {
      auto& xs = msg.get_mutable_as<batch<T>>(2);
      outstanding_ -= std::min(outstanding_, static_cast<uint32_t>(xs.size()));
      if (pos_ == in_.size()) {
        in_.swap(xs);
        pos_ = 0;
      } else {
        in_.insert(in_.end(), std::make_move_iterator(xs.begin()),
                   std::make_move_iterator(xs.end()));
      }
    } else if (msg.match_element<eos_atom>(0)) {
      eos_ = true;
    } else {
      return;
    }
    if (mode_ == mode::blocking) {
      cv_.notify_all();
    } else {
      if (waiter_)
        host_->make_ready(std::exchange(waiter_, nullptr));
      // Top up the read-ahead at the end of the activation.
      mark_dirty();
    }
  }

  void flush() override {
    if (mode_ == mode::hosted) {
      if (params_.read_ahead_ns != 0) [[unlikely]]
        adapt();
      report();
    }
  }

private:
  uint32_t window() const noexcept {
    return window_;
  }

  /// Adaptive read-ahead: estimates the cost of one item from how long the
  /// host's coroutines ran in this activation and how many items they took,
  /// and keeps about `read_ahead_ns` of work buffered. A slow consumer thus
  /// holds few items (dispatch stays demand-driven among the receivers of a
  /// channel) and a fast one gets large batches (few messages per item).
  void adapt() {
    if (!timed_) {
      timed_ = true;
      host_->time_runs();
      return;
    }
    auto ran = host_->last_run_ns();
    auto taken = std::exchange(taken_, 0);
    if (taken == 0 || ran == 0)
      return;
    auto cost = static_cast<double>(ran) / static_cast<double>(taken);
    cost_ = cost_ == 0 ? cost : (3 * cost_ + cost) / 4;
    auto want = static_cast<double>(params_.read_ahead_ns) / cost_;
    auto upper = static_cast<double>(params_.rx_window());
    window_ = static_cast<uint32_t>(std::clamp(want, 1.0, upper));
    half_window_ = (window_ + 1) / 2;
  }

  /// Reports consumption and tops up the read-ahead window.
  void report() {
    auto buffered
      = static_cast<uint32_t>(in_.size() - pos_ + local_.size() - lpos_);
    uint32_t demand = 0;
    if (!eos_) {
      auto have = buffered + outstanding_;
      if (have < window() && (have == 0 || (window() - have) * 2 >= window()))
        demand = window() - have;
    }
    if (consumed_ == 0 && demand == 0)
      return;
    outstanding_ += demand;
    if (probe_port_ != nullptr)
      bump(probe_port_->items, consumed_);
    to_channel(pull_atom::value, id(), std::exchange(consumed_, 0), demand);
  }

  std::vector<T> in_;
  // Blocking mode only: the batch the thread works through without a lock.
  std::vector<T> local_;
  size_t lpos_ = 0;
  // Adaptive read-ahead starts small, so that the first items of a slow
  // consumer do not all go to one receiver.
  uint32_t window_ = params_.read_ahead_ns != 0
                       ? std::min<uint32_t>(params_.rx_window(), 4)
                       : params_.rx_window();
  uint32_t half_window_ = (window_ + 1) / 2; // consumed_ * 2 >= window
  uint32_t taken_ = 0;                       // items taken this activation
  double cost_ = 0;                          // ns per item (moving average)
  bool timed_ = false;
  size_t pos_ = 0;
  uint32_t consumed_ = 0;
  uint32_t outstanding_ = 0;
  bool eos_ = false;
  std::coroutine_handle<> waiter_;
};

} // namespace actorflow::detail
