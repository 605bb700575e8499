// Mesos' v1 Operator API on the agent (POST /api/v1), from the view the
// agent publishes: GET_HEALTH, GET_FLAGS, GET_VERSION, GET_AGENT, GET_STATE,
// GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, and SUBSCRIBE: SUBSCRIBED (the
// state), then TASK_ADDED, TASK_UPDATED, EXECUTOR_ADDED,
// EXECUTOR_TERMINATED and HEARTBEAT, the differences between successive
// views (published at most every 500 ms when something changed).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/http.hpp"
#include "agent/http_api.hpp"

namespace caldera {

/// The agent's SUBSCRIBE streams: each view's differences go to every one.
class v1_agent_hub {
public:
  /// From the agent actor, with each view it publishes.
  void on_view(const std::shared_ptr<const agent_view>& v);
  void subscribe(std::shared_ptr<http_stream> s);
  void heartbeat();

private:
  void broadcast(const std::string& record); // with m_ held

  std::mutex m_;
  std::shared_ptr<const agent_view> last_;
  std::vector<std::shared_ptr<http_stream>> streams_;
};

struct v1_agent_info {
  std::map<std::string, std::string> flags; // GET_FLAGS
  std::shared_ptr<v1_agent_hub> hub;        // SUBSCRIBE (null: not served)
};

void add_v1_agent_operator_routes(http_router& r, std::shared_ptr<agent_box> box,
                                  std::shared_ptr<const v1_agent_info> info);

/// HEARTBEAT on every SUBSCRIBE stream every `every` (an actor of `sys`).
void start_v1_agent_heartbeat(caf::actor_system& sys, std::shared_ptr<v1_agent_hub> hub,
                              caf::timespan every);

} // namespace caldera
