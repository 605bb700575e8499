// Regressions for bugs found while building the simulator (issue 14), each
// on the in-process cluster; seeds of the simulator that found others are in
// sim_seeds_test.cpp.
#include "tests/cluster/fixture.hpp"
#include "tests/cluster/sdk_helpers.hpp"

#include <memory>
#include <vector>

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// Echo executors whose liveness the test can see.
struct live_executors {
  std::shared_ptr<std::vector<std::shared_ptr<bool>>> alive =
    std::make_shared<std::vector<std::shared_ptr<bool>>>();
  std::shared_ptr<std::vector<caf::actor_addr>> addrs =
    std::make_shared<std::vector<caf::actor_addr>>();

  executor_factory factory() {
    return [alive = alive, addrs = addrs](caf::actor_system& s, executor_options o) {
      auto a = s.spawn<echo_executor>(std::move(o));
      auto flag = std::make_shared<bool>(true);
      a->attach_functor([flag] { *flag = false; });
      alive->push_back(flag);
      addrs->push_back(a.address());
      return a;
    };
  }
  size_t running() const {
    size_t n = 0;
    for (auto& f : *alive)
      n += *f ? 1 : 0;
    return n;
  }
  void finish(const std::string& task) const {
    for (auto& a : *addrs)
      if (auto h = caf::actor_cast<caf::actor>(a))
        caf::anon_send(h, std::string{"finish"}, task);
  }
};

// sdk_scheduler that also stops on ("stop", "") and counts executor_lost.
class stoppable_scheduler : public sdk_scheduler {
public:
  stoppable_scheduler(caf::actor_config& cfg, scheduler_options o, std::vector<std::string> ids,
                      std::shared_ptr<log_t> log, std::shared_ptr<int> lost)
    : sdk_scheduler(cfg, std::move(o), std::move(ids), std::move(log)), lost_(std::move(lost)) {
  }

protected:
  void executor_lost(const std::string&, const std::string&, int) override {
    ++*lost_;
  }
  caf::message_handler extra_handlers() override {
    return sdk_scheduler::extra_handlers().or_else([this](const std::string& cmd) {
      if (cmd == "stop")
        stop();
    });
  }

private:
  std::shared_ptr<int> lost_;
};

// Launches one command task ("true") on the first offer; counts executor_lost.
class command_scheduler : public scheduler {
public:
  command_scheduler(caf::actor_config& cfg, scheduler_options o, std::shared_ptr<log_t> log,
                    std::shared_ptr<int> lost)
    : scheduler(cfg, std::move(o)), log_(std::move(log)), lost_(std::move(lost)) {
  }

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    for (auto& o : offers) {
      if (launched_) {
        decline({o.id}, 3600);
        continue;
      }
      launched_ = true;
      task_spec t;
      t.task_id = "cmd";
      t.res = *resources::parse("cpus:0.5;mem:64");
      t.command = "true";
      accept({o.id}, {t});
    }
  }
  void status_update(const status_info& st) override {
    log_->updates[st.task_id].push_back(st);
  }
  void executor_lost(const std::string&, const std::string&, int) override {
    ++*lost_;
  }

private:
  bool launched_ = false;
  std::shared_ptr<log_t> log_;
  std::shared_ptr<int> lost_;
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("teardown shuts down an idle executor whose tasks all finished") {
  live_executors ex;
  cluster c{2, "cpus:2;mem:512", ex.factory()};
  auto log = std::make_shared<log_t>();
  auto lost = std::make_shared<int>(0);
  scheduler_options so;
  so.master = c.master;
  auto sched = c.spawn<stoppable_scheduler>(so, std::vector<std::string>{"t"}, log, lost);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  ex.finish("t");
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::FINISHED);
  CHECK(ex.running() == 1); // idle, as a TaskTracker between tasks
  caf::anon_send(sched, std::string{"stop"});
  for (int k = 0; k < 10; ++k)
    c.advance(1s);
  CHECK(ex.running() == 0);
}

