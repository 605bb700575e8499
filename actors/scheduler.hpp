// The scheduler SDK: framework authors subclass `caldera::scheduler` to
// decide what runs where (Mesos' Scheduler interface, as an actor). A
// framework's `main` is a few lines with actors/bootstrap.hpp.
//
// Lifecycle and connection states:
//
//   connecting --FrameworkRegistered--> registered --master down--> disconnected
//        ^                                                               |
//        +--- reconnect after 100 ms, doubling up to `reconnect_interval` +
//                     (re-registers with the same framework id)
//
// Before the first registration, the scheduler gives up (`error`, then it
// ends with the error) after `connect_timeout`, and at once when the
// endpoint is not a master.
//
// Order of callbacks: `registered` first (once; `reregistered` after each
// reconnection), then any number of `resource_offers`, `offer_rescinded`,
// `status_update`, `framework_message`, `agent_lost`, `executor_lost` and
// `error`, in the order the master sent them. `disconnected` when the master
// connection is lost. Callbacks run in the actor's context, one at a time;
// none may block: long or blocking work goes through `run_blocking`, later
// work through `after`.
//
// Delivery, as in Mesos:
// - `status_update`: at least once, in order per task. Updates are
//   acknowledged automatically after `status_update` returns, unless
//   `implicit_acknowledgements` is off; then the scheduler calls
//   `acknowledge` itself, and unacknowledged updates are redelivered (also
//   after a master failover or an agent restart).
// - `resource_offers`, `offer_rescinded`, `agent_lost`, `executor_lost`:
//   at most once; a lost offer comes back as a new one, a lost agent or
//   executor shows in the tasks' status updates (TASK_LOST, TASK_FAILED ...)
//   and in `reconcile`'s answers.
// - `framework_message` (and `send_framework_message`): best effort, at most
//   once, unordered across a reconnection: a message may be lost on the way.
//
// Your own messages: `extra_handlers` adds handlers for message types the
// base does not handle; they cannot override the base's (the base's come
// first), so use your own types or atoms.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message_handler.hpp>

#include "actors/deferred.hpp"
#include "actors/node.hpp"
#include "actors/link_table.hpp"
#include "actors/master_address.hpp"
#include "actors/resources.hpp"
#include "actors/runtime_env.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"

namespace caldera {

struct scheduler_options {
  std::string name = "framework";
  std::string user;
  std::vector<std::string> roles{"*"};
  /// Who the framework is; with `secret`, proven to a master that
  /// authenticates frameworks (--credentials) before it registers.
  std::string principal;
  std::string secret;
  /// Seconds the master keeps the framework's tasks while the scheduler is
  /// disconnected; then it tears the framework down.
  double failover_timeout = 0;
  /// Set to re-register as an existing framework (failover).
  std::string framework_id;
  /// In-process: the master actor (a `(connect_atom_t, actor)` message points
  /// the scheduler at a restarted one). Otherwise `master_endpoint` (one
  /// master, a list, or etcd://: found afresh at each connection).
  caf::actor master;
  std::optional<master_address> master_endpoint;
  bool implicit_acknowledgements = true;
  /// Partition-aware frameworks see TASK_UNREACHABLE (and the task again
  /// when its agent comes back) where others see TASK_LOST.
  bool partition_aware = false;
  /// The longest wait between tries to reach the master: the first comes
  /// 100 ms after it went (a restarted master listens within a moment), the
  /// waits double up to this (at most 250 ms with an etcd:// address: a new
  /// leader is looked up as soon as it is elected).
  caf::timespan reconnect_interval = std::chrono::seconds(1);
  /// How long to try reaching and registering with a master before giving
  /// up, until the first registration (then: forever). 0: forever.
  caf::timespan connect_timeout = caf::timespan{0};
  /// How long `stop()` keeps asking for the teardown while the master does
  /// not answer (never longer than `failover_timeout`: then the master tears
  /// the framework down by itself).
  caf::timespan stop_timeout = std::chrono::minutes(1);
  /// Time, randomness and links (the real world by default) and this
  /// scheduler's node in the runtime's link table.
  std::shared_ptr<runtime_env> runtime = real_env();
  std::string node_name = "scheduler";
};

/// Asks a scheduler to `stop(failover)` (what run_framework sends on
/// SIGINT/SIGTERM: `(framework_stop_atom, false)`).
using framework_stop_atom = caf::atom_constant<caf::atom("fwstop")>;

/// A task to reconcile: its id, and its agent's when known.
struct task_ref {
  std::string task_id;
  std::string agent_id;
};

/// An offer as the scheduler sees it.
struct offer {
  std::string id;
  std::string agent_id;
  std::string hostname;
  resources res;
  std::vector<std::pair<std::string, std::string>> attributes;
  /// The framework's executors running on the agent with tasks (their
  /// `executor_res` charged): a task for one of them needs only its own
  /// resources; a task that starts one needs the executor's too.
  std::vector<std::string> executor_ids;
  /// The role the framework is offered these resources in (one of its
  /// roles; Mesos' allocation_info).
  std::string allocation_role;
  /// host:port of the agent's HTTP API ("" when it has none).
  std::string agent_http_endpoint;
};

/// What to launch: a command task (`command` set) or a task for a custom
/// executor (`executor_id` and `executor_command` set; tasks with the same
/// executor id share one executor on an agent).
struct task_spec {
  std::string task_id;
  std::string name;
  std::string agent_id;
  resources res;
  std::string command;
  std::vector<std::pair<std::string, std::string>> env;
  std::string user;
  std::string executor_id;
  std::string executor_command;
  /// What the executor itself uses (Mesos' ExecutorInfo.resources): taken
  /// from the offer, beside the task's, when this launch starts the executor
  /// on the agent, and charged to the framework until the executor ends.
  resources executor_res;
  std::string data;
  double kill_grace_period = 0;
};

/// One launch of `scheduler::accept_operations`.
struct launch_operation {
  enum kind_t { launch = 0, group = 1, gang = 2 } kind = launch;
  std::vector<task_spec> tasks;
};

class scheduler : public linked<caf::event_based_actor> {
public:
  scheduler(caf::actor_config& cfg, scheduler_options opts);

