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

#include <caf/fwd.hpp>
#include <caf/io/network/default_multiplexer.hpp>

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

/// The guarded multiplexer of `sys`, or null if it runs another backend
/// (the test coordinator).
guarded_multiplexer* wire_guard_of(caf::actor_system& sys);

/// Starts (once per actor system) the watchdog that sweeps every second.
void start_wire_watchdog(caf::actor_system& sys);

} // namespace caldera
