// The simulated workload: command-like frameworks that each run a job of
// tasks (retrying failed attempts), and the in-process executors that run
// those tasks for a seed-chosen virtual time. Both are ordinary SDK
// subclasses; what they see is recorded for the invariant checkers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/executor.hpp"
#include "actors/resources.hpp"
#include "actors/scheduler.hpp"

namespace caldera::sim {

/// What one framework saw, shared with the simulator's checkers.
struct job_log {
  std::string name;
  std::string framework_id;
  /// Every status of every attempt, by task id, in arrival order.
  std::map<std::string, std::vector<status_info>> updates;
  /// Attempts launched and not yet seen terminal.
  std::set<std::string> in_flight;
  size_t tasks = 0;     // logical tasks of the job
  size_t finished = 0;  // logical tasks done (an attempt FINISHED)
  size_t abandoned = 0; // logical tasks out of attempts
  size_t launched = 0;  // attempts
  bool stopped = false; // the framework ended (stop())
  std::vector<std::string> violations;
  // The scheduler's own state, kept here as a framework keeps it in its
  // own store, so that a restarted scheduler (failover) carries on.
  std::vector<size_t> pending;         // logical tasks waiting for an offer
  std::map<std::string, size_t> of;    // attempt id -> logical task
  std::vector<int> attempts;           // per logical task
  bool started = false;
  bool done() const { return finished + abandoned == tasks; }
};

struct job_spec {
  std::string name;
  std::string role = "*";
  size_t tasks = 4;
  resources per_task;
  /// One executor per agent for all tasks (a TaskTracker) rather than one
  /// per task (a command executor).
  bool shared_executor = false;
  /// What each executor itself takes (ExecutorInfo.resources), charged by
  /// the master while it has tasks.
  resources per_executor;
  bool partition_aware = false;
  int max_attempts = 6;
  /// Tasks run 1..max_run_ms of virtual time; fail with this chance.
  int max_run_ms = 20'000;
  double fail_chance = 0.1;
  /// Seed of the framework's own choices (run times, failures).
  uint64_t seed = 1;
};

/// The terminal states (Mesos': TASK_UNKNOWN is none) a framework saw for
/// one task, leaving out answers that a restarted master does not know a
/// task that had already ended, which are no new state of the task.
std::set<schema::TaskState> terminal_states(const std::vector<status_info>& ups);

class sim_framework : public scheduler {
public:
  sim_framework(caf::actor_config& cfg, scheduler_options opts, job_spec job,
                std::shared_ptr<job_log> log);

protected:
  void registered(const std::string& fid, const std::string& master_id) override;
  void reregistered(const std::string& master_id) override;
  caf::message_handler extra_handlers() override;
  void resource_offers(const std::vector<offer>& offers) override;
  void status_update(const status_info& st) override;
  void error(const std::string& message) override;

private:
  void fill(const offer& o);
  /// Asks for the state of every attempt in flight (as Mesos frameworks
  /// should after re-registering and now and then): tasks nobody knows any
  /// more come back TASK_LOST / TASK_UNKNOWN and are tried again.
  void reconcile_in_flight();
  void attempt_ended(const std::string& tid, const status_info& st);
  std::string next_attempt(size_t k);

  job_spec job_;
  std::shared_ptr<job_log> log_;
  std::mt19937_64 rng_;
};

class sim_executor : public executor {
public:
  using executor::executor;

protected:
  void launch_task(const task_info& t) override;
  void kill_task(const std::string& task_id) override;
  caf::message_handler extra_handlers() override;
};

} // namespace caldera::sim
