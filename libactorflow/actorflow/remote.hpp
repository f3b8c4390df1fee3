// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Distributed pipelines: stages registered by name in node processes, and
// `remote_parallel_then`, whose workers run on nodes (and locally) while the
// scatter and the gather stay in the driver.
//
//   driver:  upstream -> scatter ==work==> workers on nodes / local workers
//                        ^  keeps a copy of every item until acknowledged
//                        |                          ==results==> gather
//                        +------ acks (seq) / worker lost <------+
//
// Every arrow is an actorflow channel whose mailbox lives in the driver; the
// nodes hold imported ends of `work` and `results`. A lost worker (its node
// died, hung past the heartbeat timeout, or the connection broke) makes the
// scatter send every unacknowledged item that the gather does not hold yet
// again; the gather drops duplicates by sequence number. So the output is
// exactly-once (and in order for the ordered variant), while a stage function
// may run more than once for an item (at-least-once execution).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "actorflow/detail/export.hpp"
#include "actorflow/flow.hpp"
#include "actorflow/remote/wire.hpp"

namespace actorflow {

// -- configuration --------------------------------------------------------------

/// TLS between the processes of distributed pipelines, with CAF's OpenSSL
/// module (`libcaf_openssl`). Every process, drivers and nodes alike,
/// presents `certificate` and accepts a peer only if the peer's certificate
/// is signed by a CA in `ca_file` (mutual authentication; CAF 0.17 checks no
/// host names, so every holder of a certificate from that CA is trusted).
/// All processes of a pipeline use TLS, or none: a TLS process and a plain
/// one cannot talk (the connect fails, or times out).
///
/// ~~~
/// actorflow::distribution_options dopts;
/// dopts.tls = actorflow::tls_options{"node.pem", "node.key", "ca.pem"};
/// if (auto err = actorflow::init_distribution(cfg, dopts))
///   ...; // a missing or unreadable file, a key that does not match
/// ~~~
struct tls_options {
  /// PEM file: this process's certificate (optionally followed by
  /// intermediate CA certificates).
  std::string certificate;
  /// PEM file: the private key of `certificate`.
  std::string key;
  /// PEM file: the CA certificate(s) that peers' certificates must chain to.
  std::string ca_file;
  /// Decrypts `key` if it is encrypted (empty: the key is not encrypted).
  std::string passphrase;
};

/// Settings of a process that takes part in distributed pipelines.
struct distribution_options {
  /// Interval of the heartbeats between connected processes (0: none).
  caf::timespan heartbeat = std::chrono::milliseconds{500};
  /// A connection without any traffic (heartbeats included) for this long is
  /// closed and its peer treated as lost: that is how a hung node (SIGSTOP,
  /// a stalled host) is detected. Only effective with heartbeats; 0: never.
  caf::timespan connection_timeout = std::chrono::seconds{5};
  /// Encrypt and authenticate every connection with TLS (unset: plain TCP).
  std::optional<tls_options> tls;
};

/// Prepares `cfg` for distributed pipelines, in drivers and nodes alike:
/// loads CAF's middleman (unless loaded already), registers actorflow's wire
/// types and sets the heartbeat (CAF's `middleman.heartbeat-interval` and
/// `middleman.connection-timeout`; a config file or the command line still
/// wins for the heartbeat interval). Call it before constructing the actor
/// system, before or after `parse`; register item types with
/// `add_item_type`.
///
/// With `opts.tls`, it also loads CAF's OpenSSL module and sets its
/// `openssl.*` options (CAF's `--openssl.*` options parsed afterwards win);
/// `serve_node` then publishes with TLS and
/// `remote_parallel_then` connects with TLS. It checks the files right away
/// (readable, PEM, the key matches the certificate, the passphrase fits)
/// and returns an `invalid_argument` error naming the file otherwise (or if
/// this build has no TLS); `serve_node` and every connect of a driver check
/// again, so a process that ignores the result fails there, never runs
/// without TLS, and never hangs.
///
/// ~~~
/// caf::actor_system_config cfg;
/// actorflow::init(cfg);
/// actorflow::init_distribution(cfg);
/// actorflow::add_item_type<int32_t>(cfg, "int32");
/// ~~~
ACTORFLOW_EXPORT caf::error init_distribution(caf::actor_system_config& cfg,
                                              distribution_options opts = {});

/// True if this build of actorflow supports `distribution_options::tls`.
ACTORFLOW_EXPORT bool tls_supported() noexcept;

/// The command-line flags of a program whose connections may use TLS:
/// `--tls-cert`, `--tls-key` and `--tls-ca` (PEM files, see `tls_options`).
/// TLS is on once any of them is given; a missing one is then an error of
/// `init_distribution`.
///
/// ~~~
/// struct config : caf::actor_system_config {
///   actorflow::tls_flags tls;
///   config() {
///     tls.add_to(opt_group{custom_options_, "global"}.add(port, "port", ""));
///   }
/// };
/// // after cfg.parse(argc, argv):
/// dopts.tls = cfg.tls.options();
/// ~~~
struct ACTORFLOW_EXPORT tls_flags {
  /// --tls-cert: this process's certificate (PEM).
  std::string certificate;
  /// --tls-key: its private key (PEM).
  std::string key;
  /// --tls-ca: the CA that signs the peers' certificates (PEM).
  std::string ca_file;

