// Mutual TLS on actor links.
//
// A node whose config sets the `[openssl]` files (CAF's own option names:
// `openssl.certificate`, `openssl.key`, `openssl.passphrase`,
// `openssl.cafile`, `openssl.capath`) opens and accepts every actor link
// over TLS 1.3, and both ends must show a certificate signed by the CA: a
// plain client, or one whose certificate another CA signed, is refused by
// the TLS handshake (logged `tls_handshake_failed` with OpenSSL's reason).
// With none of them set, links are plain TCP as before.
//
// Why not CAF's libcaf_openssl: in 0.17.6 it builds a new SSL context and
// reads the certificate files again for every connection (and throws, ending
// the daemon, when they have become unreadable), its scribes bypass the
// wire guard (no message size limit: one 32-byte header still takes 4 GiB
// over TLS), and it spins on write events while a handshake waits for the
// peer (CAF issue 1060: a client that stops halfway through the handshake
// holds a server core for as long as it likes). Here one context is built at
// start from files checked by `check_tls` (the daemon refuses to start with
// the file and the reason), TLS scribes carry the same `frame_guard` as plain
// ones, and a write that must wait for the peer leaves the event loop until
// the peer has spoken.
//
// The middleman actor that makes these links lives in a module loaded by
// node_config (in the actor-system slot CAF keeps for its OpenSSL module,
// which caldera never loads), so it starts and stops with the system.
// `link_manager` gives the middleman actor every publish and connect goes
// through.
#pragma once

#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

namespace caldera {

/// The `[openssl]` files of a config.
struct tls_files {
  std::string certificate;
  std::string key;
  std::string passphrase;
  std::string cafile;
  std::string capath;

  /// Any of them set: links are mutual TLS.
  bool enabled() const;
};

tls_files tls_files_of(const caf::actor_system_config& cfg);

/// Checks that the files make a usable context: certificate and key present,
/// readable and matching, a CA to check peers with, the certificate signed by
/// that CA. A message names the option, the file and the reason.
std::optional<std::string> check_tls(const tls_files& files);

/// The actor-system module that owns the TLS middleman actor.
class tls_module : public caf::actor_system::module {
public:
  explicit tls_module(caf::actor_system& sys);
  ~tls_module() override;

  void start() override;
  void stop() override;
  void init(caf::actor_system_config&) override;
  id_t id() const override;
  void* subtype_ptr() override;

  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>);

private:
  caf::actor_system& sys_;
  caf::io::middleman_actor links_;
};

/// The middleman actor for `sys`'s links: the TLS one when TLS is on, else
/// CAF's own.
caf::io::middleman_actor link_manager(caf::actor_system& sys);

/// Whether `sys` makes its links over TLS.
bool tls_enabled(caf::actor_system& sys);

} // namespace caldera
