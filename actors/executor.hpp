// The executor SDK: framework authors subclass `caldera::executor` to run
// their tasks on agents (Mesos' Executor interface, as an actor).
//
// An executor is started by the agent, once per executor id, either as a
// process (it finds the agent through CALDERA_* environment variables, see
// `executor_options::from_env`) or as an actor in the agent's process. It
// registers with the agent (again every 5 s until the agent answers), then
// receives the tasks launched on it; a task it already has is launched once.
//
// Connection states:
//
//   connecting --registered--> registered --agent down--> disconnected
//        ^                                                     |
//        +------------- reconnect every second ----------------+
//                (gives up after recovery_timeout: shutdown)
//
// A process executor reconnects to the same endpoint, so it finds a restarted
// agent by itself; an in-process one is sent `(connect_atom_t, agent)`.
//
// Status updates sent with `send_status` are reliable: kept until the agent
// acknowledges them and resent after a reconnection, when the agent sends a
// task again (it is still TASK_STAGING there: it lacks them), and every
// `update_retry` while unacknowledged.
//
// Callbacks run in the actor's context, one at a time; none may block: long
// or blocking work goes through `run_blocking`, later work through `after`.
//
// Delivery: `launch_task` and `kill_task` at most once per task and request
// (a task the executor already has is not launched again); `send_status`
// reliable (above); `framework_message` and `send_message` best effort, as
// in Mesos: a message may be lost on the way.
//
// Your own messages: `extra_handlers` adds handlers for message types the
// base does not handle; they cannot override the base's (the base's come
// first), so use your own types or atoms.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message_handler.hpp>

#include "actors/deferred.hpp"
#include "actors/ids.hpp"
#include "actors/node.hpp"
#include "actors/link_table.hpp"
#include "actors/resources.hpp"
#include "actors/runtime_env.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"

namespace caldera {

struct executor_options {
  /// In-process: the agent actor. Otherwise empty and `agent_endpoint` used.
  caf::actor agent;
  std::optional<endpoint> agent_endpoint;
  std::string framework_id;
  std::string executor_id;
  std::string sandbox;
  /// What proves to the agent that it launched this executor
  /// (CALDERA_EXECUTOR_TOKEN, as Mesos' executor secret).
  std::string token;
  /// How long to wait for a lost agent to come back before shutting down.
  caf::timespan recovery_timeout = std::chrono::minutes(15);
  /// Unacknowledged status updates are sent again this often (one lost on
  /// the way, with the connection up, is otherwise never resent).
  caf::timespan update_retry = std::chrono::seconds(10);
  /// Time, randomness and links (the real world by default; in-process
  /// executors share their agent's) and this executor's node.
  std::shared_ptr<runtime_env> runtime = real_env();
  std::string node_name = "executor";

  /// Reads CALDERA_AGENT_ENDPOINT, CALDERA_FRAMEWORK_ID, CALDERA_EXECUTOR_ID,
  /// CALDERA_SANDBOX_DIRECTORY, CALDERA_EXECUTOR_TOKEN and
  /// CALDERA_RECOVERY_TIMEOUT (seconds). Fails
  /// naming the variable that is missing or malformed.
  static caf::expected<executor_options> from_env();
};

/// A task as the executor receives it.
struct task_info {
  std::string task_id;
  std::string name;
  std::string agent_id;
  std::string framework_id;
  std::string executor_id;
  std::string command;   // shell command (command tasks)
  std::string user;
  std::map<std::string, std::string> env;
  resources res;
  std::string data;
  double kill_grace_period = 0; // seconds; 0 = the executor's default
};

class executor : public linked<caf::event_based_actor> {
public:
  executor(caf::actor_config& cfg, executor_options opts);

  caf::behavior make_behavior() final;

  const executor_options& options() const { return opts_; }
  const std::string& agent_id() const { return agent_id_; }

protected:
  // -- callbacks ------------------------------------------------------------

  /// Once, when the agent first accepts the registration. Before any task.
  virtual void registered(const std::string& agent_id, const std::string& hostname);

  /// After each successful re-registration following `disconnected`.
  virtual void reregistered(const std::string& agent_id);

  /// When the connection to the agent is lost; tasks keep running.
  virtual void disconnected();

  /// Once per task launched on this executor, after `registered`. The
  /// executor reports the task's progress with `send_status`.
  virtual void launch_task(const task_info& task) = 0;

