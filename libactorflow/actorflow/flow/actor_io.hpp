// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Pipelines that talk to existing CAF actors (event-based, user-written):
//
//   from_actor<T>(producer)  a source that pulls items from an actor, never
//                            asking for more than `credit` items at a time
//   flow<T>::to_actor(consumer)
//                            a sink that sends batches to an actor, with at
//                            most `window` batches unacknowledged
//
// Both protocols are plain CAF request/response, so an actor takes part with
// one message handler:
//
//   producer:  (demand_atom, uint32_t n) -> std::vector<T>
//              at most n items; an empty vector ends the stream; an error
//              reply fails the pipeline. The reply may come later through a
//              response promise (see `actor_source_queue`).
//   consumer:  (batch_atom, std::vector<T>) -> void
//              the (empty) reply acknowledges the batch and lets the next
//              one go; an error reply fails the pipeline.
//
// Why request/response: a synchronous producer (a cursor, a generator)
// answers a pull in a few lines and keeps no protocol state; an
// asynchronous one answers with a response promise; errors travel as error
// replies; CAF matches every reply to its request. A producer or consumer
// that terminates before its part is done (the producer without ending the
// stream) fails the pipeline with an error naming the stage: the stage
// monitors its peer, so even a reply that can never come does not hang.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>

#include "actorflow/detail/host.hpp"
#include "actorflow/error.hpp"
#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/options.hpp"
#include "actorflow/flow/pipeline.hpp"
#include "actorflow/flow/plumbing.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"
#include "actorflow/task.hpp"

namespace actorflow {

/// Pulls items from a producer actor: `(demand_atom, uint32_t n)`, answered
/// with a `std::vector<T>` of at most `n` items (empty: end of stream).
using demand_atom = caf::atom_constant<caf::atom("af_demand")>;

/// Delivers items to a consumer actor: `(batch_atom, std::vector<T>)`,
/// answered with an empty reply (a handler returning void) once the consumer
/// is done with the batch.
using batch_atom = caf::atom_constant<caf::atom("af_batch")>;

/// Settings of `from_actor`.
struct actor_source_options {
  /// Items the source may have asked for and not yet passed downstream:
  /// requested-but-unanswered plus received-but-unsent items never exceed
  /// this. The source asks for more once half of it is free.
  uint32_t credit = 64;
  /// Limit for one pull (none by default: a producer may take its time). An
  /// expired pull fails the pipeline.
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
};

/// Settings of `flow<T>::to_actor`.
struct actor_sink_options {
  /// Most items per batch message. A batch leaves when it is full or when
  /// the sink has no further item at hand (and the window allows).
  uint32_t batch = 64;
  /// Most batches sent to the consumer and not yet acknowledged.
  uint32_t window = 2;
  /// Limit for one acknowledgement (none by default). An expired one fails
  /// the pipeline.
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
  /// The channel into the sink stage.
  stage_options stage = {};
};

namespace detail {

inline caf::duration to_duration(
  const std::optional<std::chrono::milliseconds>& x) {
  if (!x)
    return caf::infinite;
  return caf::duration{*x};
}

/// What a `from_actor` stage shares with its response and down callbacks.
template <class T>
struct actor_source_state {
  host* self = nullptr;
  std::deque<T> buf;
  bool pulling = false;
  bool ended = false;
  std::string failure;
  std::coroutine_handle<> waiter;

  /// Resumes the stage if it waits for items. `from_callback`: called from
  /// a response handler (outside an activation of the host).
  void wake(bool from_callback) {
    if (auto h = std::exchange(waiter, nullptr)) {
      if (from_callback)
        self->resume_from_callback(h);
      else
        self->make_ready(h);
    }
  }

