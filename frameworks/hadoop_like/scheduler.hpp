// hadoop_like's scheduler: one MapReduce job (word count or grep) over a
// directory of text files, written only against caldera's SDK.
//
// - Input is cut into splits; each split has locations (hosts that "hold"
//   it) from a placement file and from agents' `data` attribute (a comma
//   list of file names).
// - Delay scheduling (Zaharia et al.): an offer from a host holding a
//   pending split gets that map task; other offers get map tasks only once
//   the job has gone `locality_wait` without a node-local launch. The share
//   of maps that ran node-local is reported.
// - Elastic: takes what offers give (one task per `task_resources`),
//   declines the rest with a short filter while work is pending and a long
//   one when there is none, suppresses offers when idle and revives when
//   work appears (reduce phase, retries, recomputation).
// - Faults: a failed attempt is retried elsewhere (up to `max_attempts`);
//   the outputs of maps whose executor or agent is lost, or that a reducer
//   could not fetch, are recomputed. The result stays exact.
// - Reconciliation: the attempts it thinks running are reconciled after each
//   re-registration and every `reconcile_interval`; one the master no longer
//   knows (its launch was lost, then the master restarted) comes back
//   TASK_LOST and runs again.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/scheduler.hpp"
#include "frameworks/hadoop_like/job.hpp"

namespace caldera::hadoop {

struct hadoop_options {
  job_kind kind = job_kind::wordcount;
  std::string pattern;
  std::string input;
  std::string output;
  uint32_t reducers = 2;
  uint64_t split_bytes = 64 << 10;
  std::string placement; // file; empty: none
  caf::timespan locality_wait = std::chrono::seconds(3);
  int max_attempts = 4;
  caf::timespan reconcile_interval = std::chrono::seconds(30);
  std::string task_resources = "cpus:0.5;mem:64";
  /// Shell command that starts an executor process (empty in-process).
  std::string executor_command;
  /// Print progress lines to stdout.
  bool verbose = false;
};

/// What the job did; filled as it runs, final once `done`.
struct hadoop_report {
  bool done = false;
  bool succeeded = false;
  std::string message;
  size_t maps = 0;
  size_t maps_done = 0;
  size_t maps_local = 0;  // of the successful map attempts
  size_t reduces = 0;
  size_t reduces_done = 0;
  size_t launched = 0;
  size_t finished = 0;
  size_t failed = 0;      // attempts that failed, were lost or killed
  size_t recomputed = 0;  // maps run again because their output was lost
  double locality() const { return maps_done ? double(maps_local) / double(maps_done) : 0; }
};

class hadoop_scheduler : public caldera::scheduler {
public:
  hadoop_scheduler(caf::actor_config& cfg, scheduler_options so, hadoop_options ho,
                   std::shared_ptr<hadoop_report> report);

protected:
  void registered(const std::string& framework_id, const std::string& master_id) override;
  void reregistered(const std::string& master_id) override;
  void resource_offers(const std::vector<offer>& offers) override;
  void status_update(const status_info& status) override;
  void agent_lost(const std::string& agent_id) override;
  void executor_lost(const std::string& executor_id, const std::string& agent_id,
                     int status) override;
  void error(const std::string& message) override;
  caf::message_handler extra_handlers() override;

private:
  enum class phase { pending, running, done };
  struct map_task {
    split s;
    std::set<std::string> hosts;
    phase st = phase::pending;
    int attempts = 0;
    std::string task_id;
    std::string agent_id;
    std::string address;
    bool local = false;
    std::set<std::string> failed_on; // agents where an attempt failed
  };
  struct reduce_task {
    uint32_t partition = 0;
    phase st = phase::pending;
    int attempts = 0;
    std::string task_id;
    std::string agent_id;
    std::set<std::string> failed_on;
  };

  bool pending_work() const;
  /// Whether a retry should avoid `agent_id` (it failed there, and there
  /// are other agents to try).
  bool avoid(const std::set<std::string>& failed_on, const std::string& agent_id) const;
  bool all_maps_done() const;
  void make_pending(map_task& m);
  void lose_outputs_on(const std::string& agent_id, const std::string& why);
  bool reconcile_timer_ = false;
  void reconcile_running();
  void fail_job(const std::string& why);
  void finish_job();
  void progress();
  task_spec spec_for(const std::string& task_id, const std::string& agent_id,
                     std::string data) const;

  hadoop_options ho_;
  std::shared_ptr<hadoop_report> report_;
  resources per_task_;
  std::vector<map_task> maps_;
  std::vector<reduce_task> reduces_;
  std::map<std::string, std::pair<char, uint32_t>> by_task_; // task id -> (m|r, index)
  std::map<std::string, std::string> hostname_;                // agent id -> hostname
  bool suppressed_ = false;
  // Delay scheduling: since when the job has been skipped for want of a
  // node-local offer (reset by each node-local launch).
  std::optional<caf::actor_clock::time_point> waiting_since_;
  bool over_ = false;
  uint64_t next_attempt_ = 0;
  std::pair<size_t, size_t> last_progress_{SIZE_MAX, SIZE_MAX};
};

} // namespace caldera::hadoop
