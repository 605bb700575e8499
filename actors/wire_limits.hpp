// What a peer may make a node spend on its actor links (the options
// `max-message-size` and `handshake-timeout`); enforced by
// actors/wire_guard.hpp.
#pragma once

#include <chrono>
#include <cstddef>

#include <caf/timespan.hpp>

namespace caldera {

struct wire_limits {
  /// The largest frame a peer may send once its handshake is done.
  size_t max_message = size_t{64} << 20;
  /// The largest frame before that (a BASP client handshake is ~100 bytes).
  size_t max_handshake = size_t{64} << 10;
  /// How long a connection may take to complete its handshake.
  caf::timespan handshake_timeout = std::chrono::seconds(10);
};

/// Counters since start (for metrics and tests).
struct wire_counts {
  size_t refused_large = 0;     // frames over the limit: connection closed
  size_t handshake_timeouts = 0; // connections closed for a late handshake
};

} // namespace caldera
