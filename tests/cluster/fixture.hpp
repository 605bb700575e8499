// A whole caldera cluster in one process on CAF's test coordinator: master,
// registrar, agents and executors are actors; time is virtual; every run with
// the same seed takes the same steps.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <unistd.h>

#include "actors/log.hpp"
#include "actors/types.hpp"
#include "agent/agent.hpp"
#include "master/master.hpp"
#include "master/registrar.hpp"
#include "tests/cluster/instant_executor.hpp"

namespace caldera::test {

struct cluster {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  caf::actor registrar;
  caf::actor master;
  std::vector<caf::actor> agents;
  std::vector<caf::actor> others;
  std::filesystem::path dir;
  uint64_t seed;

  explicit cluster(size_t n_agents, const std::string& agent_resources,
                   executor_factory factory = nullptr, uint64_t seed_ = 42,
                   master_options mo = {})
    : seed(seed_) {
    if (std::getenv("CALDERA_TEST_LOG") == nullptr)
      log::set_level(log::level::warn);
    register_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    dir = std::filesystem::temp_directory_path()
          / ("caldera-cluster-" + std::to_string(getpid()) + "-"
             + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::remove_all(dir);
    auto store = registry_store::open((dir / "master").string());
    REQUIRE(store);
    registrar = spawn_registrar(*sys, std::move(*store));
    mo.seed = seed;
    master = spawn_master(*sys, registrar, mo);
    if (!factory)
      factory = [](caf::actor_system& s, executor_options o) {
        return s.spawn<instant_executor>(std::move(o));
      };
    std::shared_ptr<containerizer> cont = make_in_process_containerizer(*sys, factory);
    for (size_t i = 0; i < n_agents; ++i) {
      agent_options ao;
      ao.master = master;
      ao.hostname = "host" + std::to_string(i);
      ao.res = *resources::parse(agent_resources);
      ao.work_dir = (dir / ("agent" + std::to_string(i))).string();
      ao.containers = cont;
      auto a = spawn_agent(*sys, std::move(ao));
      caf::anon_send(a, start_atom::value, std::string{});
      agents.push_back(a);
    }
    drain();
  }

  ~cluster() {
    for (auto& a : others)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    // Agents destroy their executors (in-process containers) and quit.
    for (auto& a : agents)
      caf::anon_send(a, shutdown_atom::value);
    drain();
    for (auto& a : agents)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    caf::anon_send_exit(master, caf::exit_reason::kill);
    caf::anon_send_exit(registrar, caf::exit_reason::kill);
    drain();
    sys.reset();
    std::filesystem::remove_all(dir);
  }

  /// Runs every enqueued message (not timers).
  size_t drain() {
    size_t n = 0;
    while (sched->try_run_once())
      REQUIRE(++n < 50'000'000);
    return n;
  }

  /// Advances virtual time by `d` and runs what that triggers.
  void advance(caf::timespan d) {
    sched->advance_time(d);
    drain();
  }

  template <class T, class... Ts>
  caf::actor spawn(Ts&&... xs) {
    auto a = sys->spawn<T>(std::forward<Ts>(xs)...);
    others.push_back(a);
    drain();
    return a;
  }

  /// The master's operator view.
  state_msg state() {
    caf::scoped_actor self{*sys};
    auto rh = self->request(master, caf::infinite, get_state_msg{});
    drain();
    state_msg out;
    bool got = false;
    rh.receive([&](const state_msg& s) { out = s; got = true; },
               [&](caf::error&) {});
    REQUIRE(got);
    return out;
  }
};

} // namespace caldera::test
