// The agent actor's internals, shared by agent.cpp (connection, tasks,
// executors), agent_checkpoint.cpp (checkpoint and recovery) and
// agent_view.cpp (what the HTTP API shows). Not part of the agent's API.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <nlohmann/json.hpp>

#include "actors/ids.hpp"
#include "actors/link_table.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"
#include "agent/agent.hpp"
#include "agent/gc.hpp"
#include "agent/isolation.hpp"
#include "storage/agent_store.hpp"

namespace caldera::agent_detail {

using key_t = std::pair<std::string, std::string>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using isolate_atom = caf::atom_constant<caf::atom("isolate")>;
using disk_atom = caf::atom_constant<caf::atom("disk")>;
using registration_timeout_atom = caf::atom_constant<caf::atom("regtimeout")>;
using launch_retry_atom = caf::atom_constant<caf::atom("launchrtry")>;

enum class phase { idle, connecting, registering, registered };

struct executor_rec {
  // recovering: started by an earlier agent, not re-registered yet.
  enum class state { launching, running, recovering } st = state::launching;
  bool reregister_timed_out = false;
  bool registration_timed_out = false; // a new one that never registered
  caf::actor handle;
  std::string container_id;
  std::vector<run_task_msg> queued;
  std::set<std::string> tasks; // non-terminal task ids
  std::string sandbox;
  /// The limit the container hit (it is being destroyed).
  std::optional<limitation> limited;
  /// The executor's own resources (from its ExecutorInfo; after a restart
  /// from its tasks' launches).
  resources own;
  /// caldera's command executor (one command task), not the framework's own.
  bool command_executor = false;
  /// No executor at all: the container runs the command task's shell,
  /// started and reaped by the agent (options.command_executor == "agent").
  bool direct = false;
  /// A kill or shutdown of its direct task was asked for: its end is TASK_KILLED.
  bool killing = false;
  /// What it must register with (CALDERA_EXECUTOR_TOKEN; "" from a
  /// checkpoint of an agent that made none: not checked).
  std::string token;
};

struct task_rec {
  std::string executor_id;
  schema::TaskState state = schema::TaskState::STAGING;
  std::string name;
  std::string role;
  run_task_msg launch; // what the master sent (resources, framework)
  /// Launch retry rounds while TASK_STAGING on its registered executor.
  size_t launch_rounds = 0;
};

struct update_queue {
  std::deque<std::pair<std::string, status_update_msg>> q; // uuid, update
  caf::timespan backoff = std::chrono::seconds(10);
  // Uuids sent to a master (in this life or, for recovered ones, maybe in
  // the last): an acknowledgement of any other is a bug somewhere.
  std::set<std::string> sent;
};

struct agent_data {
  agent_options opts;
  std::map<std::string, std::string> framework_users; // by framework id (agent_view.cpp)
  peer_auth auth; // operators' principals (opts.operators)
  phase ph = phase::idle;
  std::string agent_id;
  caf::actor master;
  caf::timespan reconnect_backoff = std::chrono::seconds(1);
  size_t connect_attempts = 0; // picks the master of a list in turn
  bool connect_failed = false;  // said master_unreachable for this outage
  uint64_t max_epoch = 0;       // the newest leader epoch seen (standby masters)
  bool reconnect_pending = false; // a retry_atom is on its way
  std::map<key_t, executor_rec> executors;
  std::map<key_t, task_rec> tasks;
  std::map<key_t, update_queue> updates;
  // Tasks that ended here and were forgotten (newest last, bounded): a
  // launch of one of them arriving late (a resend, a duplicate) is ignored,
  // never run a second time.
  std::set<key_t> forgotten;
  std::deque<key_t> forgotten_order;
  id_generator ids; // seeded at start
  bool shutting_down = false;
  bool recovering = false;
  std::unique_ptr<agent_store> store;
  // Tasks whose checkpoint write failed (a full disk): their updates are
  // not forwarded until it succeeds, retried every second.
  std::set<key_t> dirty;
  // Why the agent takes no tasks now (its checkpoint fails); empty: healthy.
  // The master hears of each change (AgentHealth), /health answers 503.
  std::string unhealthy;
  bool flush_scheduled = false;
  // For the HTTP API: executors and tasks that ended (newest last, bounded).
  std::deque<nlohmann::json> completed_executors;
  std::map<key_t, std::vector<nlohmann::json>> completed_tasks; // by executor
  std::shared_ptr<const agent_view> published_view;
  std::unique_ptr<sandbox_gc> gc;
  std::chrono::steady_clock::time_point last_disk_watch{}; // runtime's monotonic time
  bool disk_watch_busy = false; // a disk measurement runs on its thread
  static inline const char* name = "agent";
};

// The agent actor; its mailbox passes the links of its node (simulation:
// partitions and message faults are rules of the runtime's link table).
class agent_actor : public linked<caf::stateful_actor<agent_data>> {
public:
  agent_actor(caf::actor_config& cfg, agent_options opts)
    : linked<caf::stateful_actor<agent_data>>(cfg), opts_(std::move(opts)) {
    if (!opts_.runtime)
      opts_.runtime = real_env();
    join_links(opts_.runtime->links(), opts_.node_name);
  }

