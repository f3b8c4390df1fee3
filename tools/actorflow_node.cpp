// actorflow_node: a node process for distributed pipelines. It hosts the
// stages of the plugins it is started with and spawns their workers for
// drivers that connect to it.
//
//   actorflow_node --plugins=libmy_stages.so[,more.so] [--host=127.0.0.1]
//                  [--port=4242] [--heartbeat-ms=500] [--timeout-ms=5000]
//                  [--max-message-bytes=67108864]
//                  [--max-pending-bytes=268435456] [--exit-with-parent]
//                  [--tls-cert=node.pem --tls-key=node.key --tls-ca=ca.pem]
//                  [--join=DRIVER:PORT --stage=NAME [--workers=K]
//                   [--advertise=HOST]] [--drain-timeout-ms=20000]
//
// A plugin is a shared object with the entry point
//
//   extern "C" void actorflow_register(actorflow::stage_registry& reg);
//
// that registers its item types and stages (see examples/plugins/). Every
// driver registers the same item types under the same names. The node binds
// to 127.0.0.1 unless told otherwise (--host=0.0.0.0 for every interface),
// prints "PORT <n>" once it listens (--port=0 picks a free port) and serves
// until SIGINT or SIGTERM. CAF options (--scheduler.max-threads=N, ...) work
// as usual.
//
// SIGTERM (what systemd and Kubernetes send first) drains the node: it
// starts no more workers, each running worker finishes the items it holds
// and hands the rest back to its driver, and once all have left and their
// drivers know it, the node prints "DRAINED <workers>" and exits with
// success. No item runs twice. A drain that takes longer than
// --drain-timeout-ms (default 20000, under Kubernetes' 30 s grace period)
// exits with a failure, and so does a second signal during the drain: the
// drivers then send the remaining workers' items again. SIGINT stops the
// node at once, with the same recovery.
//
// With --tls-cert, --tls-key and --tls-ca (PEM files) the node accepts only
// TLS connections from drivers whose certificate is signed by that CA (an
// encrypted key's passphrase: CAF's --openssl.passphrase or a config file).
// A missing or bad file makes the node exit with an error before it
// listens. Without TLS on an address other than the loopback it warns: any
// peer that reaches the port can then talk to it (see README, Security).
//
// With --join the node, once it listens, asks the driver's join point
// (actorflow::join_point) at DRIVER:PORT to start K workers (default 1) of
// its running stage NAME here, prints "JOINED <stage> <workers>" once they
// run, and serves on; a join that fails is an error, and the node exits.
// The driver reaches the node at --advertise (default: --host, which must
// then not be a wildcard address).
//
// A peer's message larger than --max-message-bytes, or one that would take
// the payloads in transit on all connections over --max-pending-bytes,
// closes its connection before the node allocates anything for it, and so
// does an inbound connection that sends no complete message header within
// --timeout-ms (node_guard.hpp: CAF 0.17 caps neither). This guards plain
// TCP; with TLS, CAF's OpenSSL module makes the connections.
//
// `actorflow_node --describe=host:port[,...]` serves nothing: it asks those
// nodes what they host (their stages with item types, and how many workers
// run there), prints it, and exits with a failure if one did not answer.
//
// If CAF's network broker dies (CAF 0.17 lets an exception from decoding a
// peer's bytes end it), the node can no longer accept or serve anyone: it
// says so and exits with a failure, so that its supervisor (systemd) starts
// it again.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>
#ifdef __GLIBC__
#  include <malloc.h>
#endif
#include <sys/prctl.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actorflow/all.hpp"

#include "node_guard.hpp"

namespace {

struct node_config : caf::actor_system_config {
  std::string plugins;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t heartbeat_ms = 500;
  size_t timeout_ms = 5000;
  size_t max_message_bytes = actorflow_node::guard_limits{}.max_message;
  size_t max_pending_bytes = actorflow_node::guard_limits{}.max_pending;
  bool exit_with_parent = false;
  std::string describe;
  std::string join;
  std::string stage;
  size_t workers = 1;
  std::string advertise;
  size_t drain_timeout_ms = 20000;
  actorflow::tls_flags tls;