  /// When the framework (or the agent) asks to kill a task. The executor
  /// must eventually send a terminal status (usually TASK_KILLED) for it.
  virtual void kill_task(const std::string& task_id);

  /// For each message the scheduler sent to this executor, in order.
  virtual void framework_message(const std::string& data);

  /// When the agent asks the executor to stop (framework torn down, agent
  /// shutting down, recovery timeout). The default kills every task it knows
  /// through `kill_task` and quits once the updates are acknowledged.
  virtual void shutdown();

  /// When something this executor sent was refused.
  virtual void error(const std::string& message);

  /// When the agent acknowledged the update `uuid` of `task_id` (it is not
  /// sent again).
  virtual void acknowledged(const std::string& task_id, const std::string& uuid);

  /// Handlers of the subclass's own messages (timers, child exits, ...).
  virtual caf::message_handler extra_handlers();

  // -- actions ----------------------------------------------------------------

  /// Sends a status update for `task_id`; reliable (see above).
  void send_status(const std::string& task_id, schema::TaskState state,
                   std::string message = {}, std::optional<int> exit_code = {},
                   std::string reason = {});

  /// `send_status` with every field of `st` given: its `uuid` (a new one
  /// when empty; an update whose uuid is still unacknowledged is not added
  /// again), timestamp (now when 0), message, reason, exit code. The ids are
  /// this executor's.
  void send_update(status_info st);

  /// Takes `task` as launched here without `launch_task` (an executor that
  /// re-subscribes with tasks it already runs): a launch of it is a duplicate.
  void adopt_task(const task_info& task);

  /// Sends `data` to the framework's scheduler (best effort).
  void send_message(const std::string& data);

  /// Quits once every status update is acknowledged, or after `grace`.
  void finish(caf::timespan grace = std::chrono::seconds(5));

  /// Runs `fn` in this actor after `delay` (the runtime's clock).
  void after(caf::timespan delay, std::function<void()> fn);

  /// Runs `work` off the actor (a thread; a step of virtual time in the
  /// simulator), then `then(result)` in the actor. `work` must not touch
  /// the executor's state.
  template <class T>
  void run_blocking(std::function<T()> work, std::function<void(T)> then) {
    deferred_.run_blocking<T>(this, *opts_.runtime, std::move(work), std::move(then));
  }

  /// Tasks launched here that have no terminal update yet.
  const std::map<std::string, task_info>& active_tasks() const { return tasks_; }

private:
  void connect();
  void on_connected(caf::actor agent);
  void send_registration(uint64_t epoch);
  void on_agent_down();
  void resend_unacknowledged();
  void on_registered(const executor_registered_msg& m);
  void on_run_task(const run_task_msg& m);
  void on_acknowledge(const acknowledge_msg& m);
  void on_recover_timeout(uint64_t epoch);
  void on_finish();
  void schedule_resend();
  void on_resend_timer();
  void maybe_quit();
  /// Launched here and not ended, or ended with its update unacknowledged.
  bool knows_task(const std::string& task_id) const;

  executor_options opts_;
  caf::actor agent_;
  std::string agent_id_;
  bool registered_once_ = false;
  bool awaiting_registration_ = false; // RegisterExecutor sent, not answered
  uint64_t registration_epoch_ = 0;    // guards the registration retries
  bool finishing_ = false;
  bool resend_pending_ = false;        // the update resend timer runs
  uint64_t disconnect_epoch_ = 0;
  std::map<std::string, task_info> tasks_;
  // Unacknowledged updates by uuid, in send order.
  std::vector<std::pair<std::string, status_update_msg>> unacked_;
  id_generator ids_;
  deferred_calls deferred_;
};

/// The `main` of an executor process started by an agent: reads the
/// CALDERA_* variables, spawns the executor with `spawn`, and runs until it
/// ends. Returns the process's exit status (2 with a message naming the
/// problem when the environment or options are unusable). `name` prefixes
/// messages; `argv` holds only options (CAF's, e.g. --log-level).
int run_executor_process(const std::string& name, int argc, char** argv,
                         const std::function<void(caf::actor_system&, executor_options)>& spawn);

/// This program's own path (/proc/self/exe), for executor commands that
/// start the framework's binary again in executor mode.
std::string executable_path();

} // namespace caldera