  /// Adds the three flags to `group` and returns it.
  caf::config_option_adder& add_to(caf::config_option_adder& group);

  /// The same for a group made just for them:
  /// `tls.add_to(opt_group{custom_options_, "global"})`.
  void add_to(caf::config_option_adder&& group) {
    add_to(group);
  }

  /// The TLS settings the flags gave, or none (plain TCP).
  std::optional<tls_options> options() const;

  /// The same flags again, for a process this one starts (empty: none).
  std::vector<std::string> arguments() const;
};

// -- stages by name -----------------------------------------------------------

namespace detail {

/// One stage of a `stage_registry`.
struct stage_entry {
  std::string name;
  std::type_index in;
  std::type_index out;
  /// Spawns a worker of this stage on imported ends of a work channel
  /// (`job<In>`) and a result channel (`job<Out>`).
  std::function<worker(caf::actor_system&, const remote_handle& work,
                       const remote_handle& results, worker_options)>
    spawn;
  /// The stage function (a `std::function<Out(In)>`) for local workers.
  std::shared_ptr<void> fn;
};

/// The body of one worker of a distributed stage.
template <class In, class Out>
task<> stage_worker(std::shared_ptr<std::function<Out(In)>> f,
                    receiver<job<In>> work, sender<job<Out>> results) {
  while (auto j = co_await work.recv()) {
    std::optional<Out> y;
    try {
      y.emplace((*f)(std::move(j->second)));
    } catch (...) {
      rethrow_at(static_cast<size_t>(j->first));
    }
    job<Out> r{j->first, std::move(*y)};
    if (!co_await results.send(std::move(r)))
      co_return;
  }
}

} // namespace detail

/// Stage functions by name, with their item types: what a node can run for
/// drivers, and what a driver can run locally beside remote workers. C++
/// cannot ship closures, so every process that runs a stage has it compiled
/// in (or loaded as a plugin, see tools/actorflow_node.cpp).
///
/// ~~~
/// actorflow::stage_registry reg;
/// reg.add_item_type<int32_t>("int32");
/// reg.register_stage<int32_t, int32_t>("square", [](int32_t x) {
///   return x * x;
/// });
/// reg.apply(cfg); // before constructing the actor system
/// ~~~
class ACTORFLOW_EXPORT stage_registry {
public:
  /// Registers `T` under `name` with every config this registry is applied
  /// to (see `add_item_type`). The names must be the same in every process.
  template <class T>
  stage_registry& add_item_type(std::string name) {
    type_adders_.push_back([name](caf::actor_system_config& cfg) {
      actorflow::add_item_type<T>(cfg, name);
    });
    return *this;
  }

