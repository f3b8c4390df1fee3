// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/detail/endpoints.hpp"

namespace actorflow::detail {

/// The mailbox of one channel. It owns the buffer and the credit accounts:
///
///   buffered + granted + delivered <= capacity
///
/// where `granted` counts credits held by senders (items they may send),
/// `buffered` counts items in this actor and `delivered` counts items sent to
/// receivers and not yet reported consumed. Senders hand items over only
/// against credit, so at no time are more than `capacity` items in flight
/// between the senders' `send` and the receivers' `recv`.
template <class T>
class channel_actor : public caf::event_based_actor {
public:
  channel_actor(caf::actor_config& cfg, channel_params params, uint64_t tx_id,
                uint64_t rx_id, std::shared_ptr<channel_stats> stats)
    : caf::event_based_actor(cfg), params_(params), stats_(std::move(stats)) {
    txs_.emplace(tx_id, tx_info{});
    rxs_.emplace(rx_id, rx_info{});
  }

  const char* name() const override {
    return "actorflow.channel";
  }

  caf::behavior make_behavior() override {
    set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
    return {
      [this](open_tx_atom, uint64_t id) {
        if (!tx_closed_)
          txs_.emplace(id, tx_info{});
      },
      [this](open_rx_atom, uint64_t id) {
        if (!rx_closed_)
          rxs_.emplace(id, rx_info{});
      },
      [this](bind_tx_atom, uint64_t id, caf::actor& hdl) {
        auto i = txs_.find(id);
        if (i == txs_.end())
          return;
        watch(hdl);
        i->second.host = std::move(hdl);
        if (rx_closed_)
          send(i->second.host, rx_gone_atom::value, id, std::vector<T>{});
      },
      [this](bind_rx_atom, uint64_t id, caf::actor& hdl) {
        auto i = rxs_.find(id);
        if (i == rxs_.end())
          return;
        watch(hdl);
        i->second.host = std::move(hdl);
        settle();
      },
      [this](push_atom, uint64_t id, std::vector<T>& xs, uint32_t target,
             uint32_t give_back) {
        on_push(id, xs, give_back);
        if (auto i = txs_.find(id); i != txs_.end())
          set_target(id, i->second, target);
        settle();
      },
      [this](close_tx_atom, uint64_t id, std::vector<T>& xs,
             uint32_t give_back) {
        on_push(id, xs, give_back);
        if (auto i = txs_.find(id); i != txs_.end() && i->second.host)
          send(i->second.host, close_ack_atom::value, id);
        drop_tx(id);
        settle();
      },
      [this](pull_atom, uint64_t id, uint32_t consumed, uint32_t demand) {
        auto i = rxs_.find(id);
        if (i == rxs_.end())
          return;
        consume(i->second, consumed);
        if (demand > 0) {
          if (i->second.demand == 0)
            hungry_.push_back(id);
          i->second.demand += demand;
        }
        settle();
      },
      [this](close_rx_atom, uint64_t id, std::vector<T>& rest,
             uint32_t consumed) {
        auto i = rxs_.find(id);
        if (i != rxs_.end()) {
          auto& rx = i->second;
          consume(rx, consumed + static_cast<uint32_t>(rest.size()));
          if (rx.host) {
            // Items still on their way to the receiver come back (bounced by
            // its host) before the host sees this ack.
            bounce_expected(rx.host, rx.delivered);
            send(rx.host, close_ack_atom::value, id);
          }
          drop_rx(i);
        }
        // Unconsumed items go back to the front; they keep their order.
        if (!rest.empty()) {
          buffered_ += rest.size();
          buffer_.push_front(batch{0, std::move(rest), 0});
        }
        settle();
      },
      [this](items_atom, uint64_t, std::vector<T>& xs) {
        // Bounced: the receiver closed while these were on their way.
        auto n = xs.size();
        if (auto i = hosts_.find(current_sender()->address());
            i != hosts_.end()) {
          auto k = std::min(n, i->second.bouncing);
          i->second.bouncing -= k;
          bouncing_ -= k;
          forget_host_if_unused(i);
        }
        if (n == 0)
          return;
        if (rx_closed_) {
          stats_->lost.fetch_add(n, std::memory_order_relaxed);
        } else {
          buffered_ += n;
          buffer_.push_front(batch{0, std::move(xs), 0});
        }
        settle();
      },
      [this](rx_gone_atom, uint64_t, std::vector<T>& xs) {
        // Bounced: the sender closed before its returned items reached it.
        stats_->lost.fetch_add(xs.size(), std::memory_order_relaxed);
      },
    };
  }

private:
  struct tx_info {
    caf::actor host;
    uint32_t granted = 0;
    uint32_t want = 0;
  };

