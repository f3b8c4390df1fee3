// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/message.hpp>

#include "actorflow/detail/export.hpp"

namespace actorflow {

/// The time of the time operators (for example `batch(k, max_delay)`): what
/// "now" is, and a message delivered to an actor at a later time. A run uses
/// `steady_clock()` unless `run_options::clock` names another one, such as a
/// `virtual_clock` that a test advances by hand.
///
/// ~~~
/// auto vc = std::make_shared<actorflow::virtual_clock>();
/// actorflow::run_options ro;
/// ro.clock = vc;
/// auto r = src.batch(100, 50ms).to(out).start(sys, ro);
/// // ... once a stage armed a timer (see virtual_clock::await_scheduled):
/// vc->advance(50ms); // the partly filled batch leaves now
/// ~~~
class ACTORFLOW_EXPORT clock {
public:
  /// A span of this clock's time (nanoseconds).
  using duration = std::chrono::steady_clock::duration;

  /// A point in this clock's time.
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~clock();

  /// The current time.
  virtual time_point now() const = 0;

  /// Delivers `msg` to `whom` once `now()` reached `at` (anonymously, as if
  /// by `caf::anon_send`). A time in the past delivers at once.
  virtual void schedule(time_point at, caf::actor whom, caf::message msg) = 0;
};

/// The clock of production runs: `std::chrono::steady_clock`, with CAF's
/// actor clock delivering the messages. One instance serves every run.
ACTORFLOW_EXPORT std::shared_ptr<clock> steady_clock();

/// A clock that stands still until `advance` moves it: time operators become
/// deterministic, with no sleep in a test. It starts at the epoch of
/// `steady_clock`. Thread-safe. It holds weak handles of the actors it will
/// wake, so a timer that never fires keeps no actor alive.
///
/// ~~~
/// auto vc = std::make_shared<actorflow::virtual_clock>();
/// // ... start a run with run_options::clock = vc, then wait until a stage
/// // armed a timer, and fire it:
/// vc->await_scheduled(1, 5s);
/// vc->advance(50ms);
/// ~~~
class ACTORFLOW_EXPORT virtual_clock final : public clock {
public:
  ~virtual_clock() override;

  time_point now() const override;

  void schedule(time_point at, caf::actor whom, caf::message msg) override;

  /// Moves the time forward by `d` (not below zero) and delivers every
  /// message that falls due, earliest first (in scheduling order for equal
  /// times).
  void advance(duration d);

  /// How many messages were scheduled so far, delivered or not. A stage
  /// schedules one when it starts to wait for a time, so a test can wait
  /// for that with `await_scheduled` instead of sleeping.
  size_t scheduled() const;

  /// How many scheduled messages are not delivered yet.
  size_t pending() const;

  /// Blocks until `scheduled() >= n` or `limit` passed (in real time);
  /// returns whether it got there.
  bool await_scheduled(size_t n, std::chrono::milliseconds limit) const;

private:
  struct entry {
    caf::actor_addr whom;
    caf::message msg;
  };

  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  time_point now_{};
  size_t scheduled_ = 0;
  std::multimap<time_point, entry> due_;
};

} // namespace actorflow