  /// Registers the stage `name`: `f` maps `In` to `Out`. Both item types
  /// must be registered with `add_item_type` (here or in the config).
  template <class In, class Out, class F>
  stage_registry& register_stage(std::string name, F f) {
    static_assert(std::is_invocable_v<F&, In&&>,
                  "register_stage<In, Out>(name, f): f must be callable with "
                  "an In (by value or const reference)");
    static_assert(std::is_convertible_v<std::invoke_result_t<F&, In&&>, Out>,
                  "register_stage<In, Out>(name, f): f must return an Out "
                  "(or something convertible to it)");
    auto fn = std::make_shared<std::function<Out(In)>>(std::move(f));
    auto entry = std::make_shared<detail::stage_entry>(detail::stage_entry{
      name, std::type_index{typeid(In)}, std::type_index{typeid(Out)},
      [fn](caf::actor_system& sys, const remote_handle& work,
           const remote_handle& results, worker_options wo) {
        return spawn_worker(sys, std::move(wo), detail::stage_worker<In, Out>,
                            fn, import_receiver<detail::job<In>>(work),
                            import_sender<detail::job<Out>>(results));
      },
      fn});
    stages_[name] = std::move(entry);
    return *this;
  }

  /// Registers every item type of this registry with `cfg`.
  void apply(caf::actor_system_config& cfg) const;

  /// The stage `name`, or nullptr.
  const detail::stage_entry* find(const std::string& name) const;

  /// The names of all stages, sorted.
  std::vector<std::string> names() const;

private:
  std::vector<std::function<void(caf::actor_system_config&)>> type_adders_;
  std::map<std::string, std::shared_ptr<detail::stage_entry>> stages_;
};

// -- nodes --------------------------------------------------------------------

/// Where and how a node accepts drivers.
struct node_options {
  /// The address to bind; the loopback interface unless told otherwise.
  std::string host = "127.0.0.1";
  /// 0 picks a free port (see the result of `serve_node`).
  uint16_t port = 0;
};

/// Makes this process a node: an actor published on `opts.host:opts.port`
/// spawns workers of `reg`'s stages for drivers. A worker stops when its
/// driver's pipeline ends or the driver is lost; the node keeps serving.
/// Returns the port.
///
/// ~~~
/// auto port = actorflow::serve_node(sys, reg, {"127.0.0.1", 4242});
/// ~~~
ACTORFLOW_EXPORT caf::expected<uint16_t> serve_node(
  caf::actor_system& sys, std::shared_ptr<const stage_registry> reg,
  node_options opts = {});

// -- placement ------------------------------------------------------------------

/// `workers` workers on the node at `where` ("host:port"), or in the driver
/// itself for `where == "local"`.
struct workers_at {
  /// "host:port" of a node, or "local".
  std::string where;
  /// How many workers run there.
  size_t workers = 1;
};

/// Where the workers of a distributed stage run.
using placement = std::vector<workers_at>;

/// Settings of a distributed stage.
struct remote_options {
  /// The driver's own stages: needed for "local" workers.
  std::shared_ptr<const stage_registry> local_stages;
  /// Items between scatter and gather (0: 64 per worker). Bounds the gather's
  /// reorder buffer and the scatter's store of unacknowledged items.
  size_t window = 0;
  /// Items per message towards the workers.
  uint32_t batch = 16;
  /// How long connecting to a node may take (retries included).
  caf::timespan connect_timeout = std::chrono::seconds{5};
  /// How long a connected node may take to spawn a worker.
  caf::timespan spawn_timeout = std::chrono::seconds{5};
  /// Called when a remote worker is lost (with its node's address and the
  /// reason), before its items are sent to the other workers. Runs in the
  /// driver's actor that watched the worker: keep it short.
  std::function<void(const std::string&, const caf::error&)> on_worker_lost;
};

namespace detail {

using node_spawn_atom = caf::atom_constant<caf::atom("af_nspawn")>;
using node_info_atom = caf::atom_constant<caf::atom("af_ninfo")>;
/// Asks a node how many batches from peers it refused to load.
using node_rejected_atom = caf::atom_constant<caf::atom("af_nrej")>;

/// The high bits of an ack: the gather holds the item (but has not emitted
/// it yet), a worker was lost, or a supervisor fails with an error of its own
/// (connect, spawn, the stage on the node).
constexpr uint64_t held_flag = uint64_t{1} << 63;
constexpr uint64_t lost_marker = ~uint64_t{0};
constexpr uint64_t failed_marker = ~uint64_t{1};

/// True if `init_distribution` was asked for TLS in this process.
ACTORFLOW_EXPORT bool tls_requested(const caf::actor_system& sys);

/// An error if TLS was asked for but cannot work (bad files, module not
/// loaded, no TLS in this build); none if TLS is fine or not asked for.
ACTORFLOW_EXPORT caf::error tls_check(caf::actor_system& sys);

/// The middleman actor to connect with: CAF's OpenSSL one with TLS.
ACTORFLOW_EXPORT caf::actor connector(caf::actor_system& sys);

/// Parses "host:port"; nullopt if malformed.
ACTORFLOW_EXPORT std::optional<std::pair<std::string, uint16_t>> parse_address(
  const std::string& where);

/// The registered name and layout of `type`, or an error naming it.
ACTORFLOW_EXPORT caf::expected<item_type_info> item_info(std::type_index type,
                                                         const char* role);

/// Awaitable: connects to the node at host:port (from inside a worker).
/// Resumes with the node's actor, or `connect_failed` / `timeout`.
struct ACTORFLOW_EXPORT connect_awaiter {
  std::string host;
  uint16_t port;
  caf::timespan timeout;
  std::optional<caf::expected<caf::actor>> result;
  /// Set if CAF gave up on the handshake early (CAF 0.17 with heartbeats
  /// may close a connection whose handshake is still running at its next
  /// heartbeat check): worth another try within the timeout.
  bool retry = false;
  /// Set if the peer closed the connection during the handshake: a heartbeat
  /// race as above, or a TLS process meeting a plain one; the supervisor
  /// retries it a few times only, so a mismatch still fails fast.
  bool lost_handshake = false;
  /// The whole connect timeout, of which `timeout` is what earlier attempts
  /// left: a timeout error names it (0: `timeout`).
  caf::timespan budget{0};

