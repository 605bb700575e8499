#include "actors/status.hpp"

#include <cctype>

namespace caldera {

const char* state_name(schema::TaskState s) {
  using S = schema::TaskState;
  switch (s) {
    case S::STAGING: return "TASK_STAGING";
    case S::STARTING: return "TASK_STARTING";
    case S::RUNNING: return "TASK_RUNNING";
    case S::FINISHED: return "TASK_FINISHED";
    case S::FAILED: return "TASK_FAILED";
    case S::KILLED: return "TASK_KILLED";
    case S::LOST: return "TASK_LOST";
    case S::ERROR: return "TASK_ERROR";
    case S::KILLING: return "TASK_KILLING";
    case S::DROPPED: return "TASK_DROPPED";
    case S::UNREACHABLE: return "TASK_UNREACHABLE";
    case S::GONE: return "TASK_GONE";
    case S::UNKNOWN: return "TASK_UNKNOWN";
  }
  return "TASK_UNKNOWN";
}

std::optional<schema::TaskState> parse_state(std::string_view text) {
  std::string t;
  for (char c : text)
    t += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (t.rfind("TASK_", 0) != 0)
    t = "TASK_" + t;
  for (int i = 0; i <= static_cast<int>(schema::TaskState::UNKNOWN); ++i) {
    auto s = static_cast<schema::TaskState>(i);
    if (t == state_name(s))
      return s;
  }
  return std::nullopt;
}

bool is_terminal(schema::TaskState s) {
  using S = schema::TaskState;
  switch (s) {
    case S::FINISHED:
    case S::FAILED:
    case S::KILLED:
    case S::LOST:
    case S::ERROR:
    case S::DROPPED:
    case S::GONE:
    case S::UNKNOWN:
      return true;
    default:
      return false;
  }
}

void status_info::to_capnp(schema::TaskStatus::Builder b) const {
  b.setTaskId(task_id);
  b.setState(state);
  b.setMessage(message);
  b.setReason(reason);
  b.setSource(source);
  b.setFrameworkId(framework_id);
  b.setAgentId(agent_id);
  b.setExecutorId(executor_id);
  b.setTimestamp(timestamp);
  b.setUuid(uuid);
  b.setHasExitCode(exit_code.has_value());
  b.setExitCode(exit_code.value_or(0));
}

status_info status_info::from_capnp(schema::TaskStatus::Reader r) {
  status_info st;
  st.task_id = r.getTaskId();
  st.state = r.getState();
  st.message = r.getMessage();
  st.reason = r.getReason();
  st.source = r.getSource();
  st.framework_id = r.getFrameworkId();
  st.agent_id = r.getAgentId();
  st.executor_id = r.getExecutorId();
  st.timestamp = r.getTimestamp();
  st.uuid = r.getUuid();
  if (r.getHasExitCode())
    st.exit_code = r.getExitCode();
  return st;
}

status_update_msg make_status_update(const status_info& st) {
  return make<schema::StatusUpdate>(
    [&](schema::StatusUpdate::Builder b) { st.to_capnp(b.initStatus()); });
}

} // namespace caldera
