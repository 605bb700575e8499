// Test helpers shared by the SDK and recovery suites: an executor that keeps
// tasks running, a scheduler that launches given task ids and logs all it
// hears, and accessors.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/executor.hpp"
#include "actors/scheduler.hpp"
#include "agent/containerizer.hpp"

namespace caldera::test {

// Keeps every task RUNNING until killed; answers "ping" with "pong:ping";
// `("finish", task_id)` sent to it finishes a task (a test's hand on it).
class echo_executor : public executor {
public:
  using executor::executor;

protected:
  void launch_task(const task_info& t) override {
    send_status(t.task_id, schema::TaskState::RUNNING);
  }
  void framework_message(const std::string& data) override {
    send_message("pong:" + data);
  }
  caf::message_handler extra_handlers() override {
    return {
      [this](const std::string& cmd, const std::string& task) {
        if (cmd == "finish")
          send_status(task, schema::TaskState::FINISHED, "done");
      },
    };
  }
};

struct log_t {
  std::map<std::string, std::vector<status_info>> updates;
  std::vector<std::string> messages;
  std::vector<std::string> errors;
  std::string framework_id;
  int registrations = 0;
  int reregistrations = 0;
  std::string agent_id;
};

// Launches the given task ids on the first offer, then holds nothing.
class sdk_scheduler : public scheduler {
public:
  sdk_scheduler(caf::actor_config& cfg, scheduler_options o, std::vector<std::string> ids,
                std::shared_ptr<log_t> log)
    : scheduler(cfg, std::move(o)), ids_(std::move(ids)), log_(std::move(log)) {
  }
  using scheduler::kill;
  using scheduler::reconcile;
  using scheduler::send_framework_message;

protected:
  void registered(const std::string& fid, const std::string&) override {
    log_->framework_id = fid;
    ++log_->registrations;
  }
  void reregistered(const std::string&) override {
    ++log_->reregistrations;
  }
  void resource_offers(const std::vector<offer>& offers) override {
    std::vector<std::string> rest;
    for (auto& o : offers) {
      if (ids_.empty()) {
        rest.push_back(o.id);
        continue;
      }
      std::vector<task_spec> ts;
      for (auto& id : ids_) {
        task_spec t;
        t.task_id = id;
        t.res = *resources::parse("cpus:0.5;mem:64");
        t.executor_id = "echo";
        ts.push_back(t);
      }
      ids_.clear();
      log_->agent_id = o.agent_id;
      accept({o.id}, ts);
    }
    decline(rest, 3600);
  }
  void status_update(const status_info& st) override {
    log_->updates[st.task_id].push_back(st);
  }
  void framework_message(const std::string&, const std::string&,
                         const std::string& data) override {
    log_->messages.push_back(data);
  }
  void error(const std::string& m) override {
    log_->errors.push_back(m);
  }
  caf::message_handler extra_handlers() override {
    return {
      [this](const std::string& cmd, const std::string& arg) {
        if (cmd == "kill")
          kill(arg);
        else if (cmd == "msg")
          send_framework_message(log_->agent_id, "echo", arg);
        else if (cmd == "reconcile-explicit")
          reconcile({{arg, ""}, {"nobody-knows-me", ""}});
        else if (cmd == "reconcile-implicit")
          reconcile();
      },
    };
  }

private:
  std::vector<std::string> ids_;
  std::shared_ptr<log_t> log_;
};

/// Echo executors; each one's address is appended to `spawned` if given
/// (weak handles: they never keep the actor system alive).
inline executor_factory
echo_factory(std::shared_ptr<std::vector<caf::actor_addr>> spawned = nullptr) {
  return [spawned](caf::actor_system& s, executor_options o) {
    auto a = s.spawn<echo_executor>(std::move(o));
    if (spawned)
      spawned->push_back(a.address());
    return a;
  };
}

inline schema::TaskState last(const log_t& l, const std::string& id) {
  auto i = l.updates.find(id);
  REQUIRE(i != l.updates.end());
  return i->second.back().state;
}

} // namespace caldera::test

namespace caldera::test {
/// "RUNNING(reason) FINISHED(...)" for a task, for failure messages.
inline std::string history(const log_t& l, const std::string& id) {
  std::string out;
  if (auto i = l.updates.find(id); i != l.updates.end())
    for (auto& st : i->second)
      out += std::string{state_name(st.state)} + "(" + st.reason + ": " + st.message + ") ";
  return out;
}
} // namespace caldera::test