  bool await_ready() const noexcept {
    return false;
  }

  void await_suspend(std::coroutine_handle<> h);

  caf::expected<caf::actor> await_resume() {
    return std::move(*result);
  }
};

/// Awaitable: spawns a worker of `stage` on `node`.
struct ACTORFLOW_EXPORT spawn_awaiter {
  caf::actor node;
  std::string where;
  caf::message request;
  caf::timespan timeout;
  std::optional<caf::expected<caf::actor>> result;
  /// Set if the node went down before it answered: CAF 0.17 fails a request
  /// to a dead remote actor only at its timeout, so the awaiter watches the
  /// node as well, and the supervisor treats this like a worker lost.
  bool node_lost = false;
  /// The node's exit reason, if `node_lost`.
  caf::error down_reason;

  bool await_ready() const noexcept {
    return false;
  }

  void await_suspend(std::coroutine_handle<> h);

  caf::expected<caf::actor> await_resume() {
    return std::move(*result);
  }
};

/// Awaitable: resumes with the exit reason of `whom` once it is down.
struct ACTORFLOW_EXPORT down_awaiter {
  caf::actor whom;
  caf::error reason;

  bool await_ready() const noexcept {
    return false;
  }

  void await_suspend(std::coroutine_handle<> h);

  caf::error await_resume() {
    return std::move(reason);
  }
};

/// Awaitable: resumes with 0 once `a` has an item (or end-of-stream), with 1
/// once `b` has one; never consumes.
template <class A, class B>
struct select_awaiter {
  rx_endpoint<A>* a;
  rx_endpoint<B>* b;

  bool await_ready() {
    return a->ready() || b->ready();
  }

  void await_suspend(std::coroutine_handle<> h) {
    a->suspend(h);
    b->suspend(h);
  }

  int await_resume() {
    // Only one of them resumed us (one message per activation); the other
    // must forget the coroutine before it sees its next message.
    a->cancel_suspend();
    b->cancel_suspend();
    return a->ready() ? 0 : 1;
  }
};

template <class A, class B>
select_awaiter<A, B> select(receiver<A>& a, receiver<B>& b) {
  return {a.native_endpoint().get(), b.native_endpoint().get()};
}

[[noreturn]] ACTORFLOW_EXPORT void fail(caf::error err);

/// What a supervisor holds for its remote worker, released however the
/// supervisor ends (an exit message destroys its frame while it waits on a
/// connect, a spawn or a send; it does not resume):
///
/// - the two channel ends it exported, until a worker on the node imports
///   them. The channels count an exported end until it is closed or
///   abandoned, so an end that no worker imports would keep its channel
///   (and, once a spawn request carried it, CAF's registry entry of that
///   channel) alive for good;
/// - the worker itself, once spawned: a supervisor stopped by a cancelled or
///   failed pipeline stops it too, so that the node does not work through
///   the rest of the worker's input first.
class remote_worker_lease {
public:
  remote_worker_lease(remote_handle work, remote_handle results) noexcept
    : work_(std::move(work)), results_(std::move(results)) {
    // nop
  }

