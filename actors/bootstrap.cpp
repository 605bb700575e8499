#include "actors/bootstrap.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/error.hpp"

namespace caldera {

framework_config::framework_config(std::string program)
  : node_config(program), name(std::move(program)) {
  options()
    .add(master, "master", "the master: HOST:PORT, a list, or etcd://HOST:PORT[,...]/PREFIX")
    .add(role, "role", "role to register in")
    .add(name, "name", "the framework's name, as the master shows it")
    .add(failover_timeout, "failover-timeout",
         "seconds the master keeps the framework's tasks while its scheduler is away")
    .add(connect_timeout, "connect-timeout",
         "how long to try reaching a master before giving up (0s: forever)");
  auto opts = options();
  identity.declare(opts);
}

std::optional<std::string> framework_config::validate() {
  auto ep = parse_master_address(master);
  if (!ep)
    return "option 'master': " + describe(ep.error());
  master_ep = *ep;
  if (role.empty())
    return "option 'role': must not be empty ('*' is the default role)";
  if (failover_timeout < 0)
    return "option 'failover-timeout': must not be negative";
  if (connect_timeout < caf::timespan{0})
    return "option 'connect-timeout': must not be negative";
  return std::nullopt;
}

std::optional<std::string> framework_config::fill(scheduler_options& so) const {
  so.name = name;
  so.roles = {role};
  so.master_endpoint = master_ep;
  so.failover_timeout = failover_timeout;
  so.connect_timeout = connect_timeout;
  return identity.apply(so);
}

namespace {

// Stops the scheduler on the first SIGINT/SIGTERM (its teardown), ends it
// on the second. A thread of its own: signals are blocked everywhere else.
void stop_on_signals(caf::actor sched, std::function<void(const caf::actor&)> on_signal) {
  std::thread([sched, on_signal = std::move(on_signal)] {
    wait_for_termination();
    if (on_signal)
      on_signal(sched);
    else
      caf::anon_send(sched, framework_stop_atom::value, false);
    wait_for_termination();
    caf::anon_send_exit(sched, caf::exit_reason::user_shutdown);
  }).detach();
}

} // namespace

caf::error run_scheduler_until_done(caf::actor_system& sys,
                                    const std::function<caf::actor(caf::actor_system&)>& spawn,
                                    std::function<void(const caf::actor&)> on_signal) {
  auto sched = spawn(sys);
  caf::error reason;
  caf::scoped_actor self{sys};
  self->monitor(sched);
  stop_on_signals(sched, std::move(on_signal));
  self->receive([&](caf::down_msg& dm) { reason = std::move(dm.reason); });
  if (reason == caf::exit_reason::normal)
    return caf::error{};
  return reason;
}

int exit_status(const std::string& program, const caf::error& reason) {
  if (!reason)
    return 0;
  if (reason == caf::exit_reason::user_shutdown) {
    std::fprintf(stderr, "%s: interrupted\n", program.c_str());
    return 130;
  }
  std::fprintf(stderr, "%s: %s\n", program.c_str(), error_message(reason).c_str());
  return 1;
}

int run_framework(framework_config& cfg, int argc, char** argv,
                  const std::function<caf::actor(caf::actor_system&, scheduler_options)>& spawn) {
  block_termination_signals();
  const auto program = cfg.component;
  if (auto err = cfg.configure(argc, argv)) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), err->c_str());
    return 2;
  }
  if (cfg.help_printed())
    return 0;
  scheduler_options so;
  if (auto why = cfg.fill(so)) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), why->c_str());
    return 2;
  }
  caf::actor_system sys{cfg};
  auto why = run_scheduler_until_done(sys, [&](caf::actor_system& s) { return spawn(s, so); });
  return exit_status(program, why);
}

} // namespace caldera
