// The master actor: registers agents and frameworks, turns the allocator's
// decisions into offers, validates accepts and launches tasks on agents,
// forwards status updates (and their acknowledgements) between agents and
// schedulers, and recovers resources when tasks end or peers go away.
//
// Every agent and scheduler handle is monitored. A scheduler that goes away
// leaves its framework disconnected (offers rescinded) for
// `failover_timeout`; then the framework is torn down. An agent that goes away
// has its offers rescinded and its tasks reported TASK_LOST.
//
// Operators set role weights and quotas (SetWeights, SetQuota, GetRoles, all
// answered with Roles); they are stored in the registry and applied to the
// allocator again when a master starts.
//
// Registry changes (admitted agents, framework ids, roles) go through the registrar
// actor; the master answers a registration only after the change is durable,
// and never blocks on disk itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "actors/auth.hpp"
#include "actors/runtime_env.hpp"
#include "master/allocator.hpp"
#include "master/http_api.hpp"
#include "storage/registry_store.hpp"

namespace caldera {

struct master_options {
  caf::timespan allocation_interval = std::chrono::seconds(1);
  /// With standby masters: this leader's epoch, told to every agent and
  /// framework that registers (they refuse a master of an older one).
  uint64_t epoch = 0;
  std::string hostname = "localhost";
  /// Seed of the master's ids (0: from `runtime`, random when unseeded).
  uint64_t seed = 0;
  /// Time, randomness, blocking work and links (null: the real world).
  std::shared_ptr<runtime_env> runtime = real_env();
  /// This master's node in the runtime's link table.
  std::string node_name = "master";
  /// Health checks: an agent is pinged every `agent_ping_timeout`; after
  /// `max_agent_ping_timeouts` unanswered pings it is unreachable.
  caf::timespan agent_ping_timeout = std::chrono::seconds(15);
  size_t max_agent_ping_timeouts = 5;
  /// Agents one health-check tick pings: with more agents, the interval is
  /// shared among up to 150 ticks (pings, and pongs, spread over it).
  size_t agents_per_ping_tick = 500;
  /// After a restart, agents of the registry that have not re-registered
  /// within this are marked unreachable.
  caf::timespan agent_reregister_timeout = std::chrono::minutes(10);
  /// An offer not answered within this is rescinded (0: never).
  caf::timespan offer_timeout{0};
  /// No offer is smaller than all of these (Mesos: cpus:0.01 or mem:32).
  std::vector<resources> min_allocatable = allocator::default_min_allocatable();
  /// The process's node actor (fault injection); may be null.
  caf::actor node;
  /// Shown in state; the registry content loaded at start.
  registry_snapshot recovered;
  /// Role weights from the configuration; the registry's override them.
  std::vector<std::pair<std::string, double>> initial_weights;
  /// Where the operator API reads from (null: no HTTP): the master
  /// publishes its state there at most every `publish_interval` when it
  /// changed (and at least every 5 s).
  std::shared_ptr<state_box> publish;
  caf::timespan publish_interval = std::chrono::milliseconds(500);
  /// The principals peers prove (null: none can: no authentication,
  /// Mesos' default); who must is said by the flags below.
  std::shared_ptr<const caldera::credentials> credentials;
  /// Mesos' --authenticate_frameworks and --authenticate_agents.
  bool authenticate_frameworks = false;
  bool authenticate_agents = false;
  /// Operator calls (weights, quota, teardown, actors) need a proven
  /// principal; the ACLs say which.
  bool authenticate_operators = false;
  /// What each principal may do (null: everything).
  std::shared_ptr<const acls> acl;
};

/// Spawns a master that persists through `registrar`.
caf::actor spawn_master(caf::actor_system& sys, caf::actor registrar,
                        master_options opts);

} // namespace caldera
