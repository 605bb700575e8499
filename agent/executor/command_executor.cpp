#include "agent/executor/command_executor.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include <caf/send.hpp>

#include "actors/log.hpp"
#include "agent/containerizer.hpp"

extern char** environ;

namespace caldera {

namespace {
using child_exit_atom = caf::atom_constant<caf::atom("childexit")>;
using escalate_atom = caf::atom_constant<caf::atom("escalate")>;
} // namespace

command_executor::command_executor(caf::actor_config& cfg, executor_options opts)
  : executor(cfg, std::move(opts)) {
}

void command_executor::launch_task(const task_info& task) {
  if (!task_id_.empty()) {
    send_status(task.task_id, schema::TaskState::ERROR,
                "the command executor runs one task; it already runs '" + task_id_ + "'");
    return;
  }
  task_id_ = task.task_id;
  if (task.kill_grace_period > 0)
    grace_ = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(task.kill_grace_period));
  send_status(task_id_, schema::TaskState::STARTING);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e)
    env_s.emplace_back(*e);
  for (auto& [k, v] : task.env)
    env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_s)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = task.command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    done_ = true;
    send_status(task_id_, schema::TaskState::FAILED,
                std::string{"cannot start /bin/sh: "} + std::strerror(rc), std::nullopt,
                "REASON_COMMAND_EXECUTOR_FAILED");
    finish();
    return;
  }
  pid_ = pid;
  caf::actor me = caf::actor_cast<caf::actor>(this);
  std::thread([me, pid] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    caf::anon_send(me, child_exit_atom::value, status);
  }).detach();
  send_status(task_id_, schema::TaskState::RUNNING);
}

void command_executor::kill_task(const std::string& task_id) {
  if (task_id != task_id_ || done_ || pid_ <= 0) {
    if (task_id != task_id_)
      send_status(task_id, schema::TaskState::LOST, "unknown to this executor");
    return;
  }
  if (killing_)
    return;
  killing_ = true;
  send_status(task_id_, schema::TaskState::KILLING);
  ::kill(-pid_, SIGTERM);
  delayed_send(this, grace_, escalate_atom::value);
}

void command_executor::shutdown() {
  if (!task_id_.empty() && !done_)
    kill_task(task_id_);
  else
    finish();
}

caf::message_handler command_executor::extra_handlers() {
  return {
    [this](child_exit_atom, int status) {
      done_ = true;
      // Nothing of the task may outlive it.
      ::kill(-pid_, SIGKILL);
      auto msg = describe_wait_status(status);
      if (killing_) {
        send_status(task_id_, schema::TaskState::KILLED, msg, std::nullopt,
                    "REASON_TASK_KILLED");
      } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        send_status(task_id_, schema::TaskState::FINISHED, msg, 0);
      } else {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        send_status(task_id_, schema::TaskState::FAILED, msg, code,
                    "REASON_COMMAND_EXECUTOR_FAILED");
      }
      finish();
    },
    [this](escalate_atom) {
      if (!done_ && pid_ > 0) {
        log::info("kill_escalated", {{"task_id", task_id_}});
        ::kill(-pid_, SIGKILL);
      }
    },
  };
}

} // namespace caldera