TEST_CASE("executor_lost is not called for command tasks, and is for a framework's executor") {
  cluster c{1, "cpus:2;mem:512", [](caf::actor_system& s, executor_options o) {
              return s.spawn<instant_executor>(std::move(o));
            }};
  auto log = std::make_shared<log_t>();
  auto lost = std::make_shared<int>(0);
  scheduler_options so;
  so.master = c.master;
  c.spawn<command_scheduler>(so, log, lost);
  for (int k = 0; k < 8; ++k)
    c.advance(1s);
  REQUIRE(last(*log, "cmd") == schema::TaskState::FINISHED);
  CHECK(*lost == 0);
  // The framework's own executor ("echo", no command) ending is news to it.
  auto log2 = std::make_shared<log_t>();
  c.spawn<stoppable_scheduler>(so, std::vector<std::string>{"own"}, log2, lost);
  for (int k = 0; k < 8; ++k)
    c.advance(1s);
  REQUIRE(last(*log2, "own") == schema::TaskState::FINISHED);
  CHECK(*lost == 1);
}

TEST_CASE("scheduler actions while disconnected from the master are reported through error") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  auto sched = c.spawn<sdk_scheduler>(so, std::vector<std::string>{}, log);
  c.advance(1s);
  REQUIRE(log->registrations == 1);
  caf::anon_send_exit(c.master, caf::exit_reason::kill);
  c.drain();
  caf::anon_send(sched, std::string{"reconcile-implicit"}, std::string{});
  c.drain();
  REQUIRE(!log->errors.empty());
  CHECK(log->errors.back().find("reconcile dropped: not connected") != std::string::npos);
  c.restart_master();
}

TEST_CASE("a task that ends while the master is down stays in its records") {
  live_executors ex;
  cluster c{1, "cpus:2;mem:512", ex.factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  so.failover_timeout = 3600;
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  caf::anon_send_exit(c.master, caf::exit_reason::kill);
  c.drain();
  ex.finish("t");
  c.advance(1s);
  c.restart_master();
  for (int k = 0; k < 30; ++k)
    c.advance(1s);
  CHECK(last(*log, "t") == schema::TaskState::FINISHED);
  auto st = c.state();
  bool found = false;
  for (auto t : st.read()->getTasks())
    if (std::string{t.getId()} == "t") {
      found = true;
      CHECK(t.getState() == schema::TaskState::FINISHED);
    }
  CHECK(found);
}

}

TEST_SUITE("cluster") {

TEST_CASE("a stray error or unexpected message from a peer ends no daemon actor") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  auto sched = c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  // What a stopping scheduler once bounced to the master (sim seed 4713),
  // and what any peer can send to any actor it reaches.
  for (auto& whom : {c.master, c.agents.at(0), caf::actor{sched}}) {
    caf::anon_send(whom, caf::make_error(caf::sec::unexpected_message));
    caf::anon_send(whom, std::string{"nonsense"}, 42, 3.5);
  }
  c.advance(1s);
  auto st = c.state();
  CHECK(st.read()->getAgents().size() == 1);
  CHECK(st.read()->getFrameworks().size() == 1);
  CHECK(log->registrations == 1);
}

TEST_CASE("a peer cannot fire the master's or an agent's timers, nor shut an agent down") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  // Before: ten health-check rounds in a row (the agent's pongs queued behind
  // them) made the agent miss five pings and become unreachable; the agent
  // shut down at an anonymous shutdown_atom.
  for (int k = 0; k < 10; ++k)
    caf::anon_send(c.master, ping_atom::value);
  caf::anon_send(c.agents.at(0), shutdown_atom::value);
  caf::anon_send(c.agents.at(0), retry_atom::value);
  c.advance(1s);
  auto st = c.state();
  REQUIRE(st.read()->getAgents().size() == 1);
  CHECK(st.read()->getAgents()[0].getActive());
  CHECK_FALSE(st.read()->getAgents()[0].getUnreachable());
  CHECK(last(*log, "t") == schema::TaskState::RUNNING);
  CHECK(log->registrations == 1);
}

}