  bool ready() const noexcept {
    return !buf.empty() || ended || !failure.empty();
  }
};

template <class T>
task<> actor_source_body(caf::actor producer, actor_source_options opts,
                         sender<T> out) {
  using state_t = actor_source_state<T>;
  auto st = std::make_shared<state_t>();
  st->self = host::current();
  st->self->when_down(producer.address(), [st](const caf::error& reason) {
    if (!st->ended && st->failure.empty())
      st->failure = "the producer terminated before ending the stream ("
                    + to_string_any(reason) + ")";
    st->wake(false);
  });
  const uint32_t credit = opts.credit;
  const auto timeout = to_duration(opts.timeout);
  struct wait_items {
    state_t* st;
    bool await_ready() const noexcept {
      return st->ready();
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      st->waiter = h;
    }
    void await_resume() const noexcept {
      // nop
    }
  };
  for (;;) {
    if (!st->failure.empty())
      throw std::runtime_error(st->failure);
    // Ask for more once half the credit is free; never for more than the
    // free credit.
    if (!st->ended && !st->pulling && st->buf.size() <= credit / 2) {
      auto n = static_cast<uint32_t>(credit - st->buf.size());
      st->pulling = true;
      st->self->request(producer, timeout, demand_atom::value, n)
        .then(
          [st, n](std::vector<T>& xs) {
            st->pulling = false;
            if (xs.size() > n) {
              if (st->failure.empty())
                st->failure = "the producer sent " + std::to_string(xs.size())
                              + " items for a demand of " + std::to_string(n);
            } else if (xs.empty()) {
              st->ended = true;
            } else {
              for (auto& x : xs)
                st->buf.push_back(std::move(x));
            }
            st->wake(true);
          },
          [st](caf::error& err) {
            st->pulling = false;
            if (st->failure.empty())
              st->failure = "pulling from the producer failed: "
                            + to_string_any(err);
            st->wake(true);
          });
    }
    if (st->buf.empty()) {
      if (st->ended)
        co_return;
      co_await wait_items{st.get()};
      continue;
    }
    auto x = std::move(st->buf.front());
    st->buf.pop_front();
    if (!co_await out.send(std::move(x)))
      co_return; // downstream is done (e.g. take): no more pulls
  }
}

/// What a `to_actor` stage shares with its response and down callbacks.
template <class T>
class actor_sink_core
  : public std::enable_shared_from_this<actor_sink_core<T>> {
public:
  actor_sink_core(host* self, caf::actor consumer, actor_sink_options opts)
    : self_(self),
      consumer_(std::move(consumer)),
      batch_(opts.batch),
      window_(opts.window),
      timeout_(to_duration(opts.timeout)) {
    pending_.reserve(batch_);
  }

  std::vector<T> pending_;
  uint32_t unacked_ = 0;
  std::string failure_;
  std::coroutine_handle<> waiter_;

  bool full() const noexcept {
    return pending_.size() >= batch_;
  }

  bool can_ship() const noexcept {
    return !pending_.empty() && unacked_ < window_ && failure_.empty();
  }

  /// Sends the pending items as one batch.
  void ship() {
    auto xs = std::move(pending_);
    pending_ = std::vector<T>{};
    pending_.reserve(batch_);
    ++unacked_;
    auto me = this->shared_from_this();
    self_->request(consumer_, timeout_, batch_atom::value, std::move(xs))
      .then([me]() { me->on_reply(caf::error{}); },
            [me](caf::error& err) { me->on_reply(std::move(err)); });
  }

  void fail(std::string what) {
    if (failure_.empty())
      failure_ = std::move(what);
  }

  /// Resumes the stage if it waits for an acknowledgement.
  void wake(bool from_callback) {
    if (auto h = std::exchange(waiter_, nullptr)) {
      if (from_callback)
        self_->resume_from_callback(h);
      else
        self_->make_ready(h);
    }
  }

private:
  void on_reply(caf::error err) {
    --unacked_;
    if (err)
      fail("the consumer did not acknowledge a batch: " + to_string_any(err));
    // The stage waits either for input (then what it holds is all there is
    // for now) or for this acknowledgement: either way, send what waits.
    if (can_ship())
      ship();
    wake(true);
  }

  host* self_;
  caf::actor consumer_;
  uint32_t batch_;
  uint32_t window_;
  caf::duration timeout_;
};

template <class T>
task<> actor_sink_body(caf::actor consumer, actor_sink_options opts,
                       receiver<T> in) {
  using core_t = actor_sink_core<T>;
  auto self = host::current();
  auto core = std::make_shared<core_t>(self, consumer, opts);
  std::weak_ptr<core_t> weak = core;
  self->when_down(consumer.address(), [weak](const caf::error& reason) {
    if (auto c = weak.lock()) {
      if (c->unacked_ > 0 || !c->pending_.empty())
        c->fail("the consumer terminated with batches unacknowledged ("
                + to_string_any(reason) + ")");
      c->wake(false);
    }
  });
  struct wait_ack {
    core_t* core;
    bool await_ready() const noexcept {
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      core->waiter_ = h;
    }
    void await_resume() const noexcept {
      // nop
    }
  };
  auto check = [&] {
    if (!core->failure_.empty())
      throw std::runtime_error(core->failure_);
  };
  for (;;) {
    auto next = in.recv();
    // About to wait for input: what we hold is all there is for now.
    if (!next.await_ready() && core->can_ship())
      core->ship();
    auto x = co_await next;
    check();
    if (!x)
      break;
    core->pending_.push_back(std::move(*x));
    if (core->full()) {
      if (core->can_ship())
        core->ship();
      while (core->full()) {
        co_await wait_ack{core.get()}; // an acknowledgement ships it
        check();
      }
    }
  }
  // End of input: send the rest, then wait until the consumer has it all.
  while (!core->pending_.empty() || core->unacked_ > 0) {
    if (core->can_ship()) {
      core->ship();
      continue;
    }
    co_await wait_ack{core.get()};
    check();
  }
  check();
}

} // namespace detail

/// A stream of the items an existing actor produces on demand. The source
/// stage asks `producer` with `(demand_atom, uint32_t n)` and expects a
/// `std::vector<T>` of at most `n` items in reply; an empty vector ends the
/// stream. Only one pull is outstanding at a time, and requested plus
/// received-but-not-yet-forwarded items never exceed `opts.credit`: the
/// producer never has more items on their way than the pipeline granted.
///
/// Errors (each fails the pipeline, naming the stage `from_actor#N`): an
/// error reply, more items than demanded, the producer terminating before it
/// replied with an empty vector, an expired `timeout`.
///
/// ~~~
/// // A producer of 0, 1, ..., 999:
/// auto counter = sys.spawn([]() -> caf::behavior {
///   auto next = std::make_shared<int>(0);
///   return {[next](actorflow::demand_atom, uint32_t n) {
///     std::vector<int> xs;
///     while (xs.size() < n && *next < 1000)
///       xs.push_back((*next)++);
///     return xs; // empty once all were sent: the end
///   }};
/// });
/// auto sum = actorflow::from_actor<int>(counter)
///              .fold(0L, [](long acc, int x) { return acc + x; })
///              .run(sys);
/// ~~~
template <class T>
flow<T> from_actor(caf::actor producer, actor_source_options opts = {}) {
  if (!producer)
    return flow<T>{nullptr, make_error(error_code::invalid_argument,
                                       "from_actor: invalid actor handle")};
  if (opts.credit == 0)
    return flow<T>{nullptr,
                   make_error(error_code::invalid_argument,
                              "from_actor: credit must be at least 1")};
  return flow<T>{[producer, opts](detail::build_context& ctx, sender<T> out) {
    ctx.spawn(
      ctx.stage_name("from_actor"),
      [producer, opts](sender<T> out) {
        return detail::actor_source_body<T>(producer, opts, std::move(out));
      },
      std::move(out));
  }};
}

template <class T>
pipeline<caf::unit_t> flow<T>::to_actor(caf::actor consumer) && {
  return std::move(*this).to_actor(std::move(consumer), actor_sink_options{});
}

template <class T>
pipeline<caf::unit_t> flow<T>::to_actor(caf::actor consumer,
                                        actor_sink_options opts) && {
  if (!consumer)
    return pipeline<caf::unit_t>{nullptr,
                                 make_error(error_code::invalid_argument,
                                            "to_actor: invalid actor handle")};
  if (opts.batch == 0 || opts.window == 0)
    return pipeline<caf::unit_t>{
      nullptr, make_error(error_code::invalid_argument,
                          "to_actor: batch and window must be at least 1")};
  return std::move(*this).template sink<caf::unit_t>(
    "to_actor", opts.stage, caf::unit,
    [consumer, opts](std::shared_ptr<caf::unit_t>, receiver<T> in) {
      return detail::actor_sink_body<T>(consumer, opts, std::move(in));
    });
}

/// The producer's side of `from_actor` for actors whose items arrive over
/// time (from other actors, timers, I/O): it keeps the pipeline's pending
/// pull as a response promise and the items that arrived before a pull.
/// Use it from the actor's handlers only (it is not thread-safe).
///
/// Items pushed while no pull is pending wait in the queue (`buffered()`);
/// `demand()` is how many items a pending pull asks for. A producer that
/// must stay bounded itself accepts from its own sources only while
/// `buffered()` is below its limit.
///
/// ~~~
/// struct state { actorflow::actor_source_queue<int> q; };
/// caf::behavior producer(caf::stateful_actor<state>* self) {
///   self->state.q.attach(self);
///   return {
///     [self](actorflow::demand_atom, uint32_t n) {
///       return self->state.q.pull(n);    // items now, or a promise
///     },
///     [self](int reading) { self->state.q.push(reading); },
///     [self](caf::close_atom) { self->state.q.close(); },
///   };
/// }
/// ~~~
template <class T>
class actor_source_queue {
public:
  /// An empty queue, to be assigned one for an actor.
  actor_source_queue() = default;

