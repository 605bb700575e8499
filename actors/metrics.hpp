// Process-wide counters, updated where things happen: messages handled and
// dropped, refusals, HTTP connection events, elections. Thread-safe; cheap
// enough for every message. They are plain atomics (this file is part of the
// SDK and links nothing); the daemons export them in Prometheus' data model
// with their histograms (actors/metrics_export.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace caldera::metrics {

/// A message of `type` was handled (or dropped because it did not decode).
void message_received(std::string_view type);
void message_dropped(std::string_view type);
/// A peer refused for who it is or what it asked (`type`:
/// "unauthenticated", or the ACL action it was refused).
void refused(std::string_view type);

/// An HTTP connection event (`type`: accepted, closed, idle, timed_out,
/// displaced, malformed, tls_handshake_failed, body_failed).
void http_connection(std::string_view type);

/// A master's election event (`type`: won, lost).
void election(std::string_view type);

/// The counter families, in the order `for_each_counter` visits them.
enum class family { received, dropped, refusals, http, elections };
constexpr int family_count = 5;

/// Calls `f(family, type, value)` for every counter touched so far in this
/// process, family by family, types in name order.
void for_each_counter(const std::function<void(family, const std::string&, uint64_t)>& f);

} // namespace caldera::metrics
