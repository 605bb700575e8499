// The agent actor: offers its machine's resources to the master, runs the
// executors the master's tasks need through its containerizer, and relays
// status updates reliably (kept and retried with back-off until the master
// acknowledges them, in order per task).
//
// Connection to the master:
//
//   idle --start--> connecting --connected--> registering --AgentRegistered--> registered
//                       ^                          |                              |
//                       +-------- retry with back-off (1 s .. 30 s) ---------------+
//                                                      master down
//
// Status updates wait while disconnected and are resent on registration.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/node.hpp"
#include "actors/resources.hpp"
#include "agent/containerizer.hpp"

namespace caldera {

struct agent_options {
  /// In-process: the master actor; otherwise `master_endpoint`.
  caf::actor master;
  std::optional<endpoint> master_endpoint;
  std::string hostname = "localhost";
  /// host:port executors connect to (the agent's published actor port);
  /// set by `start_atom`.
  std::string executor_endpoint;
  resources res;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string work_dir = "run/agent";
  std::shared_ptr<containerizer> containers;
  /// The process's node actor (fault injection); may be null.
  caf::actor node;
  /// Grace between ShutdownExecutor and destroying the container.
  caf::timespan executor_shutdown_grace = std::chrono::seconds(5);
};

/// Spawns an agent; it registers with the master once it receives
/// `(start_atom, endpoint)`: the caller publishes it first, so that the
/// endpoint executors connect to is known ("" for in-process executors).
caf::actor spawn_agent(caf::actor_system& sys, agent_options opts);

using start_atom = caf::atom_constant<caf::atom("start")>;
/// Sent to an agent: destroy every container, then quit.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

} // namespace caldera
