// This file is part of actorflow. See README.md for the project's license.

#pragma once

// The class `flow<T>`: every member declared and documented here, defined
// out of line in plumbing.hpp (the builder's own members), operators.hpp,
// parallel_then.hpp, route_by_key.hpp, keyed.hpp, sinks.hpp, tee.hpp and actor_io.hpp.
// Include "actorflow/flow.hpp", which brings them all.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/unit.hpp>

#include "actorflow/flow/detail/build_context.hpp"
#include "actorflow/flow/event_window.hpp"
#include "actorflow/flow/options.hpp"
#include "actorflow/flow/pipeline.hpp"
#include "actorflow/sender.hpp"

namespace actorflow {

struct actor_sink_options;

template <class T, class K>
class keyed_flow;

/// A description of a stream of `T`: a source and the stages after it. Each
/// stage becomes an actor when the pipeline runs; every link is a bounded
/// credit channel. Builders are values: operators consume the builder they
/// are called on (`std::move` it to keep chaining a named one).
///
/// ~~~
/// actorflow::repeat(7).take(10)
///   .then([](int n) { return n + 1; })
///   .then([](int n) { return n * 2; })
///   .for_each([](int n) { std::cout << n << '\n'; })
///   .run(sys);
/// ~~~
template <class T>
class [[nodiscard]] flow {
public:
  /// The type of the items this flow emits.
  using value_type = T;

  /// An empty builder; every operator on it fails the pipeline.
  ///
  /// ~~~
  /// actorflow::flow<int> f;        // assigned later
  /// f = actorflow::iota(0, 10);
  /// ~~~
  flow() = default;

  /// @private A builder from what builds its stages, or from an error.
  ///
  /// ~~~
  /// flow<int>{nullptr, make_error(error_code::invalid_argument, "...")};
  /// ~~~
  explicit flow(detail::build_fn<T> build, caf::error err = {});

  // -- stages ----------------------------------------------------------------

  /// One stage actor applying `f` to every item. `f` is `T -> U`, or a
  /// coroutine `T -> task<U>` that may `co_await` (e.g. `actorflow::ask` of
  /// another actor) without blocking a scheduler thread; `U` may be a
  /// `caf::expected` (an error counts as a failure, see `error_policy`).
  /// With `{.concurrency = k}`, up to `k` calls of a coroutine `f` are in
  /// flight at once; results still leave in input order.
  ///
  /// ~~~
  /// src.then([pricer](int id) -> actorflow::task<double> {
  ///   auto p = co_await actorflow::ask<double>(pricer, 1s, id);
  ///   co_return p ? *p : 0.0;
  /// }, {.concurrency = 8});
  /// ~~~
  template <class F>
  auto then(F f, stage_options so = {}) &&;

  /// Keeps the items for which `pred` returns true.
  ///
  /// ~~~
  /// actorflow::iota(0, 10).filter([](int x) { return x % 2 == 0; });
  /// ~~~
  template <class F>
  flow<T> filter(F pred, stage_options so = {}) &&;

  /// Calls `f` on every item and passes it on unchanged.
  ///
  /// ~~~
  /// src.inspect([&](const int& x) { ++seen; });
  /// ~~~
  template <class F>
  flow<T> inspect(F f, stage_options so = {}) &&;

  /// Passes on the first `k` items, then ends the stream (which stops the
  /// stages upstream, since their sends fail).
  ///
  /// ~~~
  /// actorflow::repeat(7).take(10); // ten 7s
  /// ~~~
  flow<T> take(size_t k, stage_options so = {}) &&;

  /// Passes on items while `pred` holds; ends the stream at the first item
  /// for which it does not (that item is dropped).
  ///
  /// ~~~
  /// actorflow::iota(0).take_while([](int x) { return x < 100; });
  /// ~~~
  template <class F>
  flow<T> take_while(F pred, stage_options so = {}) &&;

  /// Pairs every item with its index: (0, x0), (1, x1), ...
  ///
  /// ~~~
  /// actorflow::from(words).enumerate(); // flow<std::pair<uint64_t, T>>
  /// ~~~
  flow<std::pair<uint64_t, T>> enumerate(stage_options so = {}) &&;

