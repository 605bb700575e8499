// The operator view of the master (a State message) as JSON, with Mesos' v0
// field names where the concept is the same, and as a readable table.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "actors/types.hpp"

namespace caldera {

/// Resources as a Mesos JSON object: {"cpus": 4, "mem": 1024, "ports":
/// "[31000-32000]"}; reserved ones as "cpus(role)".
nlohmann::json res_json(capnp::List<schema::Resource>::Reader xs);

/// {"master_id", "agents": [...], "frameworks": [...], "tasks": [...]}.
/// Resources are objects as in Mesos: {"cpus": 4, "mem": 1024, "ports": "[31000-32000]"}.
nlohmann::json state_to_json(schema::State::Reader st);

/// Agents, frameworks and tasks as aligned text tables; `section` ("agents",
/// "frameworks" or "tasks") limits it to one.
std::string state_to_table(schema::State::Reader st, const std::string& section = {});

} // namespace caldera
