// The actor ports' front door: what a peer can make a node spend is bounded.
//
// CAF 0.17.6's BASP reads a 32-byte header, then allocates whatever payload
// length the header claims: one header claiming 4 GiB, sent to any actor
// port, made a daemon allocate 4.2 GB and go deaf for half a minute. Every
// connection of a caldera process (accepted or made) gets a guarded scribe
// from `guarded_multiplexer`, the middleman backend `node_config` loads:
//
// - a frame longer than `max_message` bytes closes the connection before
//   anything is allocated for it ("peer_message_too_large" in the log);
// - until the peer's handshake (its first two frames: header and payload)
//   is in, the limit is `max_handshake` bytes;
// - TLS links (actors/tls.hpp) make their scribes with the same
//   `frame_guard`;
// - a connection whose handshake is not in within `handshake_timeout` is
//   closed (`sweep`, run every second by the watchdog that `publish` starts),
//   so idle connections that never speak cost nothing for long.
//
// The multiplexer is an I/O edge: it reads the machine's monotonic clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/receive_policy.hpp>

#include "actors/wire_limits.hpp"

namespace caldera {

class guarded_multiplexer : public caf::io::network::default_multiplexer {
public:
  explicit guarded_multiplexer(caf::actor_system* sys);

  caf::io::scribe_ptr new_scribe(caf::io::network::native_socket fd) override;

  /// Closes the connections whose handshake is overdue. Thread-safe.
  void sweep();

  const wire_limits& limits() const { return limits_; }
  wire_counts counts() const;
  std::atomic<bool> watchdog_started{false};
  /// The middleman actor that opens TLS links (actors/tls.hpp), set while
  /// the system runs when `openssl.*` is configured; null: plain links.
  caf::io::middleman_actor tls_links;

  /// Bookkeeping of the guarded scribes (called by them): `key` is the
  /// scribe, `fd` its socket, open until the scribe is gone.
  void handshaking(const void* key, caf::io::network::native_socket fd);
  void handshake_done(const void* key);
  void refused_large();

private:
  struct pending {
    caf::io::network::native_socket fd;
    std::chrono::steady_clock::time_point since;
  };
  wire_limits limits_;
  mutable std::mutex mtx_;
  std::map<const void*, pending> pending_;
  wire_counts counts_;
};

/// The check every guarded scribe (plain or TLS, actors/tls.hpp) makes on
/// the frames BASP asks it to read: one per scribe, registered with the
/// multiplexer's handshake bookkeeping for as long as the scribe lives.
class frame_guard {
public:
  frame_guard(guarded_multiplexer& mx, caf::io::network::native_socket fd);
  ~frame_guard();
  frame_guard(const frame_guard&) = delete;
  frame_guard& operator=(const frame_guard&) = delete;

  /// The read to configure for a frame of `cfg.second` bytes: `cfg` itself,
  /// or (over the limit: logged, counted, the socket shut down so that CAF
  /// reads its end and closes the connection) a one-byte read.
  caf::io::receive_policy::config check(caf::io::receive_policy::config cfg,
                                        const std::string& peer);

  /// Called for each frame read: the second one ends the handshake.
  void consumed();

private:
  guarded_multiplexer& mx_;
  caf::io::network::native_socket fd_;
  size_t frames_ = 0;
};

/// The guarded multiplexer of `sys`, or null if it runs another backend
/// (the test coordinator).
guarded_multiplexer* wire_guard_of(caf::actor_system& sys);

/// Starts (once per actor system) the watchdog that sweeps every second.
void start_wire_watchdog(caf::actor_system& sys);

} // namespace caldera
