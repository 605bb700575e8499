// Task states and status updates: names as Mesos prints them, terminal-ness,
// and a builder for a TaskStatus.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "actors/types.hpp"

namespace caldera {

/// "TASK_RUNNING" etc.
const char* state_name(schema::TaskState s);

/// Parses "TASK_RUNNING" or "running"; nullopt if unknown.
std::optional<schema::TaskState> parse_state(std::string_view text);

/// FINISHED, FAILED, KILLED, LOST, ERROR, DROPPED, GONE, UNKNOWN.
bool is_terminal(schema::TaskState s);

/// The plain fields of a status; `to_capnp` writes them into a TaskStatus.
struct status_info {
  std::string task_id;
  schema::TaskState state = schema::TaskState::STAGING;
  std::string message;
  std::string reason;
  schema::StatusSource source = schema::StatusSource::MASTER;
  std::string framework_id;
  std::string agent_id;
  std::string executor_id;
  double timestamp = 0;
  std::string uuid;
  std::optional<int> exit_code;

  void to_capnp(schema::TaskStatus::Builder b) const;
  static status_info from_capnp(schema::TaskStatus::Reader r);
};

/// A StatusUpdate message carrying `st`.
status_update_msg make_status_update(const status_info& st);

} // namespace caldera
