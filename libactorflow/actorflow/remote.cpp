// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#ifdef ACTORFLOW_WITH_TLS
#  include <caf/openssl/manager.hpp>
#  include <caf/openssl/publish.hpp>
#  include <openssl/asn1.h>
#  include <openssl/bio.h>
#  include <openssl/err.h>
#  include <openssl/ssl.h>
#  include <openssl/x509.h>
#endif

namespace actorflow {

// -- TLS ------------------------------------------------------------------------

namespace {

/// Set in the config by `init_distribution` when TLS was asked for, even if
/// its files are bad: such a process must fail, never fall back to plain TCP.
constexpr const char* tls_requested_key = "actorflow.tls";

#ifdef ACTORFLOW_WITH_TLS

/// OpenSSL's queued errors of this thread as text (and clears them).
std::string ssl_errors() {
  std::string result;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!result.empty())
      result += "; ";
    result += buf;
  }
  return result.empty() ? "no detail from OpenSSL" : result;
}

/// Hands OpenSSL the passphrase; never prompts on the terminal.
int passphrase_cb(char* buf, int size, int, void* user_data) {
  auto pw = static_cast<const std::string*>(user_data);
  if (pw == nullptr || pw->empty() || size <= 0)
    return 0;
  auto n = std::min(pw->size(), static_cast<size_t>(size));
  std::memcpy(buf, pw->data(), n);
  return static_cast<int>(n);
}

caf::error tls_file_error(const char* role, const std::string& path,
                          const std::string& why) {
  return make_error(error_code::invalid_argument, std::string{"TLS: the "}
                                                    + role + " file '" + path
                                                    + "' " + why);
}

caf::error check_readable(const char* role, const std::string& path) {
  if (path.empty())
    return make_error(error_code::invalid_argument,
                      std::string{"TLS: no "} + role + " file given");
  auto f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return tls_file_error(
      role, path, std::string{"cannot be read: "} + std::strerror(errno));
  std::fclose(f);
  return caf::none;
}

/// `x` as text, e.g. "Dec  3 13:57:40 2026 GMT".
std::string asn1_time_text(const ASN1_TIME* x) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio{BIO_new(BIO_s_mem()), BIO_free};
  if (!bio || ASN1_TIME_print(bio.get(), x) != 1)
    return "an unreadable date";
  char* data = nullptr;
  auto n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string{};
}

/// Why `cert` is not valid now (expired, or not valid yet), if it is not.
std::optional<std::string> validity_problem(X509* cert) {
  if (cert == nullptr)
    return std::nullopt;
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    return "expired on " + asn1_time_text(X509_get0_notAfter(cert))
           + ": peers refuse it";
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
    return "is not valid before " + asn1_time_text(X509_get0_notBefore(cert))
           + ": peers refuse it";
  return std::nullopt;
}

#endif // ACTORFLOW_WITH_TLS

/// Checks the TLS files named in `cfg` the way CAF's OpenSSL module will
/// load them (CAF loads them per connection and throws on a bad file, in
/// its I/O thread): readable, PEM, key matching the certificate, passphrase.
caf::error check_tls_files(
  [[maybe_unused]] const caf::actor_system_config& cfg) {
#ifdef ACTORFLOW_WITH_TLS
  if (auto err = check_readable("certificate", cfg.openssl_certificate))
    return err;
  if (auto err = check_readable("private key", cfg.openssl_key))
    return err;
  if (auto err = check_readable("CA", cfg.openssl_cafile))
    return err;
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                   SSL_CTX_free};
  if (!ctx)
    return make_error(error_code::invalid_argument,
                      "TLS: cannot create an OpenSSL context: " + ssl_errors());
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(
    ctx.get(), const_cast<std::string*>(&cfg.openssl_passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx.get(),
                                         cfg.openssl_certificate.c_str())
      != 1)
    return tls_file_error("certificate", cfg.openssl_certificate,
                          "holds no usable PEM certificate (" + ssl_errors()
                            + ")");
  // Peers would refuse it with nothing but a generic handshake error.
  if (auto why = validity_problem(SSL_CTX_get0_certificate(ctx.get())))
    return tls_file_error("certificate", cfg.openssl_certificate, *why);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.openssl_key.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return tls_file_error("private key", cfg.openssl_key,
                            "does not belong to the certificate '"
                              + cfg.openssl_certificate + "' (" + ssl_errors()
                              + ")");
    return tls_file_error("private key", cfg.openssl_key,
                          std::string{"holds no usable PEM private key"}
                            + (cfg.openssl_passphrase.empty()
                                 ? " (if it is encrypted, give its passphrase)"
                                 : " (or the passphrase is wrong)")
                            + " (" + ssl_errors() + ")");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return tls_file_error("private key", cfg.openssl_key,
                          "does not belong to the certificate '"
                            + cfg.openssl_certificate + "' (" + ssl_errors()
                            + ")");
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.openssl_cafile.c_str(),
                                    nullptr)
      != 1)
    return tls_file_error("CA", cfg.openssl_cafile,
                          "holds no usable PEM certificate (" + ssl_errors()
                            + ")");
  return caf::none;
