// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/clock.hpp"

#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>

namespace actorflow {

namespace {

/// Enqueues `msg` itself (not a message holding it) at `whom`.
void deliver(const caf::actor& whom, caf::message msg) {
  whom->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                          std::move(msg)),
                nullptr);
}

class steady_clock_impl final : public clock {
public:
  time_point now() const override {
    return std::chrono::steady_clock::now();
  }

  void schedule(time_point at, caf::actor whom, caf::message msg) override {
    if (!whom)
      return;
    auto& sys = whom->home_system();
    auto ptr = caf::actor_cast<caf::strong_actor_ptr>(std::move(whom));
    sys.clock().schedule_message(
      at, std::move(ptr),
      caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                std::move(msg)));
  }
};

} // namespace

clock::~clock() {
  // nop
}

std::shared_ptr<clock> steady_clock() {
  static const std::shared_ptr<clock> instance
    = std::make_shared<steady_clock_impl>();
  return instance;
}

virtual_clock::~virtual_clock() {
  // nop
}

virtual_clock::time_point virtual_clock::now() const {
  std::lock_guard guard{mtx_};
  return now_;
}

void virtual_clock::schedule(time_point at, caf::actor whom, caf::message msg) {
  {
    std::lock_guard guard{mtx_};
    ++scheduled_;
    if (at > now_) {
      // Weak: a timer that never fires must not keep its actor alive (the
      // actor holds this clock).
      due_.emplace(at, entry{whom.address(), std::move(msg)});
      whom = nullptr;
    }
  }
  cv_.notify_all();
  if (whom)
    deliver(whom, std::move(msg));
}

void virtual_clock::advance(duration d) {
  std::vector<entry> fire;
  {
    std::lock_guard guard{mtx_};
    if (d > duration::zero())
      now_ += d;
    auto last = due_.upper_bound(now_);
    for (auto i = due_.begin(); i != last; ++i)
      fire.push_back(std::move(i->second));
    due_.erase(due_.begin(), last);
  }
  for (auto& e : fire)
    if (auto whom = caf::actor_cast<caf::actor>(e.whom))
      deliver(whom, std::move(e.msg));
}

size_t virtual_clock::scheduled() const {
  std::lock_guard guard{mtx_};
  return scheduled_;
}

size_t virtual_clock::pending() const {
  std::lock_guard guard{mtx_};
  return due_.size();
}

bool virtual_clock::await_scheduled(size_t n,
                                    std::chrono::milliseconds limit) const {
  std::unique_lock guard{mtx_};
  return cv_.wait_for(guard, limit, [&] { return scheduled_ >= n; });
}

} // namespace actorflow
