// mpi_like's scheduler: a gang of N ranks, written only against caldera's
// SDK.
//
// - All-or-nothing: it holds offers until together they can place all N
//   ranks (each needing `rank_resources`), then launches them as one gang
//   (`accept_gang`: the master launches every rank or none). If it cannot
//   within `gang_timeout`, it declines what it holds for a back-off period
//   and tries again, so two such frameworks never deadlock holding halves.
// - Ranks find each other through the scheduler: each sends a Hello with
//   its address; when all N have, every rank gets the Roster (rank 0 first).
// - If any rank fails or is lost, the whole gang is killed and relaunched
//   (up to `max_attempts`).
// - Done when every rank finished; rank 0's result (pi) is checked.
// - Reconciliation: the running gang's ranks are reconciled after each
//   registration and every `reconcile_interval`; a rank the master no longer
//   knows (its launch was lost, then the master restarted) comes back
//   TASK_LOST, and the gang is relaunched.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/scheduler.hpp"

namespace caldera::mpi {

struct mpi_options {
  uint32_t ranks = 4;
  std::string rank_resources = "cpus:0.5;mem:64";
  caf::timespan gang_timeout = std::chrono::seconds(10);
  caf::timespan backoff = std::chrono::seconds(3);
  int max_attempts = 3;
  caf::timespan reconcile_interval = std::chrono::seconds(30);
  uint32_t vector_length = 1024;
  uint32_t samples_per_block = 64;
  std::string executor_command;
  bool verbose = false;
};

struct mpi_report {
  bool done = false;
  bool succeeded = false;
  std::string message;
  double result = 0;
  int attempts = 0;        // gangs launched
  int gang_timeouts = 0;
  int refused = 0;         // gang launches the master refused
  size_t launched = 0;
  size_t finished = 0;
  size_t failed = 0;
  /// Ranks of one attempt ever seen running while another of that attempt
  /// had not been launched (must stay 0: all-or-nothing).
  size_t partial = 0;
};

class mpi_scheduler : public caldera::scheduler {
public:
  mpi_scheduler(caf::actor_config& cfg, scheduler_options so, mpi_options mo,
                std::shared_ptr<mpi_report> report);

protected:
  void registered(const std::string& framework_id, const std::string& master_id) override;
  void reregistered(const std::string& master_id) override;
  void resource_offers(const std::vector<offer>& offers) override;
  void offer_rescinded(const std::string& offer_id) override;
  void status_update(const status_info& status) override;
  void framework_message(const std::string& agent_id, const std::string& executor_id,
                         const std::string& data) override;
  void agent_lost(const std::string& agent_id) override;
  void executor_lost(const std::string& executor_id, const std::string& agent_id,
                     int status) override;
  caf::message_handler extra_handlers() override;

private:
  enum class phase { gathering, backing_off, running, over };
  struct rank_state {
    std::string task_id;
    std::string agent_id;
    std::string address;
    schema::TaskState state = schema::TaskState::STAGING;
  };
  void try_launch();
  void relaunch(const std::string& why);
  void finish(bool ok, const std::string& message);
  bool reconcile_timer_ = false;
  void reconcile_ranks();

  mpi_options mo_;
  std::shared_ptr<mpi_report> report_;
  resources per_rank_;
  phase ph_ = phase::gathering;
  uint32_t attempt_ = 0;
  uint64_t epoch_ = 0;
  bool gathering_timer_ = false;
  std::map<std::string, offer> held_;
  std::vector<rank_state> ranks_;
  std::map<std::string, uint32_t> rank_of_task_;
  bool suppressed_ = false;
};

} // namespace caldera::mpi
