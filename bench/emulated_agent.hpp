// What bench-failover and bench-scale share: what their emulated agents
// (actors of the bench's process that speak the agent's side of the
// protocol, not caldera-agent processes) send to register, waiting on the
// bench's counters, and the framework's process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/master_address.hpp"
#include "actors/node.hpp"
#include "actors/scheduler.hpp"

#include "actors/resources.hpp"
#include "actors/types.hpp"

namespace caldera::bench {

/// RegisterAgent of emulated agent `k` with `agent_res`: a first
/// registration, without tasks, when `id` is empty; with `id`, a
/// re-registration that reports `ntasks` running tasks of framework
/// "bench-fw" (kept for an hour without its scheduler).
inline register_agent_msg registration(size_t k, const std::string& id, size_t ntasks,
                                       const resources& agent_res) {
  static const auto task_res = *resources::parse("cpus:0.01;mem:1");
  return make<schema::RegisterAgent>([&](schema::RegisterAgent::Builder b) {
    b.setAgentId(id);
    b.setHostname("emu-" + std::to_string(k));
    b.setEndpoint("127.0.0.1:1");
    b.setVersion("0.1.0");
    agent_res.to_capnp(b.initResources(static_cast<unsigned>(agent_res.entry_count())));
    if (id.empty())
      return;
    auto ts = b.initTasks(static_cast<unsigned>(ntasks));
    for (unsigned i = 0; i < ntasks; ++i) {
      auto t = ts[i];
      t.setFrameworkId("bench-fw");
      t.setTaskId("t-" + std::to_string(k) + "-" + std::to_string(i));
      t.setName("bench");
      t.setExecutorId("");
      t.setState(schema::TaskState::RUNNING);
      task_res.to_capnp(t.initResources(static_cast<unsigned>(task_res.entry_count())));
      t.setRole("*");
    }
    auto f = b.initFrameworks(1)[0];
    f.setId("bench-fw");
    f.setName("bench");
    f.setUser("nobody");
    f.initRoles(1).set(0, "*");
    f.setFailoverTimeout(3600); // not torn down while nobody runs its scheduler
  });
}

/// The steady clock in nanoseconds (comparable across the bench's processes).
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// Polls `done` (the emulated agents' counters) until it holds; throws
/// naming `what` after `timeout`.
inline void wait_until(const std::function<bool()>& done, const std::string& what,
                       std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("timed out (" + std::to_string(timeout.count())
                               + " s) waiting for " + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

/// Actors told to quit on every way out of the bench.
struct actors_guard {
  std::vector<caf::actor> all;
  ~actors_guard() {
    for (auto& a : all)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

/// A framework's process: scheduler `S` (options, then `args`) on the
/// master at `url`, until SIGTERM.
template <class S, class... Ts>
int run_framework(const std::string& url, const std::string& name, double failover_timeout,
                  Ts&&... args) {
  block_termination_signals();
  auto addr = parse_master_address(url);
  if (!addr)
    throw std::runtime_error(url + ": " + describe(addr.error()));
  node_config cfg{name};
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  scheduler_options so;
  so.name = name;
  so.roles = {"*"};
  so.master_endpoint = *addr;
  so.failover_timeout = failover_timeout;
  auto s = sys.spawn<S>(so, std::forward<Ts>(args)...);
  wait_for_termination();
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace caldera::bench