#else
  return make_error(error_code::invalid_argument,
                    "TLS: this build of actorflow has no TLS support (CAF's "
                    "OpenSSL module or OpenSSL's headers were missing when "
                    "it was built)");
#endif
}

} // namespace

bool tls_supported() noexcept {
#ifdef ACTORFLOW_WITH_TLS
  return true;
#else
  return false;
#endif
}

caf::config_option_adder& tls_flags::add_to(caf::config_option_adder& group) {
  return group
    .add(certificate, "tls-cert", "TLS: this process's certificate (PEM file)")
    .add(key, "tls-key", "TLS: the certificate's private key (PEM file)")
    .add(ca_file, "tls-ca", "TLS: the CA certificate(s) of peers (PEM file)");
}

std::optional<tls_options> tls_flags::options() const {
  if (certificate.empty() && key.empty() && ca_file.empty())
    return std::nullopt;
  return tls_options{certificate, key, ca_file, {}};
}

std::vector<std::string> tls_flags::arguments() const {
  if (!options())
    return {};
  return {"--tls-cert=" + certificate, "--tls-key=" + key,
          "--tls-ca=" + ca_file};
}

namespace detail {

bool tls_requested(const caf::actor_system& sys) {
  return caf::get_or(sys.config(), tls_requested_key, false);
}

caf::error tls_check(caf::actor_system& sys) {
  if (!tls_requested(sys))
    return caf::none;
  if (auto err = check_tls_files(sys.config()))
    return err;
  if (!sys.has_openssl_manager())
    return make_error(error_code::invalid_argument,
                      "TLS: CAF's OpenSSL module is not loaded (call "
                      "init_distribution with tls before constructing the "
                      "actor system)");
  return caf::none;
}

caf::actor connector(caf::actor_system& sys) {
#ifdef ACTORFLOW_WITH_TLS
  if (tls_requested(sys) && sys.has_openssl_manager())
    return caf::actor_cast<caf::actor>(sys.openssl_manager().actor_handle());
#endif
  return caf::actor_cast<caf::actor>(sys.middleman().actor_handle());
}

} // namespace detail

// -- configuration --------------------------------------------------------------

caf::error init_distribution(caf::actor_system_config& cfg,
                             distribution_options opts) {
  // Loading the middleman twice is harmless: the second module replaces the
  // first before the system starts.
  cfg.load<caf::io::middleman>();
  detail::add_wire_types(cfg);
  if (opts.heartbeat.count() > 0
      && !caf::get_if<caf::timespan>(&cfg, "middleman.heartbeat-interval"))
    cfg.set("middleman.heartbeat-interval", opts.heartbeat);
  if (opts.connection_timeout.count() > 0
      && !caf::get_if<caf::timespan>(&cfg, "middleman.connection-timeout"))
    cfg.set("middleman.connection-timeout", opts.connection_timeout);
  if (!opts.tls)
    return caf::none;
  // Remembered even if the files are bad: serve_node and the driver's
  // connects then fail instead of running without TLS.
  // (Into `content` directly: `set` accepts registered options only.)
  caf::put(cfg.content, tls_requested_key, true);
  auto& tls = *opts.tls;
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.ca_file;
  cfg.openssl_capath.clear();
  if (!tls.passphrase.empty()) // else keep one given as openssl.passphrase
    cfg.openssl_passphrase = tls.passphrase;
#ifdef ACTORFLOW_WITH_TLS
  // CAF's module throws from the actor system's constructor without a
  // certificate or a key: load it only with both (the checks catch the rest).
  if (!tls.certificate.empty() && !tls.key.empty())
    cfg.load<caf::openssl::manager>();
#endif
  return check_tls_files(cfg);
}

// -- stage_registry -------------------------------------------------------------

void stage_registry::apply(caf::actor_system_config& cfg) const {
  detail::add_wire_types(cfg);
  for (auto& f : type_adders_)
    f(cfg);
}

