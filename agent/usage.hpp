// Resource statistics of a container in its three forms: the isolators'
// struct, the Cap'n Proto message (`caldera usage`) and Mesos' JSON
// (/monitor/statistics).
#pragma once

#include <nlohmann/json.hpp>

#include "agent/isolation.hpp"
#include "schemas/operator.capnp.h"

namespace caldera {

/// A container's statistics where nothing measures it: its limits, now.
container_usage limits_only(const container_limits& lim);

void usage_to_capnp(const container_usage& u, schema::ResourceStatistics::Builder b);
container_usage usage_from_capnp(schema::ResourceStatistics::Reader r);
/// {"timestamp", "cpus_user_time_secs", ..., "disk_limit_bytes"} as Mesos names them.
nlohmann::json usage_json(const container_usage& u);

} // namespace caldera