  /// A queue that `self` fills (it must be the actor that serves the
  /// source's demand).
  explicit actor_source_queue(caf::local_actor* self) : self_(self) {
    // nop
  }

  /// Binds the queue to the actor whose handlers use it.
  void attach(caf::local_actor* self) {
    self_ = self;
  }

  /// Answers `(demand_atom, n)`: buffered items (at most `n`) at once, an
  /// empty vector once closed and drained, the error after `fail`, or a
  /// promise that the next `push` (or `close`/`fail`) keeps.
  caf::result<std::vector<T>> pull(uint32_t n) {
    if (pending_.pending()) // a second puller: not part of the protocol
      return make_error(error_code::invalid_argument,
                        "actor_source_queue: a second pull while one is "
                        "pending (one pipeline per queue)");
    if (failure_)
      return failure_;
    if (!buf_.empty() || closed_)
      return take(n);
    demand_ = n;
    pending_ = self_->make_response_promise();
    return pending_;
  }

  /// Adds an item: it goes out at once if a pull is pending, else it waits
  /// for the next pull. Pushing after `close` is a logic error.
  void push(T x) {
    if (closed_ || failure_)
      throw std::logic_error("actor_source_queue: push after close or fail");
    buf_.push_back(std::move(x));
    if (pending_.pending())
      pending_.deliver(take(demand_));
  }

