// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/detail/batch.hpp"
#include "actorflow/detail/channel_params.hpp"
#include "actorflow/detail/host.hpp"
#include "actorflow/detail/stage_probe.hpp"

namespace actorflow::detail {

/// The mailbox of one channel. It owns the buffer and the credit accounts:
///
///   buffered + granted + delivered + bouncing <= capacity
///
/// where `granted` counts credits held by senders (items they may send),
/// `buffered` counts items in this actor, `delivered` counts items sent to
/// receivers and not yet reported consumed, and `bouncing` counts items that
/// were on their way to a receiver when it closed (its host sends them back).
/// Senders hand items over only against credit, so at no time are more than
/// `capacity` items in flight between the senders' `send` and the receivers'
/// `recv`.
///
/// Every item keeps its origin (the sender it came from) while it is in the
/// channel or at a receiver: each receiver has a ledger of the origins of its
/// unconsumed items, in delivery order. When the last receiver is gone, every
/// item the channel still holds or gets back goes home to its sender.
template <class T>
class channel_actor : public caf::event_based_actor {
public:
  channel_actor(caf::actor_config& cfg, channel_params params,
                endpoint_id tx_id, endpoint_id rx_id,
                std::shared_ptr<channel_stats> stats)
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
      [this](push_atom, endpoint_id id, batch<T>& xs, uint32_t target,
             uint32_t give_back) {
        on_push(id, xs, give_back);
        if (auto i = txs_.find(id); i != txs_.end())
          set_target(id, i->second, target);
        settle();
      },
      [this](pull_atom, endpoint_id id, uint32_t consumed, uint32_t demand) {
        on_pull(id, consumed, demand);
      },
      [this](open_tx_atom, endpoint_id id) {
        if (!tx_closed_)
          txs_.emplace(id, tx_info{});
      },
      [this](open_rx_atom, endpoint_id id) {
        if (!rx_closed_ && rxs_.emplace(id, rx_info{}).second)
          ++eos_unsent_;
      },
      [this](bind_tx_atom, endpoint_id id, caf::actor& hdl) {
        on_bind_tx(id, hdl);
      },
      [this](bind_rx_atom, endpoint_id id, caf::actor& hdl) {
        auto i = rxs_.find(id);
        if (i == rxs_.end())
          return;
        watch(hdl).rxs.push_back(id);
        i->second.host = std::move(hdl);
        settle(id);
      },
      [this](close_tx_atom, endpoint_id id, batch<T>& xs, uint32_t give_back) {
        on_push(id, xs, give_back);
        if (auto i = txs_.find(id); i != txs_.end() && i->second.host)
          send(i->second.host, close_ack_atom::value, id);
        drop_tx(id);
        settle();
      },
      [this](close_rx_atom, endpoint_id id, batch<T>& rest, uint32_t consumed) {
        on_close_rx(id, rest, consumed);
      },
      [this](items_atom, endpoint_id id, batch<T>& xs, int64_t at) {
        on_bounced(id, xs, at);
      },
      [this](abandon_atom, endpoint_id id) {
        if (auto i = txs_.find(id); i != txs_.end() && !i->second.host)
          drop_tx(id);
        if (auto i = rxs_.find(id); i != rxs_.end() && !i->second.host)
          drop_rx(i);
        settle();
      },
      [this](forget_atom, endpoint_id id) {
        // The process holding this end is lost, bound or not: drop it now,
        // without waiting for the down message of its actor (which races
        // with the one its supervisor got), and answer once done.
        bool known = txs_.count(id) != 0 || rxs_.count(id) != 0;
        drop_tx(id);
        if (auto i = rxs_.find(id); i != rxs_.end())
          drop_rx(i);
        settle();
        return known;
      },
      [this](rx_gone_atom, endpoint_id, batch<T>& xs, uint64_t) {
        // Bounced: the sender closed before its returned items reached it.
        stats_->count_dropped(xs.size());
      },
    };
  }