  /// `f` maps every item to a range; its elements follow one by one.
  ///
  /// ~~~
  /// lines.flat_map([](std::string s) { return split(s); });
  /// ~~~
  template <class F>
  auto flat_map(F f, stage_options so = {}) &&;

  /// Groups items into vectors of `k` (the last one may be shorter).
  /// `batch(0)` is an error.
  ///
  /// ~~~
  /// actorflow::iota(0, 10).batch(4); // {0,1,2,3} {4,5,6,7} {8,9}
  /// ~~~
  flow<std::vector<T>> batch(size_t k, stage_options so = {}) &&;

  /// Groups items into vectors of up to `k`: a batch leaves when it holds
  /// `k` items, or `max_delay` after its first item arrived, whichever comes
  /// first (and at the end of the stream). Bounds the latency that batching
  /// adds to an item by `max_delay`, on the run's clock
  /// (`run_options::clock`). `k` of 0 and a `max_delay` of zero or less are
  /// errors.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// requests.batch(100, 50ms).for_each(write_all); // 100, or what came in 50 ms
  /// ~~~
  template <class Rep, class Period>
  flow<std::vector<T>> batch(size_t k,
                             std::chrono::duration<Rep, Period> max_delay,
                             stage_options so = {}) &&;

  /// At most `n` items per `per` on average (a token bucket): an item waits
  /// for its token, and backpressure holds the upstream meanwhile. Up to
  /// `burst` items (0: `n`) pass at once after a quiet spell. Time is the
  /// run's clock (`run_options::clock`). An `n` of 0 and a `per` of zero or
  /// less are errors.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// requests.throttle(1000, 1s).then(call_service); // at most 1000/s
  /// ~~~
  template <class Rep, class Period>
  flow<T> throttle(size_t n, std::chrono::duration<Rep, Period> per,
                   size_t burst = 0, stage_options so = {}) &&;

  /// Vectors of the items that came within each window of `d` on the run's
  /// clock (processing time; the windows follow each other from the stage's
  /// start). A window without items sends nothing, and the end of the stream
  /// closes the last window early. Holds the items of one window. A count
  /// window is `batch(k)`. A `d` of zero or less is an error.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// clicks.tumbling(10s).then(count_per_page).for_each(report); // per 10 s
  /// ~~~
  template <class Rep, class Period>
  flow<std::vector<T>> tumbling(std::chrono::duration<Rep, Period> d,
                                stage_options so = {}) &&;

  /// Vectors of the items that came within the last `d`, one every `step`
  /// on the run's clock (processing time, from the stage's start): an item
  /// is in `d / step` windows, so `T` must be copyable. A window without
  /// items sends nothing, and the end of the stream closes the open windows
  /// early. Holds the items of the last `d`. `d` or `step` of zero or less,
  /// and a `step` longer than `d` (which would drop the items between
  /// windows), are errors.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// latencies.sliding(60s, 10s).then(p99).for_each(plot); // a 1-min p99
  /// ~~~
  template <class Rep, class Period, class Rep2, class Period2>
  flow<std::vector<T>> sliding(std::chrono::duration<Rep, Period> d,
                               std::chrono::duration<Rep2, Period2> step,
                               stage_options so = {}) &&;

  /// Tumbling windows of `d` by the items' own times (event time):
  /// `time_of(const T&)` gives an item's time as a duration since any fixed
  /// epoch. A window [start, start + d) leaves once the watermark, the
  /// latest item time seen minus `lateness`, passed its end, so items up to
  /// `lateness` out of order still land in their window. An item for a
  /// window that left already is late: it goes to `on_late` (count it, or
  /// send it to a side channel) and not into a window. The end of the
  /// stream sends the open windows. Windows leave in order of start, and
  /// one without items sends nothing. Holds the items of the open windows
  /// (`d + lateness` of event time). A `d` of zero or less and a negative
  /// `lateness` are errors.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// clicks.event_tumbling(1min, [](const click& c) { return c.at; }, 10s,
  ///                       [&](const click&) { ++late; })
  ///   .then(count_per_page).for_each(report);
  /// ~~~
  template <class F>
  flow<event_window<T>> event_tumbling(std::chrono::nanoseconds d, F time_of,
                                       std::chrono::nanoseconds lateness = {},
                                       std::function<void(const T&)> on_late
                                       = nullptr,
                                       stage_options so = {}) &&;

