// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <deque>
#include <limits>

#include "actorflow/detail/endpoint_core.hpp"
#include "actorflow/detail/stage_probe.hpp"

namespace actorflow::detail {

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
    ++took_;
    if (++consumed_ == half_window_ || pos_ == in_.size() || took_ == due_)
      [[unlikely]]
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
    took_ += n;
    if (consumed_ >= half_window_ || pos_ == in_.size() || took_ >= due_)
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
    if (mode_ == mode::hosted && took_ >= due_)
      sample_latency(); // the stage took them before it ended
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
      if (msg.size() > 3 && msg.match_element<int64_t>(3))
        note_arrival(xs.size(), msg.get_as<int64_t>(3));
      if (pos_ == in_.size()) {
        in_.swap(xs);
      } else {
        // Taken items go first: a receiver that never runs dry (its next
        // batch comes while it still holds items, as the read-ahead wants)
        // would otherwise keep every item it ever took.
        in_.erase(in_.begin(), in_.begin() + static_cast<ptrdiff_t>(pos_));
        in_.insert(in_.end(), std::make_move_iterator(xs.begin()),
                   std::make_move_iterator(xs.end()));
      }
      pos_ = 0;
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
      if (took_ >= due_)
        sample_latency();
      if (params_.read_ahead_ns != 0) [[unlikely]]
        adapt();
      report();
    }
  }

private:
  /// A delivery of `count` items whose oldest entered the channel at `at`
  /// (probe clock); its last item is item number `end` of this receiver.
  struct arrival {
    uint64_t end;
    uint64_t count;
    int64_t at;
  };

  static constexpr uint64_t never = std::numeric_limits<uint64_t>::max();

  /// Notes a delivery for the stage's latency histogram (stage receivers
  /// of data only; a stamp of 0 is unknown).
  void note_arrival(size_t n, int64_t at) {
    received_ += n;
    if (n == 0 || at == 0 || mode_ != mode::hosted || probe_owner_ == nullptr
        || probe_port_ == nullptr || probe_port_->control)
      return;
    arrivals_.push_back(arrival{received_, n, at});
    due_ = arrivals_.front().end;
  }

  /// Once the stage took the last item of a delivery: its items leave the
  /// stage at the end of this activation.
  void sample_latency() {
    auto now = probe_clock();
    while (!arrivals_.empty() && arrivals_.front().end <= took_) {
      auto& a = arrivals_.front();
      probe_owner_->record_latency(now - a.at, a.count);
      arrivals_.pop_front();
    }
    due_ = arrivals_.empty() ? never : arrivals_.front().end;
  }

  uint32_t window() const noexcept {
    return window_;
  }

  /// Adaptive read-ahead starts small, so that the first items of a slow
  /// consumer do not all go to one receiver.
  uint32_t start_window() const noexcept {
    return params_.read_ahead_ns != 0
             ? std::min<uint32_t>(params_.rx_window(), 4)
             : params_.rx_window();
  }

  /// Adaptive read-ahead: estimates the cost of one item from how long the
  /// host's coroutines ran in this activation and how many items they took,
  /// and keeps about `read_ahead_ns` of work buffered. A slow consumer thus
  /// holds few items (dispatch stays demand-driven among the receivers of a
  /// channel) and a fast one gets large batches (few messages per item).
  /// A coroutine that suspended on something else than its channels (an ask,
  /// a timer) is not done with its item, so the run time says nothing about
  /// the item's cost: the window falls back to its start then, or a worker
  /// whose item waits for a reply would sit on items an idle worker could run.
  void adapt() {
    if (!timed_) {
      timed_ = true;
      host_->time_runs();
      return;
    }
    auto ran = host_->last_run_ns();
    auto taken = std::exchange(taken_, 0);
    if (host_->last_wait() == stage_state::waiting) {
      window_ = std::min(window_, start_window());
      half_window_ = (window_ + 1) / 2;
      return;
    }
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
  uint32_t window_ = start_window();
  uint32_t half_window_ = (window_ + 1) / 2; // consumed_ * 2 >= window
  uint32_t taken_ = 0;                       // items taken this activation
  double cost_ = 0;                          // ns per item (moving average)
  bool timed_ = false;
  size_t pos_ = 0;
  uint32_t consumed_ = 0;
  uint32_t outstanding_ = 0;
  bool eos_ = false;
  std::coroutine_handle<> waiter_;
  // Latency (see stage_probe.hpp): items received and taken so far, the
  // deliveries not taken in full yet, and `took_` at the oldest one's end.
  uint64_t received_ = 0;
  uint64_t took_ = 0;
  uint64_t due_ = never;
  std::deque<arrival> arrivals_;
};

} // namespace actorflow::detail