  node_config() {
    tls.add_to(
      opt_group{custom_options_, "global"}
        .add(plugins, "plugins", "comma-separated stage plugins (.so)")
        .add(host, "host", "address to bind (default 127.0.0.1)")
        .add(port, "port,p", "port to listen on (0: a free one)")
        .add(heartbeat_ms, "heartbeat-ms", "heartbeat interval (0: none)")
        .add(timeout_ms, "timeout-ms",
             "a silent connection counts as lost after this long")
        .add(max_message_bytes, "max-message-bytes",
             "a peer's larger message closes its connection")
        .add(max_pending_bytes, "max-pending-bytes",
             "payloads in transit on all connections, together, at most")
        .add(exit_with_parent, "exit-with-parent",
             "die with the process that started this node (tests, scripts)")
        .add(describe, "describe",
             "host:port,...: print what these nodes host, and exit")
        .add(join, "join",
             "host:port of a driver's join point: join its stage --stage")
        .add(stage, "stage", "the running stage to join (with --join)")
        .add(workers, "workers", "how many workers join (with --join)")
        .add(advertise, "advertise",
             "the host the driver reaches this node at (default: --host)")
        .add(drain_timeout_ms, "drain-timeout-ms",
             "SIGTERM: how long the workers may take to finish their items"));
  }
};

using register_fn = void (*)(actorflow::stage_registry&);

bool load_plugins(const std::string& list, actorflow::stage_registry& reg) {
  std::stringstream in{list};
  std::string path;
  while (std::getline(in, path, ',')) {
    if (path.empty())
      continue;
    // Never unloaded: the registry holds code and type info of the plugin.
    auto lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      std::fprintf(stderr, "actorflow_node: cannot load %s: %s\n", path.c_str(),
                   ::dlerror());
      return false;
    }
    auto fn = reinterpret_cast<register_fn>(::dlsym(lib, "actorflow_register"));
    if (fn == nullptr) {
      std::fprintf(stderr,
                   "actorflow_node: %s has no entry point "
                   "'extern \"C\" void actorflow_register("
                   "actorflow::stage_registry&)'\n",
                   path.c_str());
      return false;
    }
    try {
      fn(reg);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "actorflow_node: %s failed to register: %s\n",
                   path.c_str(), e.what());
      return false;
    }
  }
  return true;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

/// Ends the process once CAF's BASP broker is down (see the top).
void exit_with_the_broker(caf::actor_system& sys) {
  auto broker
    = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  sys.spawn([broker](caf::event_based_actor* self) {
    self->monitor(broker);
    self->set_down_handler([self](caf::down_msg& dm) {
      std::fprintf(stderr,
                   "actorflow_node: CAF's network broker ended (%s): the node "
                   "cannot serve any more, exiting\n",
                   self->system().render(dm.reason).c_str());
      std::fflush(stderr);
      std::_Exit(EXIT_FAILURE);
    });
  });
}

/// Applies the heartbeat and TLS flags to `cfg` (init_distribution), or
/// says why it cannot.
std::optional<actorflow::distribution_options> init_distribution_from(
  node_config& cfg) {
  actorflow::distribution_options dopts;
  dopts.heartbeat = std::chrono::milliseconds{cfg.heartbeat_ms};
  dopts.connection_timeout = std::chrono::milliseconds{cfg.timeout_ms};
  dopts.tls = cfg.tls.options();
  if (auto err = actorflow::init_distribution(cfg, dopts)) {
    std::fprintf(stderr, "actorflow_node: %s\n",
                 actorflow::to_string_any(err).c_str());
    return std::nullopt;
  }
  return dopts;
}

/// --describe: prints the stages and running workers of each node; fails if
/// any node did not answer.
int describe_nodes(node_config& cfg) {
  if (!init_distribution_from(cfg))
    return EXIT_FAILURE;
  caf::actor_system sys{cfg};
  int rc = EXIT_SUCCESS;
  std::stringstream in{cfg.describe};
  std::string where;
  while (std::getline(in, where, ',')) {
    auto node = actorflow::describe_node(
      sys, where, std::chrono::milliseconds{cfg.timeout_ms});
    if (!node) {
      std::fprintf(stderr, "actorflow_node: %s\n",
                   actorflow::to_string_any(node.error()).c_str());
      rc = EXIT_FAILURE;
      continue;
    }
    std::printf("%s: %llu workers running\n", node->address.c_str(),
                static_cast<unsigned long long>(node->running_workers));
    for (auto& st : node->stages)
      std::printf("  %s: %s -> %s\n", st.name.c_str(), st.in.c_str(),
                  st.out.c_str());
  }
  std::fflush(stdout);
  return rc;
}

/// With --join: asks the driver's join point for workers here; false (and
/// why, on stderr) if that fails.
bool join_driver(caf::actor_system& sys, const node_config& cfg,
                 uint16_t port) {
  auto host = cfg.advertise.empty() ? cfg.host : cfg.advertise;
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "actorflow_node: cannot join: %s\n", why.c_str());
    std::fflush(stderr);
    return false;
  };
  if (cfg.stage.empty())
    return fail("--join needs --stage=NAME");
  if (host == "0.0.0.0" || host == "::" || host.empty())
    return fail("--host=" + cfg.host
                + " is no address a driver can reach: add --advertise=HOST");
  auto self = (host.find(':') != std::string::npos ? "[" + host + "]" : host)
              + ":" + std::to_string(port);
  auto err = actorflow::join_stage(
    sys, cfg.join, cfg.stage, self, cfg.workers,
    std::chrono::milliseconds{std::max<size_t>(cfg.timeout_ms, 30000)});
  if (err)
    return fail(actorflow::to_string_any(err));
  std::printf("JOINED %s %zu\n", cfg.stage.c_str(), cfg.workers);
  std::fflush(stdout);
  std::fprintf(stderr,
               "actorflow_node: joined stage '%s' of %s with %zu workers\n",
               cfg.stage.c_str(), cfg.join.c_str(), cfg.workers);
  return true;
}