  remote_worker_lease(const remote_worker_lease&) = delete;
  remote_worker_lease& operator=(const remote_worker_lease&) = delete;

  ~remote_worker_lease() {
    if (armed_)
      abandon();
    auto self = host::current();
    if (worker_ && self != nullptr && self->stop_requested())
      caf::anon_send_exit(worker_, caf::exit_reason::user_shutdown);
  }

  /// The worker `w` on a node got the ends: it closes them, and the
  /// channels watch its actor once it binds them.
  void imported(caf::actor w) noexcept {
    armed_ = false;
    worker_ = std::move(w);
  }

  /// The worker ended: nothing to stop any more.
  void worker_ended() noexcept {
    worker_ = nullptr;
  }

  /// Tells both channels now that these ends will not be used (a no-op for
  /// an end that a worker bound already).
  void abandon() {
    armed_ = false;
    actorflow::abandon(work_);
    actorflow::abandon(results_);
  }

private:
  remote_handle work_;
  remote_handle results_;
  caf::actor worker_;
  bool armed_ = true;
};

/// Keeps an eye on one remote worker: connects to its node, spawns it there
/// and waits for its end. A worker lost for any other reason than its stage
/// failing reports `lost_marker` to the scatter.
ACTORFLOW_EXPORT task<> supervise(std::string where, uint16_t port,
                                  std::string host, caf::message request,
                                  remote_handle work, remote_handle results,
                                  sender<uint64_t> acks, remote_options opts);

/// The scatter: numbers items, keeps each until its ack, sends it (again
/// after a loss) to the workers. When its workers are gone because a
/// supervisor failed (`failed_marker`), that supervisor's error is the one
/// the pipeline reports; the scatter fails with `workers_lost` only when
/// nobody else explains the loss.
template <class In>
task<> remote_scatter(receiver<In> in, receiver<uint64_t> acks,
                      sender<job<In>> work, size_t window, size_t remote,
                      size_t local, std::string stage) {
  std::map<uint64_t, In> store; // unacknowledged, by sequence number
  std::set<uint64_t> held;      // of those, held by the gather
  uint64_t seq = 0;
  size_t lost = 0;
  bool failed = false;   // a supervisor sent failed_marker: it reports why
  bool all_lost = false; // every worker was lost: nobody else reports
  bool upstream = true;
  bool acks_open = true;
  std::string why; // set when the workers are gone
  while (why.empty()) {
    if (!upstream && store.empty())
      co_return;
    if (upstream && store.size() < window) {
      auto which = co_await select(in, acks);
      if (which == 0) {
        auto x = co_await in.recv();
        if (!x) {
          upstream = false;
          continue;
        }
        auto it = store.emplace(seq, std::move(*x)).first;
        job<In> j{seq, it->second};
        ++seq;
        if (!co_await work.send(std::move(j)))
          why = "their work channel closed";
        continue;
      }
    }
    auto a = co_await acks.recv();
    if (!a) {
      acks_open = false;
      why = "the gather and every supervisor ended";
    } else if (*a == failed_marker) {
      failed = true;
    } else if (*a == lost_marker) {
      ++lost;
      if (local == 0 && lost >= remote) {
        all_lost = true;
        why = std::to_string(lost) + " lost";
        break;
      }
      // Send again what nobody but the lost worker might have held.
      for (auto& [s, x] : store) {
        if (held.count(s) != 0)
          continue;
        job<In> j{s, x};
        if (!co_await work.send(std::move(j))) {
          why = "their work channel closed";
          break;
        }
      }
    } else if ((*a & held_flag) != 0) {
      if (store.count(*a & ~held_flag) != 0)
        held.insert(*a & ~held_flag);
    } else {
      store.erase(*a);
      held.erase(*a);
    }
  }
  // Look for a supervisor's failed_marker in the rest of the acks, unless
  // every worker was lost (then no supervisor fails). Bounded: with the
  // work channel closed, every worker, supervisor and then the gather end.
  while (acks_open && !failed && !all_lost) {
    auto a = co_await acks.recv();
    if (!a)
      acks_open = false;
    else if (*a == failed_marker)
      failed = true;
  }
  if (failed)
    co_return; // a supervisor reports why
  fail(make_error(error_code::workers_lost, "every worker of stage '" + stage
                                              + "' is gone (" + why + "); "
                                              + std::to_string(store.size())
                                              + " items unfinished"));
}

/// The ordered gather: restores sequence order, drops duplicates, acks every
/// emitted item (and every item it holds back).
template <class Out>
task<> remote_gather_ordered(receiver<job<Out>> results, sender<uint64_t> acks,
                             sender<Out> out, size_t window) {
  std::vector<std::optional<Out>> pending(window);
  uint64_t next = 0;
  while (auto r = co_await results.recv()) {
    auto s = r->first;
    auto& slot = pending[s % window];
    if (s < next || s >= next + window || slot)
      continue; // a duplicate (a lost worker's item done twice)
    slot.emplace(std::move(r->second));
    if (s != next) {
      (void)co_await acks.send(s | held_flag);
      continue;
    }
    for (;;) {
      auto& head = pending[next % window];
      if (!head)
        break;
      auto y = std::move(*head);
      head.reset();
      if (!co_await out.send(std::move(y)))
        co_return;
      (void)co_await acks.send(next);
      ++next;
    }
  }
}

/// The unordered gather: emits in completion order, drops duplicates.
template <class Out>
task<> remote_gather_unordered(receiver<job<Out>> results,
                               sender<uint64_t> acks, sender<Out> out) {
  uint64_t low = 0;        // every item below was emitted
  std::set<uint64_t> done; // emitted items at or above `low`
  while (auto r = co_await results.recv()) {
    auto s = r->first;
    if (s < low || !done.insert(s).second)
      continue;
    while (!done.empty() && *done.begin() == low) {
      done.erase(done.begin());
      ++low;
    }
    if (!co_await out.send(std::move(r->second)))
      co_return;
    (void)co_await acks.send(s);
  }
}

template <bool Ordered, class Out, class In>
flow<Out> remote_stage(flow<In>&& upstream, placement where, std::string stage,
                       remote_options opts) {
  const char* op = Ordered ? "remote_parallel_then"
                           : "remote_parallel_then_unordered";
  auto [build, err] = std::move(upstream).release();
  if (err)
    return flow<Out>{nullptr, std::move(err)};
  auto fail_with = [&](error_code code, const std::string& what) {
    return flow<Out>{nullptr, make_error(code, std::string{op} + "(\"" + stage
                                                 + "\"): " + what)};
  };
  size_t remote = 0;
  size_t local = 0;
  for (auto& w : where) {
    if (w.workers == 0)
      return fail_with(error_code::invalid_argument,
                       "zero workers at " + w.where);
    if (w.where == "local")
      local += w.workers;
    else if (parse_address(w.where))
      remote += w.workers;
    else
      return fail_with(error_code::invalid_argument,
                       "bad node address '" + w.where
                         + "' (expected host:port or local)");
  }
  if (remote + local == 0)
    return fail_with(error_code::invalid_argument, "needs at least one worker");
  std::shared_ptr<std::function<Out(In)>> local_fn;
  if (local > 0) {
    auto entry = opts.local_stages ? opts.local_stages->find(stage) : nullptr;
    if (entry == nullptr)
      return fail_with(error_code::unknown_stage,
                       "local workers need the stage in "
                       "remote_options::local_stages");
    if (entry->in != typeid(In) || entry->out != typeid(Out))
      return fail_with(error_code::type_mismatch,
                       "the local stage has other item types");
    local_fn = std::static_pointer_cast<std::function<Out(In)>>(entry->fn);
  }
  auto in_info = item_info(typeid(In), "input");
  if (!in_info)
    return flow<Out>{nullptr, in_info.error()};
  auto out_info = item_info(typeid(Out), "output");
  if (!out_info)
    return flow<Out>{nullptr, out_info.error()};
  return flow<Out>{[build = std::move(build), where = std::move(where),
                    stage = std::move(stage), opts, remote, local, local_fn,
                    in = *in_info, out_info = *out_info,
                    op](build_context& ctx, sender<Out> out) {
    auto n = remote + local;
    auto window = opts.window != 0 ? opts.window : 64 * n;
    window = std::max(window, n);
    auto batch = std::max<uint32_t>(1, opts.batch);
    auto in_ch = ctx.make_channel<In>({});
    // Like the workers of parallel_then, remote workers read about 1 ms of
    // work ahead: a worker runs its read-ahead in one activation, and its
    // node's thread deserializes nothing else meanwhile (an exit message
    // from a cancelled pipeline included).
    auto work
      = ctx.make_channel<job<In>>({std::max<size_t>(4 * batch * n, 64), batch},
                                  std::chrono::milliseconds(1));
    auto results = ctx.make_channel<job<Out>>({window, 0});
    auto acks = ctx.make_channel<uint64_t>({2 * window + n + 8, 0});
    if (!in_ch || !work || !results || !acks)
      return;
    build(ctx, std::move(in_ch->tx));
    auto base = ctx.stage_name(op);
    ctx.spawn(base + ".scatter", remote_scatter<In>, std::move(in_ch->rx),
              std::move(acks->rx), std::move(work->tx), window, remote, local,
              stage);
    size_t index = 0;
    for (auto& w : where) {
      for (size_t i = 0; i < w.workers; ++i) {
        auto name = base + ".worker" + std::to_string(++index);
        if (w.where == "local") {
          ctx.spawn(name, stage_worker<In, Out>, local_fn, work->rx,
                    results->tx);
          continue;
        }
        auto addr = *parse_address(w.where);
        auto wh = export_handle(work->rx);
        auto rh = export_handle(results->tx);
        auto request = caf::make_message(node_spawn_atom::value, stage, in.name,
                                         in.layout, out_info.name,
                                         out_info.layout, wh, rh,
                                         name + "@" + w.where);
        ctx.spawn(name + ".supervisor", supervise, w.where, addr.second,
                  addr.first, std::move(request), wh, rh, acks->tx, opts);
      }
    }
    work->rx.close();
    results->tx.close();
    if constexpr (Ordered)
      ctx.spawn(base + ".gather", remote_gather_ordered<Out>,
                std::move(results->rx), std::move(acks->tx), std::move(out),
                window);
    else
      ctx.spawn(base + ".gather", remote_gather_unordered<Out>,
                std::move(results->rx), std::move(acks->tx), std::move(out));
  }};
}

} // namespace detail

/// Like `parallel_then`, with workers placed on nodes (and locally): the
/// stage `stage` (registered on every node named in `where`, and in
/// `opts.local_stages` for local workers) maps each item to an `Out`; items
/// leave in input order. Connecting and spawning happen when the pipeline
/// starts; an unknown stage, differing item types, an unreachable node or a
/// node that does not answer in time fail the pipeline with
/// `unknown_stage`, `type_mismatch`, `connect_failed` or `timeout`.
///
/// A worker lost mid-stream (its node killed, hung beyond the heartbeat's
/// connection timeout, or disconnected) is survived: the items it may have
/// held go to the other workers again. The output is exactly-once and in
/// order; the stage function may run more than once for an item (make it
/// free of side effects, or idempotent). When every worker is lost, the
/// pipeline fails with `workers_lost`.
///
/// ~~~
/// auto squares = actorflow::remote_parallel_then<int64_t>(
///   actorflow::iota(int32_t{0}, int32_t{1000}),
///   {{"127.0.0.1:4242", 2}, {"127.0.0.1:4243", 2}}, "square");
/// auto v = std::move(squares).collect().run(sys);
/// ~~~
template <class Out, class In>
flow<Out> remote_parallel_then(flow<In> upstream, placement where,
                               std::string stage, remote_options opts = {}) {
  return detail::remote_stage<true, Out>(std::move(upstream), std::move(where),
                                         std::move(stage), std::move(opts));
}

/// Like `remote_parallel_then`, but items leave in completion order.
template <class Out, class In>
flow<Out> remote_parallel_then_unordered(flow<In> upstream, placement where,
                                         std::string stage,
                                         remote_options opts = {}) {
  return detail::remote_stage<false, Out>(std::move(upstream), std::move(where),
                                          std::move(stage), std::move(opts));
}

} // namespace actorflow
