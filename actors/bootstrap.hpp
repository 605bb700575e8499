// A framework's `main` in a few lines (the SDK's bootstrap helper):
//
//   struct my_config : caldera::framework_config {
//     int tasks = 20;
//     my_config() : framework_config("my-framework") {
//       options().add(tasks, "tasks", "how many tasks to run");
//     }
//   };
//
//   int main(int argc, char** argv) {
//     my_config cfg;
//     return caldera::run_framework(cfg, argc, argv,
//       [&](caf::actor_system& sys, caldera::scheduler_options so) {
//         return sys.spawn<my_scheduler>(std::move(so), cfg.tasks);
//       });
//   }
//
// `framework_config` declares the options every framework takes (--master,
// --role, --name, --user, --principal, --secret-file, --failover-timeout,
// --connect-timeout, and node_config's --config, --log-level), reads a
// config file and the command line the way the daemons do, and checks them.
// `run_framework` starts the actor system with caldera's runtime defaults,
// spawns the scheduler, asks it to stop() (tear the framework down) on
// SIGINT or SIGTERM (a second signal ends it at once, leaving the framework
// to its failover timeout), and returns the process's exit status.
//
// Retry policy: a scheduler that never reached a master gives up after
// --connect-timeout (default 15 s; 0 tries forever), and at once when the
// endpoint answers but is not a master (an agent's port, say). Once
// registered, it reconnects to a lost master for as long as it runs (the
// master keeps its tasks for --failover-timeout).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/framework_identity.hpp"
#include "actors/master_address.hpp"
#include "actors/node.hpp"
#include "actors/scheduler.hpp"

namespace caldera {

class framework_config : public node_config {
public:
  /// `name` is the framework's name (--name overrides it) and prefixes the
  /// program's messages.
  explicit framework_config(std::string name);

  std::string master = "127.0.0.1:5050";
  std::string role = "*";
  std::string name;
  double failover_timeout = 0;
  caf::timespan connect_timeout = std::chrono::seconds(15);
  framework_identity identity;
  /// `master`, parsed by validate().
  master_address master_ep;

  /// Checks the common options; a subclass that overrides it calls this
  /// first and returns its message when there is one.
  std::optional<std::string> validate() override;

  /// Fills `so` from the common options: name, role, user, principal and
  /// secret (read from --secret-file), master, failover and connect
  /// timeouts. A message says what is wrong (an unreadable secret file).
  std::optional<std::string> fill(scheduler_options& so) const;
};

/// What `run_framework` ends with: 0 when the scheduler ended normally,
/// 1 when it ended with an error (the reason printed on stderr: the master
/// unreachable within --connect-timeout, the endpoint not a master, the
/// registration refused, the framework removed), 2 for a bad option
/// (printed, naming it), 130 when interrupted and the teardown did not
/// finish.
int run_framework(framework_config& cfg, int argc, char** argv,
                  const std::function<caf::actor(caf::actor_system&, scheduler_options)>& spawn);

/// The second half of `run_framework`, for programs that parse their own
/// command line (`caldera run`): spawns with `spawn` in a running system,
/// stops the scheduler on SIGINT/SIGTERM (call block_termination_signals()
/// first thing in main; a second signal ends it with user_shutdown), waits
/// until it ended and returns why (none: it ended normally). `on_signal`
/// replaces the stop request (a scheduler with its own interrupt handling).
caf::error run_scheduler_until_done(caf::actor_system& sys,
                                    const std::function<caf::actor(caf::actor_system&)>& spawn,
                                    std::function<void(const caf::actor&)> on_signal = {});

/// The exit status for why a scheduler ended: 0 normally, 130 interrupted,
/// else 1 with the reason printed on stderr after `program: `.
int exit_status(const std::string& program, const caf::error& reason);

} // namespace caldera
