// Command tasks the agent runs itself (options.command_executor == "agent").
//
// A command task needs no executor of its framework's; Mesos gives it a
// command executor process that forks the task's shell, reports and reaps
// it. Here the agent's containerizer starts the shell itself as the
// container's process (its own session and cgroups, as any executor's) and
// its reaper reports the exit: one process per task instead of an executor
// process with its own actor system and connection. The task's states come
// from the agent with source SOURCE_EXECUTOR, as the command executor's would:
// TASK_RUNNING once the process runs (TASK_STARTING, which Mesos makes
// optional, is skipped: nothing runs between the two), then TASK_FINISHED,
// TASK_FAILED (with the exit code) or TASK_KILLED. A kill sends SIGTERM, then
// destroys the container after the task's kill grace period (default 3 s).
//
// Its status updates are checkpointed and retried like every other; the
// process outlives an agent restart like an executor, and a restarted agent,
// no longer its parent, learns its exit code from the sandbox file the shell
// writes when the command ends.
#include <charconv>
#include <fstream>

#include "actors/log.hpp"
#include "agent/agent_impl.hpp"

namespace caldera::agent_detail {

namespace {

constexpr const char* exit_file = ".caldera_exit_status";
constexpr auto default_kill_grace = std::chrono::seconds(3);

using S = schema::TaskState;

/// The exit code a direct task's shell left in its sandbox, if any.
std::optional<int> recorded_exit(const std::string& sandbox) {
  std::ifstream f{sandbox + "/" + exit_file};
  std::string text;
  if (!(f >> text))
    return std::nullopt;
  int code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return code;
}

/// The task's end from its wait status (or the recorded code when unknown).
void report_exit(agent_actor* self, const std::string& fid, const std::string& tid,
                 const std::string& eid, const executor_rec& rec, int status) {
  auto msg = describe_wait_status(status);
  std::optional<int> code;
  if (status == unknown_exit_status) {
    code = recorded_exit(rec.sandbox);
    msg = code ? "Command exited with status " + std::to_string(*code)
                   + " (read from its sandbox: the agent restarted while it ran)"
               : "Command ended while the agent was down or restarting; its exit status "
                 "is unknown (killed, or it left no record)";
  } else if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
  }
  constexpr auto executor = schema::StatusSource::EXECUTOR;
  if (rec.killing)
    agent_status(self, fid, tid, eid, S::KILLED, "REASON_TASK_KILLED", msg, std::nullopt,
                 executor);
  else if (code && *code == 0)
    agent_status(self, fid, tid, eid, S::FINISHED, "", msg, 0, executor);
  else if (code)
    agent_status(self, fid, tid, eid, S::FAILED, "REASON_COMMAND_EXECUTOR_FAILED", msg, code,
                 executor);
  else if (status == unknown_exit_status)
    agent_status(self, fid, tid, eid, S::FAILED, "REASON_EXECUTOR_TERMINATED", msg,
                 std::nullopt, executor);
  else
    agent_status(self, fid, tid, eid, S::FAILED, "REASON_COMMAND_EXECUTOR_FAILED", msg,
                 128 + WTERMSIG(status), executor);
}

} // namespace

bool runs_directly(agent_actor* self, schema::TaskInfo::Reader t) {
  return self->state.opts.command_executor == "agent"
         && self->state.opts.containers->name() == std::string{"posix"} && t.hasCommand()
         && t.getCommand().getShell().size() > 0;
}

std::string direct_command(const std::string& shell) {
  // The shell's EXIT trap records how it ends, also through the command's
  // own `exit` (not through a signal, nor when the command replaces the
  // trap or execs: the exit code is then unknown after an agent restart).
  // No subshell: a builtin runs in the shell, an external command in one
  // fork.
  return std::string{"trap 'echo $? > "} + exit_file + "' EXIT\n" + shell;
}

void direct_started(agent_actor* self, const std::string& fid, const std::string& tid,
                    const std::string& eid) {
  agent_status(self, fid, tid, eid, S::RUNNING, "", "", std::nullopt,
               schema::StatusSource::EXECUTOR);
}

void direct_exited(agent_actor* self, const std::string& fid, const std::string& eid,
                   const executor_rec& rec, int status) {
  auto& d = self->state;
  for (auto& tid : rec.tasks) {
    auto t = d.tasks.find({fid, tid});
    if (t != d.tasks.end() && !is_terminal(t->second.state))
      report_exit(self, fid, tid, eid, rec, status);
  }
}

void direct_kill(agent_actor* self, const std::string& fid, const std::string& tid,
                 const std::string& eid, executor_rec& rec) {
  auto& d = self->state;
  if (rec.killing)
    return;
  rec.killing = true;
  log::info("task_killing", {{"framework_id", fid}, {"task_id", tid}});
  d.opts.containers->terminate(rec.container_id);
  caf::timespan grace = default_kill_grace;
  if (auto t = d.tasks.find({fid, tid}); t != d.tasks.end()) {
    auto secs = t->second.launch.read()->getTask().getKillGracePeriod();
    if (secs > 0)
      grace = std::chrono::duration_cast<caf::timespan>(std::chrono::duration<double>(secs));
  }
  self->delayed_send(self, grace, destroy_atom::value, fid, eid, rec.container_id);
}

} // namespace caldera::agent_detail