  /// Ends the stream once the buffered items are out.
  void close() {
    closed_ = true;
    if (pending_.pending())
      pending_.deliver(take(demand_));
  }

  /// Fails the pipeline (after nothing: buffered items are dropped).
  void fail(caf::error err) {
    failure_ = std::move(err);
    buf_.clear();
    if (pending_.pending()) {
      demand_ = 0;
      pending_.deliver(failure_);
    }
  }

  /// Items the pipeline asked for and did not get yet.
  size_t demand() const noexcept {
    return pending_.pending() ? demand_ : 0;
  }

  /// Items pushed and not yet pulled.
  size_t buffered() const noexcept {
    return buf_.size();
  }

  /// True once `close` was called.
  bool closed() const noexcept {
    return closed_;
  }

private:
  std::vector<T> take(uint32_t n) {
    auto k = std::min<size_t>(n, buf_.size());
    std::vector<T> xs;
    xs.reserve(k);
    for (size_t i = 0; i < k; ++i) {
      xs.push_back(std::move(buf_.front()));
      buf_.pop_front();
    }
    demand_ = 0;
    return xs;
  }

  caf::local_actor* self_ = nullptr;
  std::deque<T> buf_;
  caf::response_promise pending_;
  uint32_t demand_ = 0;
  bool closed_ = false;
  caf::error failure_;
};

} // namespace actorflow