  caf::behavior make_behavior() final;

  const std::string& framework_id() const { return framework_id_; }
  bool connected() const { return registered_ && master_; }

protected:
  // -- callbacks ------------------------------------------------------------

  /// Once, when the master first registers the framework.
  virtual void registered(const std::string& framework_id, const std::string& master_id);
  /// After each re-registration that follows `disconnected`.
  virtual void reregistered(const std::string& master_id);
  /// When the connection to the master is lost; the SDK reconnects.
  virtual void disconnected();
  /// Whenever the master offers resources; every offer must eventually be
  /// accepted or declined (or it is held until rescinded).
  virtual void resource_offers(const std::vector<offer>& offers);
  /// When an offer is no longer valid (its agent went away, ...).
  virtual void offer_rescinded(const std::string& offer_id);
  /// For each status update of each task, in order per task, at least once.
  virtual void status_update(const status_info& status);
  /// For each message an executor sent.
  virtual void framework_message(const std::string& agent_id,
                                 const std::string& executor_id,
                                 const std::string& data);
  /// When an agent is lost; its tasks get TASK_LOST updates as well.
  virtual void agent_lost(const std::string& agent_id);
  /// When an executor ended; `status` is its wait status.
  virtual void executor_lost(const std::string& executor_id,
                             const std::string& agent_id, int status);
  /// When the master refused a call or registration (registration refusals
  /// end the scheduler after this callback, as does the framework's removal
  /// by an operator), when an action was dropped
  /// while disconnected, and once per outage when the master cannot be
  /// reached (the SDK keeps retrying).
  virtual void error(const std::string& message);

  /// After `error`, when another scheduler registered with this framework's
  /// id: the master no longer talks to this one. Default: nothing (the actor
  /// runs on until stopped).
  virtual void failed_over();

  /// Handlers of the subclass's own messages.
  virtual caf::message_handler extra_handlers();

  // -- actions (fire and forget; problems come back as `error` or as
  //    TASK_ERROR status updates). While disconnected from the master an
  //    action is dropped and `error` says so (acknowledgements are dropped
  //    quietly: the agent resends the update). ----------------------------