  /// An item leaves once `quiet` passed on the run's clock without a newer
  /// item; a newer item replaces it (the items in between are dropped). The
  /// last item leaves at the end of the stream. A `quiet` of zero or less is
  /// an error.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// keystrokes.debounce(300ms).then(search).for_each(show);
  /// ~~~
  template <class Rep, class Period>
  flow<T> debounce(std::chrono::duration<Rep, Period> quiet,
                   stage_options so = {}) &&;

  /// The latest item of every `period` on the run's clock (periods follow
  /// each other from the stage's start), at the end of that period; the
  /// other items are dropped, and a period without items sends nothing. The
  /// latest item leaves at the end of the stream. A `period` of zero or less
  /// is an error.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// prices.sample(1s).for_each(redraw); // at most one redraw per second
  /// ~~~
  template <class Rep, class Period>
  flow<T> sample(std::chrono::duration<Rep, Period> period,
                 stage_options so = {}) &&;

  /// Passes the items on, and fails the pipeline with `error_code::timeout`
  /// once no item came for `d` on the run's clock (waiting for credit
  /// downstream does not count). After a source: the source's idle timeout;
  /// before the sink: the run's. A `d` of zero or less is an error.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// from_actor<quote>(feed).idle_timeout(30s).for_each(store); // feed stalls
  /// ~~~
  template <class Rep, class Period>
  flow<T> idle_timeout(std::chrono::duration<Rep, Period> d,
                       stage_options so = {}) &&;

  /// For a fast producer into a slow consumer: an item passes at once while
  /// the downstream has credit; while it has none, the items merge into one
  /// (`merge(T held, T x) -> T`, e.g. a sum, or the latest), which leaves as
  /// soon as credit comes. The producer never waits, and the stage holds one
  /// item.
  ///
  /// ~~~
  /// ticks.conflate([](stats a, stats b) { return a + b; }).for_each(draw);
  /// ~~~
  template <class F>
  flow<T> conflate(F merge, stage_options so = {}) &&;

  /// The inverse of `batch`: the elements of each item (a range), in order.
  ///
  /// ~~~
  /// actorflow::iota(0, 10).batch(4).unbatch(); // 0, 1, ..., 9
  /// ~~~
  auto unbatch(stage_options so = {}) &&;

  /// `n` worker actors apply `f` to the items in parallel; a gather actor
  /// restores the input order. Dispatch is demand-driven, and at most
  /// `so.window` items (default: four times the pipeline's channel
  /// capacity, at least 64 per worker) are between the dispatcher
  /// and the gather at any time, so the gather's reorder buffer is bounded
  /// even when one item is slow: dispatch then holds back. Each worker
  /// reads `so.read_ahead` items ahead (default: about 1 ms of
  /// its measured work) and, for a coroutine
  /// `f`, has up to `so.concurrency` calls in flight. `n == 0` is an error.
  ///
  /// ~~~
  /// src.parallel_then(4, parse, {.window = 1024, .read_ahead = 32});
  /// ~~~
  template <class F>
  auto parallel_then(size_t n, F f, stage_options so = {}) &&;

  /// `parallel_then(n, f, {.window = window})`.
  ///
  /// ~~~
  /// src.parallel_then(4, parse, 1024);
  /// ~~~
  template <class F>
  auto parallel_then(size_t n, F f, size_t window) &&;

  /// `parallel_then` with `so.workers` workers, by default one per thread
  /// of the actor system's scheduler.
  ///
  /// ~~~
  /// src.parallel_then(parse); // one worker per scheduler thread
  /// ~~~
  template <class F>
  auto parallel_then(F f, stage_options so = {}) &&;