private:
  // -- message handlers (one per protocol message that needs more than a few
  //    lines; see make_behavior) --------------------------------------------

  void on_pull(endpoint_id id, uint32_t consumed, uint32_t demand) {
    auto i = rxs_.find(id);
    if (i == rxs_.end())
      return;
    mark_consumed(i->second, consumed);
    if (demand > 0) {
      if (i->second.demand == 0)
        hungry_.push_back(id);
      i->second.demand += demand;
    }
    settle(id);
  }

  void on_bind_tx(endpoint_id id, caf::actor& hdl) {
    auto i = txs_.find(id);
    if (i == txs_.end())
      return;
    watch(hdl).txs.push_back(id);
    i->second.host = std::move(hdl);
    if (rx_gone_sent_)
      send(i->second.host, rx_gone_atom::value, id, batch<T>{}, i->second.seen);
  }

  void on_close_rx(endpoint_id id, batch<T>& rest, uint32_t consumed) {
    auto i = rxs_.find(id);
    if (i == rxs_.end())
      return;
    auto& rx = i->second;
    mark_consumed(rx, consumed);
    // The receiver hands back its unconsumed read-ahead: the oldest of
    // its ledger. Whatever the ledger holds beyond that is still on its
    // way to the receiver's host, which bounces it back before it sees
    // the ack (messages between two actors keep their order).
    auto n = static_cast<uint32_t>(rest.size());
    requeue(take_front(rx.origins, n), rest, 0); // their stamp is lost
    rx.delivered -= std::min(rx.delivered, n);
    delivered_ -= n;
    if (rx.host && rx.delivered > 0) {
      bouncing_ += rx.delivered;
      delivered_ -= rx.delivered;
      bouncing_rxs_.emplace(id,
                            bounce_info{rx.host.address(),
                                        std::move(rx.origins), rx.delivered});
      rx.delivered = 0;
    }
    if (rx.host)
      send(rx.host, close_ack_atom::value, id);
    drop_rx(i);
    settle();
  }

  /// Items of receiver `id` that were on their way when it closed.
  void on_bounced(endpoint_id id, batch<T>& xs, int64_t at) {
    auto i = bouncing_rxs_.find(id);
    if (i == bouncing_rxs_.end()) {
      stats_->count_dropped(xs.size());
      return;
    }
    auto n
      = static_cast<uint32_t>(std::min<size_t>(xs.size(), i->second.pending));
    requeue(take_front(i->second.origins, n), xs, at);
    i->second.pending -= n;
    bouncing_ -= n;
    if (i->second.pending == 0) {
      auto addr = i->second.host;
      bouncing_rxs_.erase(i);
      release_host(addr);
    }
    settle();
  }

  struct segment {
    endpoint_id from;
    uint32_t count;
  };

  using ledger = std::deque<segment>;

  struct tx_info {
    caf::actor host;
    uint32_t granted = 0;
    uint32_t want = 0;
    /// Asked to give unused credit back; cleared by its next push.
    bool recalled = false;
    /// Items received from this sender so far.
    uint64_t seen = 0;
  };

  struct rx_info {
    caf::actor host;
    uint32_t demand = 0;
    uint32_t delivered = 0;
    bool eos_sent = false;
    ledger origins;
  };

  struct bounce_info {
    caf::actor_addr host;
    ledger origins;
    uint32_t pending;
  };

  struct chunk {
    endpoint_id from;
    std::vector<T> items;
    size_t pos;
    /// When the items came (`probe_clock`; see stage_probe.hpp, Latency).
    int64_t at;

    size_t size() const noexcept {
      return items.size() - pos;
    }
  };

  struct host_info {
    size_t refs = 0;
    /// Endpoints bound to this host (some may be gone meanwhile).
    std::vector<endpoint_id> txs;
    std::vector<endpoint_id> rxs;
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

  void on_push(endpoint_id id, std::vector<T>& xs, uint32_t give_back) {
    stats_->messages_in.fetch_add(1, std::memory_order_relaxed);
    auto n = static_cast<uint32_t>(xs.size());
    auto i = txs_.find(id);
    if (i != txs_.end()) {
      // A sender never pushes more than it was granted (see tx_endpoint).
      auto used = std::min(i->second.granted, n + give_back);
      i->second.granted -= used;
      granted_ -= used;
      i->second.seen += n;
      i->second.recalled = false;
    }
    if (n == 0)
      return;
    stats_->pushed.fetch_add(n, std::memory_order_relaxed);
    if (rx_gone_sent_) {
      // Every receiver is gone and the sender knows: straight back.
      go_home(id, std::move(xs));
      return;
    }
    buffered_ += n;
    buffer_.push_back(chunk{id, std::move(xs), 0, probe_clock()});
    record_in_flight();
  }

  void mark_consumed(rx_info& rx, uint32_t n) {
    n = std::min(n, rx.delivered);
    rx.delivered -= n;
    delivered_ -= n;
    take_front(rx.origins, n);
  }

  /// The sender wants to hold `target` credits (including credit on its way
  /// to it); the channel tops it up as capacity frees.
  void set_target(endpoint_id id, tx_info& tx, uint32_t target) {
    auto want = target > tx.granted ? target - tx.granted : 0;
    if (want > 0 && tx.want == 0)
      waiting_.push_back(id);
    tx.want = want;
  }

  /// Removes the first `n` items' origins from `xs` and returns them.
  static ledger take_front(ledger& xs, uint32_t n) {
    ledger result;
    while (n > 0 && !xs.empty()) {
      auto& front = xs.front();
      auto k = std::min(n, front.count);
      result.push_back(segment{front.from, k});
      front.count -= k;
      n -= k;
      if (front.count == 0)
        xs.pop_front();
    }
    return result;
  }

  /// Puts items that a receiver handed back (or that bounced) in front of the
  /// buffer, split by origin, behind items requeued earlier: they were
  /// delivered before anything still buffered, and after those.
  void requeue(const ledger& origins, std::vector<T>& xs, int64_t at) {
    if (xs.empty())
      return;
    std::vector<chunk> parts;
    size_t pos = 0;
    for (auto& seg : origins) {
      auto k = std::min<size_t>(seg.count, xs.size() - pos);
      if (k == 0)
        break;
      std::vector<T> part(std::make_move_iterator(xs.begin() + pos),
                          std::make_move_iterator(xs.begin() + pos + k));
      parts.push_back(chunk{seg.from, std::move(part), 0, at});
      pos += k;
    }
    if (pos < xs.size()) // no origin known (cannot happen in practice)
      parts.push_back(
        chunk{endpoint_id{},
              std::vector<T>(std::make_move_iterator(xs.begin() + pos),
                             std::make_move_iterator(xs.end())),
              0, at});
    // Find the end of the requeued prefix of the buffer.
    auto where = buffer_.begin();
    for (size_t seen = 0; seen < requeued_ && where != buffer_.end(); ++where)
      seen += where->size();
    for (auto& p : parts) {
      buffered_ += p.size();
      requeued_ += p.size();
      where = buffer_.insert(where, std::move(p));
      ++where;
    }
  }

  // -- membership ------------------------------------------------------------

  host_info& watch(const caf::actor& hdl) {
    auto& info = hosts_[hdl.address()];
    if (info.refs++ == 0)
      monitor(hdl);
    return info;
  }

  void release_host(const caf::actor_addr& addr) {
    auto i = hosts_.find(addr);
    if (i != hosts_.end() && --i->second.refs == 0) {
      demonitor(addr);
      hosts_.erase(i);
    }
  }

  void drop_tx(endpoint_id id) {
    auto i = txs_.find(id);
    if (i == txs_.end())
      return;
    granted_ -= i->second.granted;
    if (i->second.host)
      release_host(i->second.host.address());
    txs_.erase(i);
    if (txs_.empty())
      tx_closed_ = true;
  }

  template <class Iterator>
  void drop_rx(Iterator i) {
    auto& rx = i->second;
    if (rx.delivered > 0) {
      // Only after the host died: the items went with it.
      stats_->count_dropped(rx.delivered);
      delivered_ -= rx.delivered;
    }
    // A bouncing receiver keeps its host watched until its items are back.
    if (rx.host && bouncing_rxs_.count(i->first) == 0)
      release_host(rx.host.address());
    if (!rx.eos_sent)
      --eos_unsent_;
    rxs_.erase(i);
    if (rxs_.empty())
      rx_closed_ = true;
  }

  /// True once the channel's pipeline stops (see `channel_stats::stopping`):
  /// nobody wants the items back any more.
  bool stopping() const noexcept {
    return stats_->stopping.load(std::memory_order_acquire);
  }

  /// Hands `xs` back to a sender (the batch of an `rx_gone` message), or
  /// drops them if the pipeline stops; the sender gets the message anyway,
  /// since its `send` fails only once every item it pushed is accounted for.
  batch<T> hand_back(std::vector<T> xs) {
    if (stopping()) {
      stats_->count_dropped(xs.size());
      return batch<T>{};
    }
    stats_->returned.fetch_add(xs.size(), std::memory_order_relaxed);
    return batch<T>{std::move(xs)};
  }

  /// Sends items back to the sender they came from, or counts them lost.
  void go_home(endpoint_id from, std::vector<T> xs) {
    if (xs.empty())
      return;
    auto n = xs.size();
    if (auto i = txs_.find(from); i != txs_.end() && i->second.host) {
      send(i->second.host, rx_gone_atom::value, from, hand_back(std::move(xs)),
           i->second.seen);
    } else {
      // The sender is gone as well: nobody is left to take the items.
      stats_->count_dropped(n);
    }
  }

  /// Every receiver is gone and nothing is on its way back from one: hand
  /// everything buffered back to its sender, one message per sender, and
  /// tell every sender how many of its items the channel has seen, so that
  /// its `send` fails only once all its items are accounted for.
  void send_rx_gone() {
    rx_gone_sent_ = true;
    std::unordered_map<endpoint_id, std::vector<T>> home;
    for (auto& b : buffer_) {
      auto& out = home[b.from];
      out.insert(out.end(), std::make_move_iterator(b.items.begin() + b.pos),
                 std::make_move_iterator(b.items.end()));
    }
    buffer_.clear();
    buffered_ = 0;
    requeued_ = 0;
    for (auto& [id, tx] : txs_) {
      granted_ -= tx.granted;
      tx.granted = 0;
      tx.want = 0;
      std::vector<T> xs;
      if (auto i = home.find(id); i != home.end()) {
        xs = std::move(i->second);
        home.erase(i);
      }
      if (tx.host) {
        send(tx.host, rx_gone_atom::value, id, hand_back(std::move(xs)),
             tx.seen);
      } else {
        stats_->count_dropped(xs.size());
      }
    }
    for (auto& [id, xs] : home) // senders that are gone already
      stats_->count_dropped(xs.size());
    waiting_.clear();
  }

  void on_down(const caf::down_msg& dm) {
    // Only the endpoints bound to the dead host: O(its endpoints), so that
    // cancelling many workers of one channel stays linear.
    host_info info;
    if (auto i = hosts_.find(dm.source); i != hosts_.end()) {
      info = std::move(i->second);
      hosts_.erase(i);
    }
    for (auto i = bouncing_rxs_.begin(); i != bouncing_rxs_.end();) {
      if (i->second.host == dm.source) {
        // Items on their way to a receiver that died are gone with it.
        stats_->count_dropped(i->second.pending);
        bouncing_ -= i->second.pending;
        i = bouncing_rxs_.erase(i);
      } else {
        ++i;
      }
    }
    for (auto id : info.txs) {
      auto i = txs_.find(id);
      if (i != txs_.end() && i->second.host.address() == dm.source) {
        i->second.host = nullptr;
        drop_tx(id);
      }
    }
    for (auto id : info.rxs) {
      auto i = rxs_.find(id);
      if (i != rxs_.end() && i->second.host.address() == dm.source) {
        i->second.host = nullptr;
        drop_rx(i);
      }
    }
    settle();
  }

  // -- dispatching -----------------------------------------------------------

  /// Moves items to hungry receivers, grants credit, signals end-of-stream
  /// and quits once no handle is left. `hint` is the receiver that just
  /// reported, if any.
  void settle(endpoint_id hint = {}) {
    if (rx_closed_) {
      if (!rx_gone_sent_ && bouncing_ == 0)
        send_rx_gone();
    } else {
      dispatch();
      grant();
      if (tx_closed_ && buffered_ == 0 && eos_unsent_ > 0)
        send_eos(hint);
    }
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
      // The oldest item's stamp, for the receiver's latency histogram; a
      // receiver in another process has another clock.
      auto at = rx.host.node() == node() ? front.at : 0;
      if (front.pos == 0 && front.items.size() == n) {
        add_origin(rx.origins, front.from, n);
        out = std::move(front.items);
        buffer_.pop_front();
      } else {
        out.reserve(n);
        while (out.size() < n) {
          auto& b = buffer_.front();
          auto k = std::min(n - out.size(), b.size());
          auto first = b.items.begin() + static_cast<ptrdiff_t>(b.pos);
          out.insert(
            out.end(), std::make_move_iterator(first),
            std::make_move_iterator(first + static_cast<ptrdiff_t>(k)));
          add_origin(rx.origins, b.from, k);
          b.pos += k;
          if (b.pos == b.items.size())
            buffer_.pop_front();
        }
      }
      auto k = static_cast<uint32_t>(out.size());
      buffered_ -= k;
      requeued_ -= std::min<size_t>(requeued_, k);
      rx.demand -= k;
      rx.delivered += k;
      delivered_ += k;
      stats_->delivered.fetch_add(k, std::memory_order_relaxed);
      send(rx.host, items_atom::value, id, batch<T>{std::move(out)}, at);
      if (rx.demand > 0)
        hungry_.push_back(id);
    }
  }

  static void add_origin(ledger& xs, endpoint_id from, size_t n) {
    if (!xs.empty() && xs.back().from == from)
      xs.back().count += static_cast<uint32_t>(n);
    else
      xs.push_back(segment{from, static_cast<uint32_t>(n)});
  }

  void grant() {
    while (!waiting_.empty()) {
      auto cap = free_capacity();
      if (cap == 0) {
        if (starving())
          recall();
        return;
      }
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

  /// True if a sender waits for credit with none left: it cannot go on
  /// until it gets some. A sender that still holds credit only wants to top
  /// up its window and can wait for capacity to free; recalling the credit
  /// of others on its behalf would make busy senders that take turns strip
  /// each other's credit, so that each stalls at the start of its next turn.
  bool starving() const {
    for (auto id : waiting_)
      if (auto i = txs_.find(id);
          i != txs_.end() && i->second.want > 0 && i->second.granted == 0)
        return true;
    return false;
  }

  /// Senders keep unused credit while idle (no round trip when they resume);
  /// when a sender starves for capacity, every holder is asked to give its
  /// credit back (a sender gives back only what it is not waiting to use).
  /// Also holders that still want a top-up: their credit may be idle for
  /// good, e.g. parallel_then's workers, idle because the ordered gather
  /// waits for the starving sender's item.
  void recall() {
    if (granted_ == 0)
      return;
    for (auto& [id, tx] : txs_) {
      if (tx.granted > 0 && !tx.recalled && tx.host) {
        tx.recalled = true;
        send(tx.host, recall_atom::value, id);
      }
    }
  }

  /// End-of-stream goes out once no other receiver holds unconsumed items: a
  /// receiver that closes hands them back, and someone must still be there
  /// to take them.
  void send_eos(endpoint_id hint) {
    auto emit = [this](endpoint_id id, rx_info& rx) {
      if (!rx.eos_sent && rx.host) {
        rx.eos_sent = true;
        --eos_unsent_;
        send(rx.host, eos_atom::value, id);
      }
    };
    if (delivered_ == 0 && bouncing_ == 0) {
      for (auto& [id, rx] : rxs_)
        emit(id, rx);
    } else if (auto i = rxs_.find(hint); i != rxs_.end()
                                         && i->second.delivered == delivered_
                                         && bouncing_ == 0) {
      emit(i->first, i->second);
    }
  }

  channel_params params_;
  std::shared_ptr<channel_stats> stats_;
  std::unordered_map<endpoint_id, tx_info> txs_;
  std::unordered_map<endpoint_id, rx_info> rxs_;
  std::unordered_map<endpoint_id, bounce_info> bouncing_rxs_;
  std::unordered_map<caf::actor_addr, host_info> hosts_;
  std::deque<chunk> buffer_;
  std::deque<endpoint_id> hungry_;
  std::deque<endpoint_id> waiting_;
  size_t buffered_ = 0;
  size_t requeued_ = 0;
  size_t granted_ = 0;
  size_t delivered_ = 0;
  size_t bouncing_ = 0;
  size_t eos_unsent_ = 1;
  bool tx_closed_ = false;
  bool rx_closed_ = false;
  bool rx_gone_sent_ = false;
};

} // namespace actorflow::detail
