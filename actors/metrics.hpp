// Process-wide metrics in Prometheus' data model (prometheus-cpp): counters
// and histograms updated where things happen, plus gauges a scrape computes
// from a published snapshot. Thread-safe; cheap enough for every message.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
}

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

/// Durations, in seconds.
void observe_allocation(double seconds);
void observe_registry_write(double seconds);

/// The exposition text (format 0.0.4) of everything registered in this
/// process, plus what `add` registers in a scratch registry (gauges of a
/// snapshot). Includes caldera_build_info.
std::string exposition(const std::function<void(prometheus::Registry&)>& add = {});

/// A flat {"name": value} map of the process-wide counters, for Mesos-style
/// /metrics/snapshot.
std::string counters_json();

} // namespace caldera::metrics
