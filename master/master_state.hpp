// The master's soft state: agents, frameworks, tasks and outstanding offers,
// as plain data with the checks that do not need an actor (launch validation,
// the operator snapshot). The master actor owns one and is its only writer.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>

#include "actors/resources.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"

namespace caldera {

struct agent_entry {
  std::string id;
  std::string hostname;
  std::string endpoint;
  resources total;
  resources used;     // by tasks
  resources offered;  // in outstanding offers
  std::vector<std::pair<std::string, std::string>> attributes;
  caf::actor handle;
  bool active = true;
  bool unreachable = false; // missed too many pings; may come back
  bool disconnected = false; // its connection closed; tasks kept until unreachable
  bool recovered = false; // from the registry, not re-registered since a master restart
  bool marking_unreachable = false; // the registry write that says so is on its way
  uint64_t registration = 0;         // which registration of the master admitted it
  /// (framework, task) on this agent whose frameworks were told TASK_LOST.
  std::set<std::pair<std::string, std::string>> lost_tasks;
  bool ping_outstanding = false;
  size_t missed_pings = 0;
  double registered_at = 0;
  std::string http_endpoint;
  std::string unhealthy; // why it takes no tasks (AgentHealth); "" : healthy
};

struct framework_entry {
  std::string id;
  std::string name;
  std::string user;
  std::vector<std::string> roles;
  std::string principal;
  double failover_timeout = 0;
  bool partition_aware = false; // gets TASK_UNREACHABLE rather than TASK_LOST
  caf::actor handle;   // the scheduler; null while disconnected
  bool active = true;
  bool completed = false;
  double registered_at = 0;
  uint64_t epoch = 0;  // bumped on every (re)connect; guards failover timers
  resources used;
  resources offered;
};

/// A framework's entry as its FrameworkInfo describes it (roles default to
/// "*"; the PARTITION_AWARE capability read); no scheduler handle yet.
framework_entry framework_from_info(schema::FrameworkInfo::Reader info);

struct task_entry {
  std::string id;
  std::string name;
  std::string framework_id;
  std::string role; // the role its resources are charged to
  std::string agent_id;
  std::string executor_id;
  resources res;
  /// Its executor's own resources (ExecutorInfo.resources; empty for
  /// command tasks): charged once per executor, see `executor_charges`.
  resources executor_res;
  schema::TaskState state = schema::TaskState::STAGING;
  std::vector<status_info> statuses;
  /// The launch as sent, until its agent says anything of the task; resent
  /// every health-check round after the first (a RunTask lost on the way
  /// left the task TASK_STAGING for ever: seed 4713).
  std::optional<run_task_msg> launch;
  size_t launch_rounds = 0;
};

struct offer_entry {
  std::string id;
  std::string framework_id;
  std::string agent_id;
  std::string role;
  resources res;
};

/// One task of an accepted launch, after validation.
struct launch_item {
  std::string task_id;
  resources res;
  /// Its executor's resources when this task starts the executor on the
  /// agent (taken from the offers beside `res`); else empty.
  resources starts_executor;
};

/// What the master charges for one executor on an agent.
struct executor_charge {
  resources res;
  std::string role;
  bool operator==(const executor_charge& o) const { return res == o.res && role == o.role; }
};

/// An agent's executors by (framework id, executor id).
using executor_charges_map = std::map<std::pair<std::string, std::string>, executor_charge>;

/// What `validate_launch` decided for each task of one launch operation.
struct launch_plan {
  std::vector<launch_item> ok;
  std::vector<std::pair<std::string, std::string>> errors; // task id, reason
};

/// What a status update from an agent does to the master's records
/// (`master_state::apply_status`).
enum class status_effect {
  recorded,   // an active task's new state (not final)
  finished,   // an active task's final state: it leaves the active tasks
  superseded, // its framework was told another final state: dropped, acknowledged here
  late_final, // the final state of a task that was unreachable
  passed_on,  // nothing to record (a retried final state, a task without a record)
};

/// What the master does with a task an agent reports when it re-registers
/// (`master_state::classify_reported`).
enum class reported_fate {
  ended,     // ended there, unknown here: remembered; its last update is on its way
  kill,      // its framework was told it is lost, or it ended here: killed, said no more
  active,    // known here: charged again
  recovered, // unknown here (a restarted master): known again, its framework told
};

/// What `check_offers` found of the offers one accept names.
struct offer_claim {
  std::string agent_id;
  std::string role;
  resources available;            // their resources together
  std::vector<std::string> ids;
  std::string problem;            // non-empty: the accept is refused for it
};

/// A framework as the operator API shows it (State.frameworks, the answer
/// to TeardownFramework).
void fill_framework_state(schema::FrameworkState::Builder b, const framework_entry& f);

class master_state {
public:
  std::map<std::string, agent_entry> agents;
  std::map<std::string, framework_entry> frameworks;
  /// Active tasks by (framework id, task id). Add with `add_task` and end
  /// with `complete_task`, which keep `tasks_by_agent`.
  std::map<std::pair<std::string, std::string>, task_entry> tasks;
  /// The keys of each agent's active tasks: an agent's (re-)registration
  /// looks at its own tasks, not at every task (10,000 agents x 100,000
  /// tasks made a failover quadratic).
  std::map<std::string, std::set<std::pair<std::string, std::string>>> tasks_by_agent;

