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
#include "actors/node_actor.hpp"
#include "actors/types.hpp"
#include "agent/agent.hpp"
#include "master/master.hpp"
#include "master/registrar.hpp"
#include "sim/sim_env.hpp"
#include "support/instant_executor.hpp"

namespace caldera::test {

struct cluster {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<sim::sim_env> env; // virtual time, seeds, links
  std::shared_ptr<containerizer> cont;
  caf::actor node;
  caf::actor registrar;
  caf::actor master;
  std::vector<caf::actor> agents;
  std::vector<agent_options> agent_opts; // as each agent was started
  std::vector<caf::actor> others;
  std::filesystem::path dir;
  uint64_t seed;
  uint64_t restarts = 0;
  master_options base_options;

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
    env = std::make_shared<sim::sim_env>(*sys, seed);
    dir = std::filesystem::temp_directory_path()
          / ("caldera-cluster-" + std::to_string(getpid()) + "-"
             + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::remove_all(dir);
    auto store = registry_store::open((dir / "master").string());
    REQUIRE(store);
    registrar = spawn_registrar(*sys, std::move(*store));
    node = spawn_node(*sys, "cluster");
    mo.runtime = env;
    base_options = mo;
    mo.seed = seed;
    mo.node = node;
    master = spawn_master(*sys, registrar, mo);
    node_register(node, "master", master);
    node_register(node, "registrar", registrar);
    if (!factory)
      factory = [](caf::actor_system& s, executor_options o) {
        return s.spawn<instant_executor>(std::move(o));
      };
    cont = make_in_process_containerizer(*sys, factory);
    for (size_t i = 0; i < n_agents; ++i) {
      agent_options ao;
      ao.master = master;
      ao.hostname = "host" + std::to_string(i);
      ao.res = *resources::parse(agent_resources);
      ao.work_dir = (dir / ("agent" + std::to_string(i))).string();
      ao.containers = cont;
      ao.node = node;
      ao.runtime = env;
      ao.node_name = "agent/" + std::to_string(i);
      agent_opts.push_back(ao);
      agents.push_back(start_agent(i));
    }
    drain();
  }

  caf::actor start_agent(size_t i, std::string recover = "reconnect") {
    auto ao = agent_opts.at(i);
    ao.master = master;
    ao.recover = std::move(recover);
    auto a = spawn_agent(*sys, std::move(ao));
    node_register(node, "agent/" + std::to_string(i), a);
    caf::send_as(a, a, start_atom::value, std::string{}); // as the agent's daemon
    return a;
  }

  /// Kills agent `i` (its executors keep running, as executor processes
  /// outlive a crashed agent) and starts a new agent on the same work dir:
  /// it recovers from its checkpoint, its live executors re-register, and
  /// it re-registers with the master. Runs what follows, not timers.
  void restart_agent(size_t i, std::string recover = "reconnect") {
    stop_agent(i);
    start_agent_again(i, std::move(recover));
  }
  /// The two halves of `restart_agent`, for scenarios with time between.
  void stop_agent(size_t i) {
    caf::anon_send_exit(agents.at(i), caf::exit_reason::kill);
    drain();
  }
  void start_agent_again(size_t i, std::string recover = "reconnect") {
    agents.at(i) = start_agent(i, std::move(recover));
    drain();
  }

  ~cluster() {
    for (auto& a : others)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    // Agents destroy their executors (in-process containers) and quit.
    for (auto& a : agents)
      caf::send_as(a, a, shutdown_atom::value);
    drain();
    // Executors of agents that were killed are orphans: destroy them too.
    cont->destroy_all();
    drain();
    for (auto& a : agents)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    caf::anon_send_exit(master, caf::exit_reason::kill);
    caf::anon_send_exit(registrar, caf::exit_reason::kill);
    caf::anon_send_exit(node, caf::exit_reason::kill);
    drain();
    // No handle may outlive the actor system.
    env.reset();
    others.clear();
    agents.clear();
    master = registrar = node = nullptr;
    cont.reset();
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

  /// Kills the master and registrar, starts new ones on the same registry
  /// (as a restarted master process would), and points agents and the
  /// actors spawned through `spawn` at it. Runs what follows.
  void restart_master() {
    caf::anon_send_exit(master, caf::exit_reason::kill);
    caf::anon_send_exit(registrar, caf::exit_reason::kill);
    drain();
    auto store = registry_store::open((dir / "master").string());
    REQUIRE(store);
    auto snap = (*store)->load();
    REQUIRE(snap);
    registrar = spawn_registrar(*sys, std::move(*store));
    master_options mo = base_options;
    mo.seed = seed + ++restarts;
    mo.node = node;
    mo.recovered = std::move(*snap);
    master = spawn_master(*sys, registrar, mo);
    node_register(node, "master", master);
    node_register(node, "registrar", registrar);
    for (auto& a : agents)
      caf::send_as(a, a, connect_atom_t::value, master);
    for (auto& a : others)
      caf::anon_send(a, connect_atom_t::value, master);
    drain();
  }

  /// Cuts the link between agent `i` and the master, both ways (every
  /// message between them is dropped) until `heal(i)`.
  void partition(size_t i) {
    env->table().cut(agent_opts.at(i).node_name, "master");
    drain();
  }
  void heal(size_t i) {
    env->table().heal(agent_opts.at(i).node_name, "master");
    drain();
  }

  /// Kills the actor known to the node as `name` ("master", "agent/0",
  /// "executor/<framework>/<executor>", ...) and runs what follows, virtual
  /// time included (the node kills a moment after answering).
  void kill(const std::string& name) {
    caf::scoped_actor self{*sys};
    auto rh = self->request(node, caf::infinite,
                            make<schema::KillActor>([&](auto b) { b.setName(name); }));
    drain();
    bool ok = false;
    rh.receive([&](const actor_list_msg&) { ok = true; }, [&](caf::error&) {});
    REQUIRE_MESSAGE(ok, "no actor named " << name);
    advance(std::chrono::milliseconds(100));
  }

  /// The names the node knows.
  std::vector<std::string> actors() {
    caf::scoped_actor self{*sys};
    auto rh = self->request(node, caf::infinite, list_actors_msg{});
    drain();
    std::vector<std::string> out;
    rh.receive(
      [&](const actor_list_msg& m) {
        auto v = m.read();
        for (auto a : v->getActors())
          out.emplace_back(a);
      },
      [&](caf::error&) {});
    return out;
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
