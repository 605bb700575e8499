// The calls of Mesos' v1 Scheduler HTTP API (docs/scheduler-http-api.md,
// v1/scheduler/scheduler.proto) parsed and validated into what the scheduler
// SDK does with them. Plain code: what is wrong is a v1_error whose message
// the HTTP layer answers with 400.
#pragma once

#include <string>
#include <vector>

#include "actors/scheduler.hpp"
#include "actors/v1_json.hpp"

namespace caldera::v1 {

struct scheduler_call {
  enum class kind {
    subscribe, teardown, accept, decline, revive, suppress, kill, acknowledge, reconcile,
    message, request, shutdown
  };
  kind type = kind::subscribe;
  std::string type_name;     // as the client wrote it
  std::string framework_id;  // the call's (SUBSCRIBE: framework_info's)
  // SUBSCRIBE: the framework as the SDK registers it.
  scheduler_options framework;
  // ACCEPT / DECLINE.
  std::vector<std::string> offer_ids;
  std::vector<launch_operation> operations;
  double refuse_seconds = 5;
  // REVIVE / SUPPRESS (empty: every role).
  std::vector<std::string> roles;
  // KILL, ACKNOWLEDGE, MESSAGE, SHUTDOWN.
  std::string task_id, agent_id, executor_id;
  std::string uuid; // ACKNOWLEDGE: the status' uuid (decoded bytes)
  std::string data; // MESSAGE (decoded bytes)
  // RECONCILE (empty: implicit).
  std::vector<task_ref> tasks;
};

/// Parses a call's JSON text. Throws v1_error naming what is wrong: not
/// JSON, an unknown or unsupported type, a missing or malformed field.
scheduler_call parse_scheduler_call(const std::string& body);

} // namespace caldera::v1
