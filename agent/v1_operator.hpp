// Mesos' v1 Operator API on the agent (POST /api/v1), from the view the
// agent publishes: GET_HEALTH, GET_FLAGS, GET_VERSION, GET_AGENT, GET_STATE,
// GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS. (The agent's SUBSCRIBE is not
// served yet: the master's carries every task's events.)
#pragma once

#include <map>
#include <memory>
#include <string>

#include "actors/http.hpp"
#include "agent/http_api.hpp"

namespace caldera {

struct v1_agent_info {
  std::map<std::string, std::string> flags; // GET_FLAGS
};

void add_v1_agent_operator_routes(http_router& r, std::shared_ptr<agent_box> box,
                                  std::shared_ptr<const v1_agent_info> info);

} // namespace caldera