const detail::stage_entry* stage_registry::find(const std::string& name) const {
  auto i = stages_.find(name);
  return i != stages_.end() ? i->second.get() : nullptr;
}

std::vector<std::string> stage_registry::names() const {
  std::vector<std::string> result;
  for (auto& [name, entry] : stages_)
    result.push_back(name);
  return result;
}

// -- nodes ----------------------------------------------------------------------

namespace {

struct node_state {
  std::shared_ptr<const stage_registry> reg;
  /// Workers by the work channel they serve: when that channel is down (its
  /// pipeline ended, or its driver is lost), they stop.
  std::unordered_map<caf::actor_addr, std::vector<worker>> by_channel;
  std::shared_ptr<std::atomic<uint64_t>> running
    = std::make_shared<std::atomic<uint64_t>>(0);
  static inline const char* name = "actorflow.node";
};

std::string describe(const detail::item_type_info& x) {
  return x.name + " (layout " + x.layout + ")";
}

std::string join(const std::vector<std::string>& xs) {
  std::string result;
  for (auto& x : xs) {
    if (!result.empty())
      result += ", ";
    result += x;
  }
  return result.empty() ? "none" : result;
}

caf::behavior node_actor(caf::stateful_actor<node_state>* self,
                         std::shared_ptr<const stage_registry> reg) {
  self->state.reg = std::move(reg);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto i = self->state.by_channel.find(dm.source);
    if (i == self->state.by_channel.end())
      return;
    for (auto& w : i->second)
      w.cancel();
    self->state.by_channel.erase(i);
  });
  return {
    [self](detail::node_spawn_atom, const std::string& stage,
           const std::string& in_name, const std::string& in_layout,
           const std::string& out_name, const std::string& out_layout,
           const remote_handle& work, const remote_handle& results,
           const std::string& worker_name) -> caf::result<caf::actor> {
      auto& reg = *self->state.reg;
      auto entry = reg.find(stage);
      if (entry == nullptr)
        return make_error(error_code::unknown_stage,
                          "the node has no stage '" + stage
                            + "' (it has: " + join(reg.names()) + ")");
      auto in = detail::find_item_type(entry->in);
      auto out = detail::find_item_type(entry->out);
      if (in == nullptr || out == nullptr)
        return make_error(error_code::type_mismatch,
                          "the node did not register the item types of "
                          "stage '"
                            + stage + "' (stage_registry::add_item_type)");
      if (in->name != in_name || in->layout != in_layout)
        return make_error(error_code::type_mismatch,
                          "stage '" + stage + "' takes " + describe(*in)
                            + " on the node; the driver sends " + in_name
                            + " (layout " + in_layout + ")");
      if (out->name != out_name || out->layout != out_layout)
        return make_error(error_code::type_mismatch,
                          "stage '" + stage + "' returns " + describe(*out)
                            + " on the node; the driver expects " + out_name
                            + " (layout " + out_layout + ")");
      if (!detail::well_formed(work, 2) || !detail::well_formed(results, 1))
        return make_error(error_code::invalid_argument,
                          "malformed spawn request (channel ends)");
      worker_options wo;
      wo.name = worker_name;
      auto running = self->state.running;
      wo.on_exit = [running](const caf::error&) {
        --*running;
      };
      ++*running;
      auto w = entry->spawn(self->system(), work, results, std::move(wo));
      // Stop the worker once either channel is down: the driver may have
      // abandoned an end before this request arrived (its supervisor was
      // stopped, or its spawn timed out), and the channel then ignores the
      // worker's bind; the worker would wait on it for good.
      for (auto* ch : {&work.channel, &results.channel}) {
        auto& ws = self->state.by_channel[ch->address()];
        if (ws.empty())
          self->monitor(*ch);
        ws.push_back(w);
      }
      return w.actor();
    },
    [](detail::node_rejected_atom) { return detail::rejected_batches(); },
    [self](detail::node_info_atom) {
      return static_cast<uint64_t>(self->state.running->load());
    },
  };
}

} // namespace

caf::expected<uint16_t> serve_node(caf::actor_system& sys,
                                   std::shared_ptr<const stage_registry> reg,
                                   node_options opts) {
  if (!reg)
    return make_error(error_code::invalid_argument,
                      "serve_node: no stage registry");
  if (auto err = detail::tls_check(sys))
    return make_error(error_code::invalid_argument,
                      "serve_node: " + actorflow::what(err));
  auto hdl = sys.spawn(node_actor, std::move(reg));
  caf::expected<uint16_t> port{uint16_t{0}};
#ifdef ACTORFLOW_WITH_TLS
  if (detail::tls_requested(sys))
    port = caf::openssl::publish(hdl, opts.port, opts.host.c_str(), true);
  else
#endif
    port = sys.middleman().publish(hdl, opts.port, opts.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return make_error(error_code::connect_failed,
                      "serve_node: cannot listen on " + opts.host + ":"
                        + std::to_string(opts.port) + ": "
                        + sys.render(port.error()));
  }
  return *port;
}

