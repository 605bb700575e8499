// Mesos' v1 Operator HTTP API on the master (POST /api/v1,
// docs/operator-http-api.md): GET_HEALTH, GET_FLAGS, GET_VERSION, GET_STATE,
// GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, GET_ROLES,
// GET_WEIGHTS, GET_QUOTA answered from the published snapshot (as
// /master/state is: never through the master's mailbox); UPDATE_WEIGHTS and
// UPDATE_QUOTA answered (deferred) once the master stored them, as the
// caller's principal (its Basic credentials proven to the master as the
// CLI's are); and SUBSCRIBE: a
// RecordIO stream of SUBSCRIBED (the whole state) then TASK_ADDED,
// TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED, FRAMEWORK_ADDED,
// FRAMEWORK_UPDATED, FRAMEWORK_REMOVED and HEARTBEAT.
//
// The events are the differences between successive snapshots (at most one
// every publish interval), so a task that passes through several states
// within one interval shows its latest; every change of the state an
// operator can read shows.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <nlohmann/json.hpp>

#include "actors/http.hpp"
#include "master/http_api.hpp"

namespace caldera {

/// v1 operator JSON of a snapshot (each as the `get_*` field of its response).
namespace v1op {
nlohmann::json get_state(const published_state& p);
nlohmann::json get_agents(const published_state& p);
nlohmann::json get_frameworks(const published_state& p);
nlohmann::json get_executors(const published_state& p);
nlohmann::json get_tasks(const published_state& p);
nlohmann::json get_roles(const published_state& p);
/// The events that lead from `before` (null: an empty master) to `after`.
std::vector<nlohmann::json> events_between(const published_state* before,
                                           const published_state& after);
} // namespace v1op

/// The SUBSCRIBE streams: each snapshot's differences go to every one.
class v1_operator_hub {
public:
  /// From the snapshot box's thread, before the snapshot is visible.
  void on_snapshot(const std::shared_ptr<const published_state>& p);
  /// A new subscriber: SUBSCRIBED with the state the next events follow.
  void subscribe(std::shared_ptr<http_stream> s, double heartbeat_seconds);
  /// HEARTBEAT to every subscriber (dropping closed ones).
  void heartbeat();
  size_t subscribers() const;

private:
  void broadcast(const std::string& record); // with m_ held

  mutable std::mutex m_;
  std::shared_ptr<const published_state> last_;
  std::vector<std::shared_ptr<http_stream>> streams_;
};

/// HEARTBEAT on every SUBSCRIBE stream every `every` (an actor of `sys`:
/// the actor clock; it ends with the system).
void start_v1_operator_heartbeat(caf::actor_system& sys, std::shared_ptr<v1_operator_hub> hub,
                                 caf::timespan every);

/// Adds POST /api/v1.
void add_v1_operator_routes(http_router& r, std::shared_ptr<state_box> box,
                            std::shared_ptr<const master_http_info> info,
                            std::shared_ptr<v1_operator_hub> hub);

} // namespace caldera
