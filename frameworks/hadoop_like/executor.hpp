// hadoop_like's executor: a long-lived TaskTracker, one per agent per job.
// It runs map and reduce tasks in-process, keeps each map's output
// partitioned by reducer in memory, and serves those partitions to reducers
// (the shuffle: Fetch / Partition messages between executor actors, across
// hosts through the middleman).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/executor.hpp"
#include "frameworks/hadoop_like/job.hpp"

namespace caldera::hadoop {

class hadoop_executor : public caldera::executor {
public:
  /// `in_process`: an actor of the agent's system (tests); otherwise a process
  /// that publishes itself for the shuffle on the agent's host.
  hadoop_executor(caf::actor_config& cfg, executor_options opts, bool in_process);

protected:
  void launch_task(const task_info& task) override;
  void kill_task(const std::string& task_id) override;
  caf::message_handler extra_handlers() override;

private:
  struct reduce_run {
    std::string task_id;
    uint32_t partition = 0;
    std::string output;
    size_t waiting = 0;
    counts merged;
    bool over = false;
  };
  void run_map(const task_info& task);
  void run_reduce(const task_info& task);
  void fetch_failed(const std::shared_ptr<reduce_run>& run, uint32_t map_id,
                    const std::string& address, const std::string& why);
  const std::string& address();

  bool in_process_;
  std::string address_;
  // map id -> entries per partition
  std::map<uint32_t, std::vector<std::vector<std::pair<std::string, uint64_t>>>> outputs_;
  std::map<std::string, std::shared_ptr<reduce_run>> reduces_;
};

} // namespace caldera::hadoop