/// On SIGTERM: drains the node (see the top of this file) and exits; a second
/// signal of `stop` exits at once.
[[noreturn]] void drain_and_exit(caf::actor_system& sys, const node_config& cfg,
                                 const sigset_t& stop) {
  std::fprintf(stderr, "actorflow_node: draining (a second signal stops at "
                       "once)\n");
  std::fflush(stderr);
  std::thread drainer{[&sys, timeout = cfg.drain_timeout_ms] {
    auto left = actorflow::drain_node(sys, std::chrono::milliseconds{timeout});
    if (!left) {
      std::fprintf(stderr, "actorflow_node: %s\n",
                   actorflow::to_string_any(left.error()).c_str());
      std::fflush(stderr);
      std::_Exit(EXIT_FAILURE);
    }
    auto n = static_cast<unsigned long long>(*left);
    std::printf("DRAINED %llu\n", n);
    std::fflush(stdout);
    std::fprintf(stderr, "actorflow_node: drained: %llu workers left\n", n);
    std::fflush(stderr);
    std::_Exit(EXIT_SUCCESS);
  }};
  drainer.detach();
  int sig = 0;
  sigwait(&stop, &sig);
  std::fprintf(stderr, "actorflow_node: stopped during the drain\n");
  std::fflush(stderr);
  std::_Exit(EXIT_FAILURE);
}

} // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // glibc raises its mmap threshold to the size of each large block freed
  // (up to 32 MiB): after one large message from a peer, later ones come
  // from the heap and stay resident. A fixed threshold (glibc's initial
  // one) returns every large buffer to the system when it is freed.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
  node_config cfg;
  actorflow::init(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "actorflow_node: %s\n", cfg.render(err).c_str());
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  if (!cfg.describe.empty())
    return describe_nodes(cfg);
  if (cfg.exit_with_parent) {
    auto parent = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) // the parent died before prctl
      return EXIT_FAILURE;
  }
  auto reg = std::make_shared<actorflow::stage_registry>();
  if (!load_plugins(cfg.plugins, *reg))
    return EXIT_FAILURE;
  if (reg->names().empty()) {
    std::fprintf(stderr, "actorflow_node: no stages (use --plugins=...)\n");
    return EXIT_FAILURE;
  }
  auto dopts = init_distribution_from(cfg);
  if (!dopts)
    return EXIT_FAILURE;
  reg->apply(cfg);
  actorflow_node::guard_limits limits;
  limits.max_message = cfg.max_message_bytes;
  limits.max_pending = cfg.max_pending_bytes;
  limits.greeting_timeout = std::chrono::milliseconds{cfg.timeout_ms};
  actorflow_node::install_guard(cfg, limits);
  // Block the stop signals before CAF starts its threads: sigwait below
  // receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  caf::actor_system sys{cfg};
  actorflow_node::start_guard(sys);
  auto port = actorflow::serve_node(sys, reg, {cfg.host, cfg.port});
  if (!port) {
    std::fprintf(stderr, "actorflow_node: %s\n",
                 actorflow::to_string_any(port.error()).c_str());
    std::_Exit(EXIT_FAILURE);
  }
  std::printf("PORT %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  std::string names;
  for (auto& n : reg->names())
    names += " " + n;
  std::fprintf(stderr, "actorflow_node: serving on %s:%u%s, stages:%s\n",
               cfg.host.c_str(), static_cast<unsigned>(*port),
               dopts->tls ? " (TLS)" : "", names.c_str());
  if (!dopts->tls && !is_loopback(cfg.host))
    std::fprintf(stderr,
                 "actorflow_node: warning: %s is not a loopback address and "
                 "TLS is off: every peer that reaches the port can use this "
                 "node (use --tls-cert/--tls-key/--tls-ca)\n",
                 cfg.host.c_str());
  exit_with_the_broker(sys);
  if (!cfg.join.empty() && !join_driver(sys, cfg, *port))
    std::_Exit(EXIT_FAILURE);
  int sig = 0;
  sigwait(&stop, &sig);
  if (sig == SIGTERM)
    drain_and_exit(sys, cfg, stop);
  // Workers of running pipelines end with their connections; no need to
  // wait for them (the published node actor would keep the system alive).
  std::fflush(stderr);
  std::_Exit(EXIT_SUCCESS);
}