  caf::behavior make_behavior() override;

private:
  agent_options opts_;
};

// Sends to the master (while there is one).
template <class M>
void to_master(agent_actor* self, M&& m) {
  auto& d = self->state;
  if (d.master)
    self->send(d.master, std::forward<M>(m));
}

/// Wall time from the agent's runtime environment.
inline double wall_now(agent_actor* self) {
  return self->state.opts.runtime->wall_seconds();
}
/// The same, as the sandbox GC counts it.
inline sandbox_gc::clock::time_point gc_now(agent_actor* self) {
  return sandbox_gc::clock::time_point{std::chrono::duration_cast<sandbox_gc::clock::duration>(
    std::chrono::duration<double>(wall_now(self)))};
}


constexpr auto max_update_backoff = std::chrono::minutes(10);
constexpr auto max_reconnect_backoff = std::chrono::seconds(5);

// -- agent.cpp ----------------------------------------------------------------

void send_head(agent_actor* self, const key_t& key);
void enqueue_update(agent_actor* self, const status_info& st);
/// A status the agent itself generates (launch failures, executor exits, ...).
void agent_status(agent_actor* self, const std::string& fid, const std::string& tid,
                  const std::string& eid, schema::TaskState state, std::string reason,
                  std::string message, std::optional<int> exit_code = std::nullopt,
                  schema::StatusSource source = schema::StatusSource::AGENT);
// Command tasks the agent runs itself (agent_command.cpp).
/// True if this launch is a command task the agent runs without an executor.
bool runs_directly(agent_actor* self, schema::TaskInfo::Reader t);
/// What a direct command task's container runs: its shell command, its exit
/// code kept in the sandbox (read when a restarted agent cannot learn it).
std::string direct_command(const std::string& shell);
/// A direct command task's container started: it runs (TASK_RUNNING).
void direct_started(agent_actor* self, const std::string& fid, const std::string& tid,
                    const std::string& eid);
/// Its container ended: the task's terminal state from the exit.
void direct_exited(agent_actor* self, const std::string& fid, const std::string& eid,
                   const executor_rec& rec, int status);
/// Kills a direct command task: SIGTERM now, the container destroyed after
/// the task's kill grace period.
void direct_kill(agent_actor* self, const std::string& fid, const std::string& tid,
                 const std::string& eid, executor_rec& rec);
// The link to the master (agent_master.cpp).
/// Finds the master and registers with it.
void connect(agent_actor* self);
/// Registers with the master it is connected to (proving its principal first).
void do_register(agent_actor* self);
/// A reconnection after the master went: soon where the lookup watches for
/// a new leader (etcd://), else after the back-off.
void reconnect_soon(agent_actor* self);
/// Whether the message being handled comes from this agent's master.
bool from_master(agent_actor* self, const char* what);
void executor_exited(agent_actor* self, const std::string& fid, const std::string& eid,
                     int status);

// -- agent_checkpoint.cpp -------------------------------------------------------

/// Writes what the agent knows of a task (and its unacknowledged updates) to
/// the checkpoint, or forgets it when nothing is left. The error (logged)
/// when the write failed (a full disk).
caf::error checkpoint_task(agent_actor* self, const key_t& key);
/// Records whether the agent can take tasks (`why` empty: it can) and tells
/// the master when that changes.
void set_health(agent_actor* self, const std::string& why);
/// Tells the master what set_health recorded.
void report_health(agent_actor* self);
/// Reads the checkpoint and takes back what still runs; connects to the
/// master once every recovered executor re-registered or the timeout passed.
void recover(agent_actor* self);
/// Writes the tasks whose checkpoint failed again; forwards their updates
/// once written.
void flush_checkpoint(agent_actor* self);
/// flush_checkpoint in a second (once, however often asked).
void schedule_flush(agent_actor* self);
void finish_recovery(agent_actor* self);

// -- agent_isolation.cpp -------------------------------------------------------

/// The executor's own resources, as a task's launch carries them.
resources executor_own(const run_task_msg& m);
/// cpus, mem and disk of `r` as limits.
container_limits to_limits(const resources& r);
/// What the isolators should enforce for an executor: its own resources
/// plus those of its tasks that have not ended.
container_limits limits_of(agent_actor* self, const key_t& ekey);
/// The user a new executor for this task runs as ("" : the agent's), or an
/// error message when that user may not run tasks here.
caf::expected<std::string> task_user(agent_actor* self, const run_task_msg& m);
/// The limit an executor's container hit, if any (recorded, and the
/// container destroyed, the first time). Memory only: disk is measured off
/// the agent's thread by `check_containers`, and reported to `disk_limited`.
std::optional<limitation> container_limited(agent_actor* self, const key_t& ekey);
void disk_limited(agent_actor* self, const std::string& container_id, const limitation& l);
/// The periodic check of every container (memory; disk and sandbox GC at
/// the disk watch interval).
void check_containers(agent_actor* self);
/// Sandboxes of executors that no longer run (left by an earlier agent) go
/// to the GC, aged from their last change.
void schedule_leftover_sandboxes(agent_actor* self);
/// Every executor's resource statistics (`caldera usage`, /monitor/statistics).
usage_msg usage_of(agent_actor* self);

// -- agent_view.cpp -------------------------------------------------------------

/// Keeps a task that ended for the HTTP API (bounded per executor).
void remember_task(agent_actor* self, const key_t& key, const task_rec& t);
nlohmann::json executor_json(agent_actor* self, const key_t& ekey, const std::string& sandbox,
                             bool include_done);
/// Rebuilds the HTTP API's view of this agent.
void publish_view(agent_actor* self);

} // namespace caldera::agent_detail