  /// Like `parallel_then`, but items leave in completion order.
  ///
  /// ~~~
  /// src.parallel_then_unordered(4, parse);
  /// ~~~
  template <class F>
  auto parallel_then_unordered(size_t n, F f, stage_options so = {}) &&;

  /// `parallel_then_unordered(n, f, {.window = window})`.
  ///
  /// ~~~
  /// src.parallel_then_unordered(4, parse, 1024);
  /// ~~~
  template <class F>
  auto parallel_then_unordered(size_t n, F f, size_t window) &&;

  /// `parallel_then_unordered` with `so.workers` workers, by default one per
  /// thread of the actor system's scheduler.
  ///
  /// ~~~
  /// src.parallel_then_unordered(parse, {.workers = 8});
  /// ~~~
  template <class F>
  auto parallel_then_unordered(F f, stage_options so = {}) &&;

  /// Routes every item to one of `n` worker actors by `key(item)`: items with
  /// the same key go to the same worker, so per-key state and per-key order
  /// hold. Output is in completion order across keys.
  ///
  /// ~~~
  /// orders.route_by_key(4, [](const order& o) { return o.account; },
  ///                     apply_to_account);
  /// ~~~
  template <class K, class F>
  auto route_by_key(size_t n, K key, F f, stage_options so = {}) &&;

  /// `route_by_key` with `so.workers` workers, by default one per thread of
  /// the actor system's scheduler.
  ///
  /// ~~~
  /// orders.route_by_key([](const order& o) { return o.account; },
  ///                     apply_to_account);
  /// ~~~
  template <class K, class F>
  auto route_by_key(K key, F f, stage_options so = {}) &&;

  /// Splits the stream by `key(item)` for windows per key (see
  /// `keyed_flow`): `n` worker actors each own the keys that hash to them.
  /// The key type must be hashable with std::hash and comparable with ==.
  ///
  /// ~~~
  /// using namespace std::chrono_literals;
  /// clicks.key_by(4, [](const click& c) { return c.page; }).tumbling(10s);
  /// ~~~
  template <class K>
  keyed_flow<T, K> key_by(size_t n, K key) &&;

  /// `key_by` with `so.workers` workers of the window's `stage_options`, by
  /// default one per thread of the actor system's scheduler.
  ///
  /// ~~~
  /// clicks.key_by([](const click& c) { return c.page; }).tumbling(10s);
  /// ~~~
  template <class K>
  keyed_flow<T, K> key_by(K key) &&;

  /// Every item also goes to a branch: `branch(flow<T>)` returns the branch's
  /// pipeline (see actorflow/flow/tee.hpp).
  ///
  /// ~~~
  /// src.tee([](actorflow::flow<int> all) {
  ///   return std::move(all).for_each([](int x) { log(x); });
  /// });
  /// ~~~
  template <class F>
  flow<T> tee(F branch) &&;

  /// Returns `f(std::move(*this))`: a piece of pipeline written once as a
  /// function of a flow chains with dots like a built-in operator (see
  /// actorflow/flow/compose.hpp). `f` returns the flow it built on, or a
  /// pipeline if it ends in a sink. The distributed stages are such pieces,
  /// e.g. `remote_parallel_then<Out>(where, "stage")`.
  ///
  /// ~~~
  /// auto parse_and_square = [](actorflow::flow<std::string> lines) {
  ///   return std::move(lines).then(parse).parallel_then(square);
  /// };
  /// auto total = read_lines(path).compose(parse_and_square).fold(0, plus);
  /// ~~~
  template <class F>
  auto compose(F f) &&;

  // -- sinks -----------------------------------------------------------------

  /// Calls `f` on every item in a sink actor.
  ///
  /// ~~~
  /// actorflow::iota(0, 10).for_each([](int x) { std::cout << x; }).run(sys);
  /// ~~~
  template <class F>
  pipeline<caf::unit_t> for_each(F f, stage_options so = {}) &&;

  /// Folds the stream into `init` with `f(acc, item) -> acc`.
  ///
  /// ~~~
  /// auto sum = actorflow::iota(0, 100)
  ///              .fold(0L, [](long acc, int x) { return acc + x; })
  ///              .run(sys); // caf::expected<long>
  /// ~~~
  template <class Acc, class F>
  pipeline<Acc> fold(Acc init, F f, stage_options so = {}) &&;

