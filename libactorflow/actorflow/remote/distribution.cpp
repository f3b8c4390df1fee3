// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/distribution.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#ifdef ACTORFLOW_WITH_TLS
#  include <caf/openssl/manager.hpp>
#  include <openssl/asn1.h>
#  include <openssl/bio.h>
#  include <openssl/err.h>
#  include <openssl/ssl.h>
#  include <openssl/x509.h>
#endif

#include "actorflow/error.hpp"
#include "actorflow/remote/wire.hpp"

namespace actorflow {

// -- TLS ------------------------------------------------------------------------

namespace {

/// Set in the config by `init_distribution` when TLS was asked for, even if
/// its files are bad: such a process must fail, never fall back to plain TCP.
constexpr char tls_requested_key[] = "actorflow.tls";

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

} // namespace actorflow
