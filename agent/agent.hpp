// The agent actor: offers its machine's resources to the master, runs the
// executors the master's tasks need (or a command task's shell itself)
// through its containerizer, and relays
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
//
// Recovery (before `connecting`): a restarted agent reads its checkpoint,
// asks the containerizer which of its executors still run, waits for those
// to re-register (the others' tasks become TASK_FAILED), then re-registers
// with the master under its old id, reporting what it runs, and resends the
// status updates the master had not acknowledged.
//
// Partitions and message faults are the runtime's (`runtime_env::links`):
// the agent's mailbox passes its node's links like every daemon's.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/auth.hpp"
#include "actors/peer_auth.hpp"
#include "actors/node.hpp"
#include "actors/resources.hpp"
#include "actors/master_address.hpp"
#include "actors/runtime_env.hpp"
#include "agent/containerizer.hpp"
#include "agent/http_api.hpp"
#include "storage/kv.hpp"

namespace caldera {

struct agent_options {
  /// In-process: the master actor; otherwise `master_endpoint` (one master,
  /// a list, or etcd://: found afresh at each connection).
  caf::actor master;
  std::optional<master_address> master_endpoint;
  std::string hostname = "localhost";
  /// host:port executors connect to (the agent's published actor port);
  /// set by `start_atom`.
  std::string executor_endpoint;
  /// The principal this agent proves to the master before it registers
  /// (--credential; none: it proves nothing).
  std::optional<caldera::credential> credential;
  /// Who may make operator calls here (listing and killing actors): the
  /// agent's --credentials, --acls and --authenticate_operators.
  peer_auth::policy operators;
  /// More environment for every executor (e.g. its TLS files).
  std::map<std::string, std::string> executor_env;
  resources res;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string work_dir = "run/agent";
  std::shared_ptr<containerizer> containers;
  /// The process's node actor (fault injection); may be null.
  caf::actor node;
  /// Time, randomness, blocking work and links (the real world by default).
  std::shared_ptr<runtime_env> runtime = real_env();
  /// This agent's node in the runtime's link table; its executors' nodes
  /// are "<node_name>/exec/<framework>/<executor>".
  std::string node_name = "agent";
  /// Grace between ShutdownExecutor and destroying the container.
  caf::timespan executor_shutdown_grace = std::chrono::seconds(5);
  /// Checkpoint executors, tasks and unacknowledged status updates in
  /// RocksDB under `<work_dir>/meta`, and recover them at start.
  bool checkpoint = true;
  /// Opens the checkpoint's store (null: RocksDB; the simulator's memory
  /// disks otherwise).
  store_opener open_store;
  /// "reconnect": recovered executors that still run are waited for (up to
  /// `executor_reregister_timeout`) and keep their tasks; "cleanup": every
  /// checkpointed executor is destroyed and the checkpoint forgotten.
  std::string recover = "reconnect";
  caf::timespan executor_reregister_timeout = std::chrono::seconds(5);
  /// A new executor that has not registered this long after its launch is
  /// destroyed and its tasks fail (REASON_EXECUTOR_REGISTRATION_TIMEOUT), as
  /// Mesos' --executor_registration_timeout: a registration lost on the way
  /// left its tasks TASK_STAGING for ever.
  caf::timespan executor_registration_timeout = std::chrono::minutes(1);
  /// Tasks still TASK_STAGING on their registered executor are sent to it
  /// again every this long (a launch lost on the way; the executor ignores
  /// tasks it has).
  caf::timespan executor_launch_retry = std::chrono::seconds(15);
  /// Who runs a command task (one without an executor of its framework's):
  /// "agent": the agent starts its shell in the task's container itself and
  /// reaps it (no executor process: the launch costs one process, near the
  /// spawn floor); "process": a `caldera-executor` per task, as Mesos'
  /// command executor. The in-process containerizer always uses executor
  /// actors.
  std::string command_executor = "agent";
  /// The HTTP API's view of this agent (null: no HTTP) and its address,
  /// reported to the master.
  std::shared_ptr<agent_box> publish;
  std::string http_endpoint;
  /// Run each executor (and its tasks) as the task's user: the task
  /// command's `user`, else the framework's (Mesos' --switch_user).
  bool switch_user = true;
  /// Users that may run tasks here; empty: any.
  std::vector<std::string> allowed_users;
  /// How often containers are checked against their memory limits.
  caf::timespan isolation_check_interval = std::chrono::milliseconds(500);
  /// How often sandboxes are measured (disk/du) and old ones collected.
  caf::timespan disk_watch_interval = std::chrono::seconds(15);
  /// Sandboxes of ended executors are removed after this long (sooner as
  /// the disk fills, see agent/gc.hpp).
  std::chrono::seconds gc_delay = std::chrono::hours(24 * 7);
  double gc_disk_headroom = 0.1;
};

/// Spawns an agent; it registers with the master once it receives
/// `(start_atom, endpoint)`: the caller publishes it first, so that the
/// endpoint executors connect to is known ("" for in-process executors).
caf::actor spawn_agent(caf::actor_system& sys, agent_options opts);

using start_atom = caf::atom_constant<caf::atom("start")>;
/// Sent to an agent: destroy every container, then quit.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

} // namespace caldera