  /// Folds with the first item as the initial value; an empty stream yields
  /// `error_code::invalid_argument` ("reduce of an empty stream").
  ///
  /// ~~~
  /// auto max = src.reduce([](int& a, int b) { return std::max(a, b); })
  ///              .run(sys);
  /// ~~~
  template <class F>
  pipeline<T> reduce(F f, stage_options so = {}) &&;

  /// `n` worker actors call `f` on the items (in no particular order): the
  /// parallel sink.
  ///
  /// ~~~
  /// src.parallel_for_each(4, [](int x) { store(x); }).run(sys);
  /// ~~~
  template <class F>
  pipeline<caf::unit_t> parallel_for_each(size_t n, F f) &&;

  /// Collects every item into a vector, in stream order.
  ///
  /// ~~~
  /// auto xs = actorflow::iota(0, 10).collect().run(sys); // 0, 1, ..., 9
  /// ~~~
  pipeline<std::vector<T>> collect(stage_options so = {}) &&;

  /// Sends every item into `out` (an existing channel); the pipeline ends
  /// when the stream ends or every receiver of `out` is gone.
  ///
  /// ~~~
  /// auto ch = actorflow::channel<int>(sys, 64);
  /// auto run = actorflow::iota(0, 10).to(std::move(ch->tx)).start(sys);
  /// ~~~
  pipeline<caf::unit_t> to(sender<T> out, stage_options so = {}) &&;

  /// Sends the items in batches to an existing actor, with a bounded number
  /// of batches unacknowledged (see actorflow/flow/actor_io.hpp).
  ///
  /// ~~~
  /// actorflow::iota(0, 1000).to_actor(consumer).run(sys);
  /// ~~~
  pipeline<caf::unit_t> to_actor(caf::actor consumer) &&;

  /// Like `to_actor(consumer)`, with settings.
  ///
  /// ~~~
  /// src.to_actor(consumer, {.batch = 64, .window = 4}).run(sys);
  /// ~~~
  pipeline<caf::unit_t> to_actor(caf::actor consumer,
                                 actor_sink_options opts) &&;

  // -- plumbing --------------------------------------------------------------

  /// @private Ends the flow in a sink actor running `body(acc, in)`.
  ///
  /// ~~~
  /// std::move(*this).template sink<Acc>("sink", so, init, body);
  /// ~~~
  template <class Acc, class Body>
  pipeline<Acc> sink(const char* op, stage_options so, Acc init, Body body) &&;

  /// @private Appends a stage actor running `body(in, out)`.
  ///
  /// ~~~
  /// std::move(*this).template stage<U>("then", so, body);
  /// ~~~
  template <class U, class Body>
  flow<U> stage(const char* op, stage_options so, Body body) &&;

  /// @private Hands out what builds this flow (it is consumed).
  ///
  /// ~~~
  /// auto [build, err] = std::move(upstream).release();
  /// ~~~
  std::pair<detail::build_fn<T>, caf::error> release() &&;

private:
  /// The stage behind parallel_then(_unordered) (parallel_then.hpp).
  ///
  /// ~~~
  /// std::move(*this).template scatter_gather<true>(n, std::move(f), so);
  /// ~~~
  template <bool Ordered, class F>
  auto scatter_gather(std::optional<size_t> n, F f, stage_options so) &&;

  /// The stage behind route_by_key (route_by_key.hpp).
  ///
  /// ~~~
  /// std::move(*this).route(n, std::move(key), std::move(f), so);
  /// ~~~
  template <class K, class F>
  auto route(std::optional<size_t> n, K key, F f, stage_options so) &&;

  /// `err`, or the error of a builder used after it was moved from.
  ///
  /// ~~~
  /// if (err_ || !build_)
  ///   return flow<U>{nullptr, moved_or(err_)};
  /// ~~~
  static caf::error moved_or(const caf::error& err);

  detail::build_fn<T> build_;
  caf::error err_;
};

} // namespace actorflow