  struct rx_info {
    caf::actor host;
    uint32_t demand = 0;
    uint32_t delivered = 0;
    bool eos_sent = false;
  };

  struct batch {
    uint64_t from;
    std::vector<T> items;
    size_t pos;
  };

  // -- accounting ------------------------------------------------------------

  size_t in_flight() const noexcept {
    return buffered_ + granted_ + delivered_ + bouncing_;
  }

  size_t free_capacity() const noexcept {
    auto used = in_flight();
    return used < params_.capacity ? params_.capacity - used : 0;
  }

  void record_in_flight() {
    auto now = static_cast<uint64_t>(in_flight());
    if (now > stats_->max_in_flight.load(std::memory_order_relaxed))
      stats_->max_in_flight.store(now, std::memory_order_relaxed);
  }

  void on_push(uint64_t id, std::vector<T>& xs, uint32_t give_back) {
    stats_->messages_in.fetch_add(1, std::memory_order_relaxed);
    auto n = static_cast<uint32_t>(xs.size());
    if (auto i = txs_.find(id); i != txs_.end()) {
      // A sender never pushes more than it was granted (see tx_endpoint).
      auto used = std::min(i->second.granted, n + give_back);
      i->second.granted -= used;
      granted_ -= used;
    }
    if (n == 0)
      return;
    stats_->pushed.fetch_add(n, std::memory_order_relaxed);
    if (rx_closed_) {
      give_back_items(id, std::move(xs));
      return;
    }
    buffered_ += n;
    buffer_.push_back(batch{id, std::move(xs), 0});
    record_in_flight();
  }

  void consume(rx_info& rx, uint32_t n) {
    n = std::min(n, rx.delivered);
    rx.delivered -= n;
    delivered_ -= n;
  }

  /// The sender wants to hold `target` credits (including credit on its way
  /// to it); the channel tops it up as capacity frees.
  void set_target(uint64_t id, tx_info& tx, uint32_t target) {
    auto want = target > tx.granted ? target - tx.granted : 0;
    if (want > 0 && tx.want == 0)
      waiting_.push_back(id);
    tx.want = want;
  }

  // -- membership ------------------------------------------------------------

  struct host_info {
    size_t refs = 0;
    size_t bouncing = 0;
  };

  using host_map = std::unordered_map<caf::actor_addr, host_info>;

  void watch(const caf::actor& hdl) {
    if (hosts_[hdl.address()].refs++ == 0)
      monitor(hdl);
  }

  void bounce_expected(const caf::actor& hdl, size_t n) {
    if (n == 0)
      return;
    hosts_[hdl.address()].bouncing += n;
    bouncing_ += n;
  }

  void forget_host_if_unused(typename host_map::iterator i) {
    if (i->second.refs == 0 && i->second.bouncing == 0) {
      demonitor(i->first);
      hosts_.erase(i);
    }
  }

  void unwatch(const caf::actor& hdl) {
    if (!hdl)
      return;
    auto i = hosts_.find(hdl.address());
    if (i != hosts_.end()) {
      --i->second.refs;
      forget_host_if_unused(i);
    }
  }

  void drop_tx(uint64_t id) {
    auto i = txs_.find(id);
    if (i == txs_.end())
      return;
    granted_ -= i->second.granted;
    unwatch(i->second.host);
    txs_.erase(i);
    if (txs_.empty())
      tx_closed_ = true;
  }

  template <class Iterator>
  void drop_rx(Iterator i) {
    consume(i->second, i->second.delivered); // anything left is lost
    unwatch(i->second.host);
    rxs_.erase(i);
    if (rxs_.empty() && !rx_closed_) {
      rx_closed_ = true;
      // Every receiver is gone: hand buffered items back to their senders
      // and fail every sender's next send.
      for (auto& b : buffer_) {
        std::vector<T> rest;
        for (auto k = b.pos; k < b.items.size(); ++k)
          rest.push_back(std::move(b.items[k]));
        give_back_items(b.from, std::move(rest));
      }
      buffer_.clear();
      buffered_ = 0;
      for (auto& [id, tx] : txs_) {
        granted_ -= tx.granted;
        tx.granted = 0;
        if (tx.host)
          send(tx.host, rx_gone_atom::value, id, std::vector<T>{});
      }
    }
  }

  void give_back_items(uint64_t from, std::vector<T> xs) {
    if (xs.empty())
      return;
    auto n = xs.size();
    if (auto i = txs_.find(from); i != txs_.end() && i->second.host) {
      stats_->returned.fetch_add(n, std::memory_order_relaxed);
      send(i->second.host, rx_gone_atom::value, from, std::move(xs));
    } else {
      // The sender is gone as well: nobody is left to take the items.
      stats_->lost.fetch_add(n, std::memory_order_relaxed);
    }
  }

