// Containerizers start, watch and destroy executors for the agent.
//
// - posix: each executor (or a command task's shell, which the agent runs
//   itself: agent_command.cpp) is its own process (`setsid`, so it leads a
//   session and a process group), started in its sandbox directory with
//   stdout and stderr going to files there, reaped by a waiting thread.
//   Destroying the container kills the whole group.
// - in-process: the executor is an actor in the agent's actor system (tests,
//   simulation, benchmarks); destroying it kills the actor.
//
// `on_exit(status)` is called exactly once per launched container, from any
// thread, with the wait status (posix) or 0 / 1 (in-process: normal exit or
// not). Callers forward it to their actor with a message.
#pragma once

#include <chrono>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/executor.hpp"
#include "agent/isolation.hpp"

namespace caldera {

struct container_spec {
  std::string framework_id;
  std::string executor_id;
  /// Shell command of a custom executor; empty: the command executor.
  std::string command;
  std::string sandbox;
  std::map<std::string, std::string> env;
  /// The agent itself, for in-process executors, with the runtime they
  /// share and their node in its link table.
  caf::actor agent;
  std::shared_ptr<runtime_env> runtime;
  std::string node_name;
  /// What the isolators enforce (posix containerizer).
  container_limits limits;
  /// Run as this user (its uid, gid and groups; the sandbox becomes its);
  /// empty: as the agent's user.
  std::string user;
};

class containerizer {
public:
  virtual ~containerizer() = default;
  /// Starts the executor. Returns a container id, or an error saying why it
  /// could not start (then `on_exit` is never called).
  virtual caf::expected<std::string> launch(const container_spec& spec,
                                            std::function<void(int)> on_exit) = 0;
  /// Kills every process (or the actor) of the container. Idempotent.
  virtual void destroy(const std::string& container_id) = 0;
  /// Asks the container's processes to end (posix: SIGTERM to its process
  /// group); `destroy` follows when they do not. By default: destroy.
  virtual void terminate(const std::string& container_id) { destroy(container_id); }
  /// Destroys every container it started that still runs.
  virtual void destroy_all() = 0;
  /// Waits (at most `timeout`) until every container that ended has been
  /// cleaned up (its cgroups removed): a stopping agent calls it before its
  /// process exits. False on timeout.
  virtual bool wait_reaped(std::chrono::milliseconds timeout) {
    (void)timeout;
    return true;
  }
  /// Takes back a container started before the agent restarted: if it still
  /// runs, `on_exit` is called when it ends (with `unknown_exit_status` when
  /// the status cannot be known) and the executor is told where the agent
  /// is now (in-process: `agent`; processes reconnect to the same
  /// endpoint). Returns false when it no longer runs.
  virtual bool recover(const std::string& container_id, std::function<void(int)> on_exit,
                       caf::actor agent) = 0;
  /// Destroys containers a previous agent left that nobody recovered (the
  /// orphans of a crash); returns how many ran.
  virtual size_t destroy_unknown() = 0;
  /// "posix" or "in-process".
  virtual const char* name() const = 0;

  /// New limits for a running container (tasks came or went).
  virtual void update(const std::string& container_id, const container_limits& lim) {
  }
  /// A limitation the container hit (it is then to be destroyed and its
  /// tasks failed with the limitation's reason), also after it ended (once).
  /// `with_disk` also measures its sandbox (costly; callable from another
  /// thread) and does not report ended containers.
  virtual std::optional<limitation> check(const std::string& container_id, bool with_disk) {
    return std::nullopt;
  }
  /// Its resource statistics; nullopt where the containerizer has none.
  virtual std::optional<container_usage> usage(const std::string& container_id) {
    return std::nullopt;
  }
  /// The isolators in use ("" for none) and why they were chosen.
  virtual std::string isolators() const {
    return {};
  }
};

/// Executors as processes; `executor_path` is the command executor binary.
/// Each live container is recorded in `state_dir` (its session leader's pid
/// and start time, its cgroup name and sandbox) until it is reaped. `iso`
/// (may be null: no isolation) limits and measures containers.
std::unique_ptr<containerizer> make_posix_containerizer(std::string executor_path,
                                                        std::string state_dir,
                                                        std::shared_ptr<isolation> iso = {});

/// The exit status of a container whose process is not this agent's child
/// (recovered after a restart): it ended, how is not known.
inline constexpr int unknown_exit_status = -1;

/// Builds an executor actor for an in-process container.
using executor_factory
  = std::function<caf::actor(caf::actor_system&, executor_options)>;

/// Executors as actors of `sys`, made by `factory`.
std::unique_ptr<containerizer> make_in_process_containerizer(caf::actor_system& sys,
                                                             executor_factory factory);

/// "Command exited with status 3" / "Command terminated by signal SIGKILL" /
/// "exit status unknown" for `unknown_exit_status`.
std::string describe_wait_status(int status);

} // namespace caldera