  /// Adds task `key` unless there is one (as map::emplace); returns it.
  task_entry& add_task(const std::pair<std::string, std::string>& key, task_entry&& te);
  /// The keys of the active tasks on `agent_id`.
  std::vector<std::pair<std::string, std::string>> tasks_on(const std::string& agent_id) const;
  /// Terminal tasks by framework, newest last, each list bounded by
  /// `max_completed_tasks_per_framework` (Mesos' default, 1000); a
  /// framework torn down longer ago than the newest
  /// `max_completed_frameworks` keeps none.
  std::map<std::string, std::deque<task_entry>> completed_tasks;
  /// Outstanding offers by id. Add with `add_offer` and take with
  /// `take_offer`, which keep the indexes below and the `offered` sums of
  /// the agent and the framework: an agent's re-registration rescinds its
  /// own offers without a look at every other (a failover's 10,000
  /// re-registrations each scanned all offers: 16% of the new leader's time).
  std::map<std::string, offer_entry> offers;
  std::map<std::string, std::set<std::string>> offers_by_agent;
  std::map<std::string, std::set<std::string>> offers_by_framework;
  /// What is charged for executors' own resources, by agent: an executor is
  /// charged (to its framework and the role of its tasks) from the launch
  /// that starts it while any of its tasks is active on the agent. Mesos
  /// charges until the executor ends; the master here learns an executor's
  /// end reliably only through its tasks' updates, so an idle executor's
  /// resources return to the pool (and a launch on it charges them again).
  std::map<std::string, executor_charges_map> executor_charges;

  /// The charges agent `agent_id`'s active tasks call for: one per executor
  /// with own resources, charged to the role of its first task.
  executor_charges_map wanted_executor_charges(const std::string& agent_id) const;

  /// Records offer `o` (counted in its agent's and framework's `offered`).
  const offer_entry& add_offer(offer_entry o);
  /// Removes outstanding offer `id` and uncounts it; nullopt if there is none.
  std::optional<offer_entry> take_offer(const std::string& id);
  /// The ids of the outstanding offers of agent `agent_id`.
  std::vector<std::string> offers_on(const std::string& agent_id) const;
  /// The ids of the outstanding offers to framework `framework_id`.
  std::vector<std::string> offers_to(const std::string& framework_id) const;
  size_t max_completed_tasks_per_framework = 1000;
  size_t max_completed_frameworks = 50;
  /// Torn-down frameworks, oldest first.
  std::deque<std::string> completed_frameworks;

  /// How many completed tasks are kept.
  size_t completed_task_count() const;
  /// Records that `framework_id` was torn down (and forgets the completed
  /// tasks of the oldest one beyond the bound).
  void framework_completed(const std::string& framework_id);

  /// Checks each task of `launch` against what the offers hold (`available`,
  /// consumed in order), id uniqueness (within the launch and among the
  /// framework's active tasks) and completeness. `tasks_agent` is the agent
  /// of the offers. A task that starts an executor (none charged on the
  /// agent, none earlier in the launch) needs its executor's resources too;
  /// one whose executor runs with other resources is refused.
  launch_plan validate_launch(const std::string& framework_id,
                              const std::string& tasks_agent,
                              capnp::List<schema::TaskInfo>::Reader launch,
                              resources available) const;

  /// What makes task `t` unfit before its resources are looked at (its id,
  /// agent, command or executor); "" when nothing. `seen`: the launch's ids.
  std::string basic_task_problem(const std::string& framework_id, const std::string& tasks_agent,
                                 schema::TaskInfo::Reader t, std::set<std::string>& seen) const;

  /// Whether `offer_ids` can be accepted together by `framework_id`: every
  /// one outstanding and its, all of one agent and one role, at least one.
  offer_claim check_offers(const std::string& framework_id,
                           const std::vector<std::string>& offer_ids) const;

  /// The fate of task `key`, reported in `state` by its re-registering agent.
  /// `in_agent_lost`: among the tasks that agent's frameworks were told are
  /// lost when it became unreachable; `answered_lost`: told lost by
  /// reconciliation.
  reported_fate classify_reported(const std::pair<std::string, std::string>& key,
                                  schema::TaskState state, bool in_agent_lost,
                                  bool answered_lost) const;

  /// Applies status `st` of task (framework_id, task_id) to the records.
  /// `told_lost`: its framework was told TASK_LOST for it (its agent was
  /// unreachable, or reconciliation said so), so no other final state may
  /// follow. A finished task is not moved yet (`complete_task`).
  status_effect apply_status(const status_info& st, bool told_lost);

  /// Moves a task to the completed list (after a terminal update).
  void complete_task(const std::pair<std::string, std::string>& key);

  /// Finds a task, active or completed.
  const task_entry* find_task(const std::string& framework_id,
                              const std::string& task_id) const;
  task_entry* find_task(const std::string& framework_id, const std::string& task_id) {
    return const_cast<task_entry*>(std::as_const(*this).find_task(framework_id, task_id));
  }

  /// The operator view (agents, frameworks, tasks) as a State message.
  state_msg snapshot(const std::string& master_id, double started_at,
                     uint32_t recovered_agents,
                     uint32_t recovered_frameworks, double last_allocation_ms = 0) const;
};

} // namespace caldera
