// An executor that reports RUNNING then FINISHED for every task at once and
// ends: the in-process stand-in for `true` (cluster tests, bench-launch).
#pragma once

#include "actors/executor.hpp"

namespace caldera::test {

class instant_executor : public executor {
public:
  using executor::executor;

protected:
  void launch_task(const task_info& t) override {
    send_status(t.task_id, schema::TaskState::RUNNING);
    send_status(t.task_id, schema::TaskState::FINISHED);
    if (active_tasks().empty())
      finish();
  }
};

} // namespace caldera::test
