// How the HTTP APIs and the CLI show who leads (standby masters, issue 16).
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "actors/coordinator.hpp"

namespace caldera {

/// {"id","address","http","hostname","elected_time","epoch"}; null when
/// none leads.
nlohmann::json leader_json(const std::optional<leader_record>& l);

} // namespace caldera