namespace detail {

// -- utilities ------------------------------------------------------------------

std::optional<std::pair<std::string, uint16_t>> parse_address(
  const std::string& where) {
  auto colon = where.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == where.size())
    return std::nullopt;
  auto host = where.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2); // [::1]:4242
  unsigned long port = 0;
  for (auto i = colon + 1; i < where.size(); ++i) {
    auto c = where[i];
    if (c < '0' || c > '9')
      return std::nullopt;
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535)
      return std::nullopt;
  }
  if (port == 0)
    return std::nullopt;
  return std::make_pair(host, static_cast<uint16_t>(port));
}

caf::expected<item_type_info> item_info(std::type_index type,
                                        const char* role) {
  if (auto info = find_item_type(type))
    return *info;
  return make_error(error_code::type_mismatch,
                    std::string{"the stage's "} + role + " type (" + type.name()
                      + ") is not registered: call "
                        "actorflow::add_item_type<T>(cfg, name) before "
                        "constructing the actor system");
}

void fail(caf::error err) {
  throw error_exception{std::move(err)};
}

namespace {

std::string ms(caf::timespan t) {
  return std::to_string(
           std::chrono::duration_cast<std::chrono::milliseconds>(t).count())
         + " ms";
}

} // namespace

// -- awaiters -------------------------------------------------------------------

void connect_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: connect outside an actorflow worker");
  auto where = host + ":" + std::to_string(port);
  auto mm = connector(self->system());
  // A TLS process and a plain one cannot talk; the connect fails or times
  // out without saying why, so say which side this one is.
  auto hint = std::string{tls_requested(self->system())
                            ? " (this driver uses TLS: is the node started "
                              "with TLS and a certificate from the same CA?)"
                            : " (this driver uses plain TCP: does the node "
                              "use TLS?)"};
  self->request(mm, timeout, caf::connect_atom::value, host, port)
    .then(
      [this, h, self, where](const caf::node_id&, caf::strong_actor_ptr& ptr,
                             const std::set<std::string>&) {
        if (ptr)
          result.emplace(caf::actor_cast<caf::actor>(std::move(ptr)));
        else
          result.emplace(
            make_error(error_code::connect_failed,
                       "no actorflow node is published at " + where));
        self->resume_from_callback(h);
      },
      [this, h, self, where, hint](caf::error& err) {
        if (err == caf::sec::request_timeout)
          result.emplace(make_error(error_code::timeout,
                                    "connecting to the node at " + where
                                      + " took longer than "
                                      + ms(std::max(budget, timeout)) + hint));
        else if (err == caf::sec::connection_timeout) {
          retry = true;
          result.emplace(make_error(error_code::timeout,
                                    "the node at " + where
                                      + " accepted the connection but did "
                                        "not complete CAF's handshake within "
                                      + ms(std::max(budget, timeout)) + hint));
        } else {
          // The peer closed the connection during CAF's handshake: either
          // CAF 0.17's heartbeat check raced the handshake (more likely on a
          // busy machine; worth another try) or one side uses TLS and the
          // other does not (not worth one). The supervisor tries a few times.
          lost_handshake = err == caf::sec::disconnect_during_handshake;
          result.emplace(make_error(error_code::connect_failed,
                                    "cannot connect to the node at " + where
                                      + ": " + self->system().render(err)
                                      + hint));
        }
        self->resume_from_callback(h);
      });
}

