// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <chrono>
#include <functional>

#include "actorflow/detail/endpoint_core.hpp"

namespace actorflow::detail {

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

  /// Calls `f` (in the host) once every receiver is gone, for a coroutine
  /// that waits elsewhere than in `send` (e.g. for a time).
  void on_gone(std::function<void()> f) {
    on_gone_ = std::move(f);
  }

  /// Calls `f` (in the host) whenever credit arrives, for a coroutine that
  /// waits elsewhere than in `send` and sends when it can (`conflate`).
  void on_credit(std::function<void()> f) {
    on_credit_ = std::move(f);
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
      if (on_credit_) [[unlikely]]
        on_credit_();
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
      if (on_gone_)
        on_gone_();
      if (probe_port_ != nullptr) // accepted by send, so they count as sent
        bump(probe_port_->items, pending());
      auto first = out_.begin();
      returned_.insert(returned_.end(), std::make_move_iterator(first),
                       std::make_move_iterator(first + pending()));
      out_.clear();
      n_ = 0;
    } else if (msg.match_elements<tick_atom, endpoint_id, uint64_t>()) {
      // The linger of a partial batch is over, unless it left meanwhile.
      if (mode_ == mode::hosted && linger_armed_
          && msg.get_as<uint64_t>(2) == linger_gen_) {
        linger_armed_ = false;
        if (pending() > 0 && linger_mark_ == pushed_)
          push(target_, 0);
      }
      return;
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
        // With a linger, a partial batch waits for more items first.
        if (params_.linger_ns != 0 && pending() < params_.batch) [[unlikely]]
          linger();
        else
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
  /// is a plain inline assignment, where GCC leaves vector::push_back an
  /// out-of-line call in every coroutine frame.
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
  /// Holds the current partial batch until the linger is over: arms one
  /// tick on the host's clock per partial batch.
  [[gnu::noinline]] void linger() {
    if (linger_armed_ && linger_mark_ == pushed_)
      return; // this batch waits already
    linger_armed_ = true;
    linger_mark_ = pushed_;
    auto& clk = host_->clock();
    clk->schedule(clk->now() + std::chrono::nanoseconds{params_.linger_ns},
                  caf::actor_cast<caf::actor>(host_),
                  caf::make_message(tick_atom::value, id(), ++linger_gen_));
  }

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
  std::function<void()> on_gone_;
  std::function<void()> on_credit_;
  uint64_t linger_gen_ = 0;  // of the last tick armed
  uint64_t linger_mark_ = 0; // `pushed_` when it was armed
  bool linger_armed_ = false;
};

} // namespace actorflow::detail
