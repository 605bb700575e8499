// What the benches' emulated agents (actors of the bench's process that
// speak the agent's side of the protocol, not caldera-agent processes) send
// to register: bench-failover and bench-scale.
#pragma once

#include <string>

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

} // namespace caldera::bench