  void on_down(const caf::down_msg& dm) {
    if (auto i = hosts_.find(dm.source); i != hosts_.end()) {
      // Items on their way to a receiver that died are gone with it.
      stats_->lost.fetch_add(i->second.bouncing, std::memory_order_relaxed);
      bouncing_ -= i->second.bouncing;
      hosts_.erase(i);
    }
    for (auto i = txs_.begin(); i != txs_.end();) {
      if (i->second.host.address() == dm.source) {
        i->second.host = nullptr;
        auto id = (i++)->first;
        drop_tx(id);
      } else {
        ++i;
      }
    }
    for (auto i = rxs_.begin(); i != rxs_.end();) {
      if (i->second.host.address() == dm.source) {
        stats_->lost.fetch_add(i->second.delivered, std::memory_order_relaxed);
        i->second.host = nullptr;
        drop_rx(i++);
      } else {
        ++i;
      }
    }
    settle();
  }

  // -- dispatching -----------------------------------------------------------

  /// Moves items to hungry receivers, grants credit, signals end-of-stream.
  void settle() {
    dispatch();
    grant();
    if (tx_closed_ && buffered_ == 0)
      send_eos();
    if (tx_closed_ && rx_closed_ && bouncing_ == 0)
      quit();
  }

  void dispatch() {
    while (buffered_ > 0 && !hungry_.empty()) {
      auto id = hungry_.front();
      hungry_.pop_front();
      auto i = rxs_.find(id);
      if (i == rxs_.end() || i->second.demand == 0 || !i->second.host)
        continue;
      auto& rx = i->second;
      auto n = std::min<size_t>(rx.demand, buffered_);
      std::vector<T> out;
      auto& front = buffer_.front();
      if (front.pos == 0 && front.items.size() <= n && buffer_.size() == 1) {
        out = std::move(front.items);
        buffer_.pop_front();
      } else {
        out.reserve(n);
        while (out.size() < n) {
          auto& b = buffer_.front();
          auto k = std::min(n - out.size(), b.items.size() - b.pos);
          auto first = b.items.begin() + static_cast<ptrdiff_t>(b.pos);
          out.insert(
            out.end(), std::make_move_iterator(first),
            std::make_move_iterator(first + static_cast<ptrdiff_t>(k)));
          b.pos += k;
          if (b.pos == b.items.size())
            buffer_.pop_front();
        }
      }
      auto k = static_cast<uint32_t>(out.size());
      buffered_ -= k;
      rx.demand -= k;
      rx.delivered += k;
      delivered_ += k;
      stats_->delivered.fetch_add(k, std::memory_order_relaxed);
      send(rx.host, items_atom::value, id, std::move(out));
      if (rx.demand > 0)
        hungry_.push_back(id);
    }
  }

  void grant() {
    while (!waiting_.empty()) {
      auto cap = free_capacity();
      if (cap == 0)
        return;
      auto id = waiting_.front();
      auto i = txs_.find(id);
      if (i == txs_.end() || i->second.want == 0 || !i->second.host) {
        waiting_.pop_front();
        continue;
      }
      auto& tx = i->second;
      auto n = static_cast<uint32_t>(std::min<size_t>(tx.want, cap));
      tx.want -= n;
      tx.granted += n;
      granted_ += n;
      record_in_flight();
      send(tx.host, credit_atom::value, id, n);
      if (tx.want == 0)
        waiting_.pop_front();
    }
  }

  void send_eos() {
    for (auto& [id, rx] : rxs_) {
      // Wait until no other receiver holds unconsumed items: a receiver that
      // closes hands them back, and someone must still be there to take them.
      if (!rx.eos_sent && rx.host && delivered_ == rx.delivered) {
        rx.eos_sent = true;
        send(rx.host, eos_atom::value, id);
      }
    }
  }

  channel_params params_;
  std::shared_ptr<channel_stats> stats_;
  std::unordered_map<uint64_t, tx_info> txs_;
  std::unordered_map<uint64_t, rx_info> rxs_;
  host_map hosts_;
  std::deque<batch> buffer_;
  std::deque<uint64_t> hungry_;
  std::deque<uint64_t> waiting_;
  size_t buffered_ = 0;
  size_t granted_ = 0;
  size_t delivered_ = 0;
  size_t bouncing_ = 0;
  bool tx_closed_ = false;
  bool rx_closed_ = false;
};

} // namespace actorflow::detail