  void accept(const std::vector<std::string>& offer_ids,
              const std::vector<task_spec>& tasks, double refuse_seconds = 5);
  /// All-or-nothing launch of `tasks` across the given offers of one agent.
  void accept_group(const std::vector<std::string>& offer_ids,
                    const std::vector<task_spec>& tasks, double refuse_seconds = 5);
  /// Gang launch: `tasks` on several agents (each names its `agent_id`),
  /// from offers of those agents; the master launches every task or none
  /// (then each gets TASK_ERROR, REASON_TASK_GROUP_INVALID, and the offers'
  /// resources return unfiltered). What the gang leaves of the offers is
  /// declined for `refuse_seconds`.
  void accept_gang(const std::vector<std::string>& offer_ids,
                   const std::vector<task_spec>& tasks, double refuse_seconds = 5);
  /// Several operations on the offers at once (Mesos' ACCEPT with many
  /// operations): each as `accept`, `accept_group` or `accept_gang` would.
  void accept_operations(const std::vector<std::string>& offer_ids,
                         const std::vector<launch_operation>& ops, double refuse_seconds = 5);
  void decline(const std::vector<std::string>& offer_ids, double refuse_seconds = 5);
  void kill(const std::string& task_id, const std::string& agent_id = {});
  /// Shuts the framework's executor `executor_id` on `agent_id` down (its
  /// tasks end, killed; Mesos' SHUTDOWN call).
  void shutdown_executor(const std::string& executor_id, const std::string& agent_id);
  void acknowledge(const status_info& status);
  /// Asks the master for the latest state of `tasks`; the answers come as
  /// `status_update`s with reason "REASON_RECONCILIATION" and no uuid (no
  /// acknowledgement needed). A task the master does not know: TASK_LOST, or
  /// TASK_UNKNOWN when partition-aware; none yet while an agent that may
  /// still report it has not re-registered after a master restart. Empty:
  /// implicit reconciliation (the latest state of every task the master
  /// knows of this framework).
  void reconcile(const std::vector<task_ref>& tasks = {});
  /// Asks for offers again (in `roles` only, when given); clears filters.
  void revive(const std::vector<std::string>& roles = {});
  /// Stops offers (in `roles` only, when given) until `revive`.
  void suppress(const std::vector<std::string>& roles = {});
  void send_framework_message(const std::string& agent_id,
                              const std::string& executor_id,
                              const std::string& data);
  /// Tears the framework down (its tasks are killed) and quits the actor
  /// once the master confirmed it (or after `stop_timeout`). No callback
  /// runs after it, and no other action reaches the master.
  /// `keep_tasks` (a failover stop): quits at once without the teardown:
  /// the master keeps the framework's tasks for `failover_timeout`, and a
  /// scheduler registering with the same `framework_id` within it takes
  /// them over (Mesos' `stop(failover=true)`).
  void stop(bool keep_tasks = false);

  /// Runs `fn` in this actor after `delay` (the runtime's clock).
  void after(caf::timespan delay, std::function<void()> fn);

  /// Runs `work` off the actor (a thread; a step of virtual time in the
  /// simulator), then `then(result)` in the actor. `work` must not touch
  /// the scheduler's state.
  template <class T>
  void run_blocking(std::function<T()> work, std::function<void(T)> then) {
    deferred_.run_blocking<T>(this, *opts_.runtime, std::move(work), std::move(then));
  }

private:
  void connect();
  void on_connected(caf::actor master);
  void do_register();
  void on_master_down();
  bool stale_master(uint64_t epoch);
  void schedule_retry();
  /// Whether an action may go to the master: not after stop() (dropped
  /// quietly), nor while disconnected (dropped, and `error` says so).
  bool may_send(const char* action);
  void send_teardown();
  void begin_registration();
  void on_registration_error(caf::error& err);
  void on_master_error(const scheduler_error_msg& m);
  void on_retry();
  void on_new_master(const caf::actor& m);
  void on_connect_deadline();
  caf::behavior stopping_behavior();
  void accept_impl(const std::vector<std::string>& offer_ids,
                   const std::vector<task_spec>& tasks, double refuse_seconds,
                   int mode); // 0 launch, 1 group, 2 gang
  void fill_task(schema::TaskInfo::Builder tb, const task_spec& t) const;

  scheduler_options opts_;
  caf::actor master_;
  std::string framework_id_;
  bool registered_ = false;
  bool ever_registered_ = false;
  bool retry_pending_ = false;
  caf::timespan retry_wait_{0}; // the last wait between tries; 0 once registered
  bool connect_failed_ = false;
  uint64_t max_epoch_ = 0; // the newest leader epoch seen (standby masters)
  size_t connect_attempts_ = 0;
  bool stopping_ = false;
  deferred_calls deferred_;
};

} // namespace caldera