void spawn_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: spawn outside an actorflow worker");
  // Whichever comes first resumes: the answer or the node's down message.
  // The other finds `done` set and leaves the awaiter (gone by then) alone.
  auto done = std::make_shared<bool>(false);
  self->when_down(node.address(), [this, h, self, done](const caf::error& r) {
    if (std::exchange(*done, true))
      return;
    node_lost = true;
    down_reason = r;
    result.emplace(make_error(error_code::connect_failed,
                              "the node at " + where
                                + " went down before it spawned a worker ("
                                + self->system().render(r) + ")"));
    self->make_ready(h);
  });
  self->request(node, timeout, std::move(request))
    .then(
      [this, h, self, done](caf::actor& w) {
        if (std::exchange(*done, true))
          return;
        result.emplace(std::move(w));
        self->resume_from_callback(h);
      },
      [this, h, self, done](caf::error& err) {
        if (std::exchange(*done, true))
          return;
        if (err.category() == error_category)
          result.emplace(
            make_error(static_cast<error_code>(err.code()),
                       "node " + where + ": " + actorflow::what(err)));
        else if (err == caf::sec::request_timeout)
          result.emplace(make_error(error_code::timeout,
                                    "the node at " + where
                                      + " did not spawn a worker within "
                                      + ms(timeout)));
        else if (err == caf::sec::unexpected_message)
          result.emplace(make_error(
            error_code::type_mismatch,
            "the node at " + where
              + " could not read the spawn request: it is not an actorflow "
                "node, or a build without actorflow's wire types"));
        else
          result.emplace(
            make_error(error_code::connect_failed,
                       "node " + where + ": " + self->system().render(err)));
        self->resume_from_callback(h);
      });
}

void down_awaiter::await_suspend(std::coroutine_handle<> h) {
  auto self = host::current();
  if (self == nullptr)
    throw std::logic_error("actorflow: down_awaiter outside a worker");
  self->resume_on_down(whom.address(), h, &reason);
}

// -- supervisor -----------------------------------------------------------------

task<> supervise(std::string where, uint16_t port, std::string host,
                 caf::message request, remote_handle work,
                 remote_handle results, sender<uint64_t> acks,
                 remote_options opts) {
  // First, so that it is released however this frame ends.
  remote_worker_lease lease{work, results};
  // Named awaiters: g++ 12 miscompiles a braced temporary holding a
  // std::string as the operand of co_await.
  caf::error failure;
  if (auto err = tls_check(host::current()->system()))
    failure = make_error(error_code::invalid_argument,
                         "cannot connect to the node at " + where + ": "
                           + actorflow::what(err));
  caf::expected<caf::actor> node{caf::actor{}};
  auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
  int lost_handshakes = 0;
  while (!failure) {
    auto left = std::chrono::duration_cast<caf::timespan>(
      deadline - std::chrono::steady_clock::now());
    connect_awaiter connecting{
      host, port, std::max(left, caf::timespan{1}), {}};
    connecting.budget = opts.connect_timeout;
    node = co_await connecting;
    if (node)
      break;
    if (!connecting.retry
        && !(connecting.lost_handshake && ++lost_handshakes < 3))
      failure = node.error();
    else if (std::chrono::steady_clock::now() >= deadline)
      failure = make_error(error_code::timeout,
                           "the node at " + where
                             + " did not complete CAF's handshake within "
                             + ms(opts.connect_timeout));
  }
  caf::expected<caf::actor> w{caf::actor{}};
  if (!failure) {
    spawn_awaiter spawning{
      *node, where, std::move(request), opts.spawn_timeout, {}, false, {}};
    w = co_await spawning;
    if (w) {
      lease.imported(*w); // the worker on the node closes them
    } else if (spawning.node_lost) {
      // Like a worker lost after its spawn: it held no items yet, and the
      // pipeline goes on with the other workers.
      lease.abandon();
      if (opts.on_worker_lost)
        opts.on_worker_lost(where, spawning.down_reason);
      (void)co_await acks.send(lost_marker);
      co_return;
    } else {
      failure = w.error();
    }
  }
  bool spawned = !failure;
  if (spawned) {
    down_awaiter watching{*w, {}};
    auto reason = co_await watching;
    lease.worker_ended();
    if (!reason || reason == caf::exit_reason::user_shutdown)
      co_return; // the worker ended with its work channel (the node stops
                 // a worker only once one of its channels is down)
    if (reason.category() != error_category
        || reason.code() != static_cast<uint8_t>(error_code::worker_failed)) {
      // Lost: its node died, hung or disconnected. Ends it had not bound
      // yet would keep the channels open; the scatter sends its items again.
      lease.abandon();
      if (opts.on_worker_lost)
        opts.on_worker_lost(where, reason);
      (void)co_await acks.send(lost_marker);
      co_return;
    }
    // The stage function threw on the node: like a local one.
    failure = std::move(reason);
  }
  // Failed (no node, no worker, or the stage threw). The scatter leaves the
  // report to this error (its own would only say that the workers are
  // gone); a worker that never ran cannot release its channel ends, so
  // `lease` abandons them, even if this send throws or never resumes.
  (void)co_await acks.send(failed_marker);
  if (!spawned)
    lease.abandon();
  fail(std::move(failure));
}

} // namespace detail

} // namespace actorflow
