// The command executor (`caldera-executor`): runs one task's shell command
// with /bin/sh -c in its own process group, reports TASK_STARTING and
// TASK_RUNNING, then TASK_FINISHED (exit 0), TASK_FAILED (with the exit code)
// or TASK_KILLED, and exits once the agent has the terminal update.
//
// A kill sends SIGTERM to the command's process group, then SIGKILL after the
// task's kill grace period (default 3 s).
#pragma once

#include "actors/executor.hpp"

namespace caldera {

class command_executor : public executor {
public:
  command_executor(caf::actor_config& cfg, executor_options opts);

protected:
  void launch_task(const task_info& task) override;
  void kill_task(const std::string& task_id) override;
  void shutdown() override;
  caf::message_handler extra_handlers() override;

private:
  std::string task_id_;
  int pid_ = -1;
  bool killing_ = false;
  bool done_ = false;
  caf::timespan grace_ = std::chrono::seconds(3);
};

} // namespace caldera
