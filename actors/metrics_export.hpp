// The daemons' metrics in Prometheus' data model (prometheus-cpp): the
// process-wide counters of actors/metrics.hpp, histograms of durations, and
// gauges a scrape computes from a published snapshot. Not part of the SDK.
#pragma once

#include <functional>
#include <string>

#include "actors/metrics.hpp"

namespace prometheus {
class Registry;
}

namespace caldera::metrics {

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
