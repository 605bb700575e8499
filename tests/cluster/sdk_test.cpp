// The framework SDK against a whole in-process cluster: kill, framework
// messages both ways, reconciliation and scheduler failover.
#include "tests/cluster/fixture.hpp"
#include "tests/cluster/sdk_helpers.hpp"

#include <algorithm>
#include <map>

#include "actors/scheduler.hpp"

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;


TEST_SUITE("cluster") {

TEST_CASE("kill, framework messages and reconciliation through the SDK") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  auto s = c.spawn<sdk_scheduler>(so, std::vector<std::string>{"a", "b"}, log);
  c.advance(1s);
  CHECK(last(*log, "a") == schema::TaskState::RUNNING);
  CHECK(last(*log, "b") == schema::TaskState::RUNNING);

  caf::anon_send(s, std::string{"msg"}, std::string{"ping"});
  c.drain();
  REQUIRE(log->messages.size() == 1);
  CHECK(log->messages[0] == "pong:ping");

  caf::anon_send(s, std::string{"reconcile-explicit"}, std::string{"a"});
  c.drain();
  CHECK(log->updates["a"].back().state == schema::TaskState::RUNNING);
  CHECK(log->updates["a"].back().reason == "REASON_RECONCILIATION");
  CHECK(log->updates["nobody-knows-me"].back().state == schema::TaskState::LOST);

  caf::anon_send(s, std::string{"kill"}, std::string{"a"});
  c.drain();
  CHECK(last(*log, "a") == schema::TaskState::KILLED);
  CHECK(last(*log, "b") == schema::TaskState::RUNNING);

  auto before = log->updates["b"].size();
  caf::anon_send(s, std::string{"reconcile-implicit"}, std::string{});
  c.drain();
  CHECK(log->updates["b"].size() == before + 1);
  CHECK(log->updates["a"].back().reason != "REASON_RECONCILIATION"); // not active

  // Killing an unknown task answers TASK_LOST.
  caf::anon_send(s, std::string{"kill"}, std::string{"ghost"});
  c.drain();
  CHECK(last(*log, "ghost") == schema::TaskState::LOST);

  auto st = c.state();
  auto agent = st.read()->getAgents()[0];
  auto used = resources::from_capnp(agent.getUsedResources());
  REQUIRE(used);
  CHECK(*used == *resources::parse("cpus:0.5;mem:64"));
  CHECK(log->errors.empty());
}

TEST_CASE("a scheduler that fails over within failover_timeout keeps its tasks") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  so.failover_timeout = 10;
  auto first = c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  c.drain();
  c.advance(5s);
  so.framework_id = log->framework_id;
  auto log2 = std::make_shared<log_t>();
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{}, log2);
  c.advance(20s);
  CHECK(log2->registrations == 1);
  CHECK(log2->framework_id == log->framework_id);
  CHECK(log2->errors.empty());
  auto st = c.state();
  auto v = st.read();
  REQUIRE(v->getTasks().size() == 1);
  CHECK(v->getTasks()[0].getState() == schema::TaskState::RUNNING);
}

TEST_CASE("past failover_timeout the framework is torn down and its resources return") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  so.failover_timeout = 10;
  auto s = c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  caf::anon_send_exit(s, caf::exit_reason::kill);
  c.drain();
  c.advance(11s);
  c.advance(6s); // the agent's shutdown grace
  auto st = c.state();
  auto v = st.read();
  CHECK(v->getTasks()[0].getState() == schema::TaskState::KILLED);
  CHECK(v->getAgents()[0].getUsedResources().size() == 0);
  CHECK_FALSE(v->getFrameworks()[0].getActive());
  // The same id can no longer register.
  so.framework_id = log->framework_id;
  auto log2 = std::make_shared<log_t>();
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{}, log2);
  c.drain();
  REQUIRE(log2->errors.size() == 1);
  CHECK(log2->errors[0].find("unknown_framework") != std::string::npos);
}

}

TEST_SUITE("cluster") {

TEST_CASE("killing an agent actor through the node: its tasks are TASK_LOST once health checks give up") {
  cluster c{2, "cpus:2;mem:512", echo_factory()};
  MESSAGE("seed=" << c.seed);
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  auto names = c.actors();
  CHECK(std::count(names.begin(), names.end(), "master") == 1);
  CHECK(std::count(names.begin(), names.end(), "agent/0") == 1);
  // The executor of the task registered with the node too.
  std::string exec;
  for (auto& n : names)
    if (n.rfind("executor/", 0) == 0)
      exec = n;
  CHECK_FALSE(exec.empty());
  auto agent_of_task = log->agent_id;
  auto st = c.state();
  int idx = -1, i = 0;
  auto view1 = st.read();
  for (auto a : view1->getAgents()) {
    if (std::string{a.getId()} == agent_of_task)
      idx = i;
    ++i;
  }
  REQUIRE(idx >= 0);
  c.kill("agent/" + std::to_string(idx));
  // Disconnected: the task is kept while the agent may come back.
  CHECK(last(*log, "t") == schema::TaskState::RUNNING);
  for (int k = 0; k < 6; ++k)
    c.advance(16s);
  CHECK(last(*log, "t") == schema::TaskState::LOST);
  CHECK(log->updates["t"].back().reason == "REASON_AGENT_UNREACHABLE");
  auto after = c.state();
  size_t active = 0;
  auto view2 = after.read();
  for (auto a : view2->getAgents())
    active += a.getActive();
  CHECK(active == 1);
}

TEST_CASE("killing an executor actor fails its task and returns its resources") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  c.kill("executor/" + log->framework_id + "/echo");
  CHECK(last(*log, "t") == schema::TaskState::FAILED);
  CHECK(log->updates["t"].back().reason == "REASON_EXECUTOR_TERMINATED");
  auto st = c.state();
  CHECK(st.read()->getAgents()[0].getUsedResources().size() == 0);
}

}

TEST_SUITE("cluster") {

TEST_CASE("a partitioned agent becomes unreachable, then its tasks are known again") {
  cluster c{2, "cpus:2;mem:512", echo_factory()};
  MESSAGE("seed=" << c.seed);
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  so.partition_aware = true;
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  auto st = c.state();
  int idx = 0, i = 0;
  auto view3 = st.read();
  for (auto a : view3->getAgents()) {
    if (std::string{a.getId()} == log->agent_id)
      idx = i;
    ++i;
  }
  c.partition(static_cast<size_t>(idx));
  // 5 health checks of 15 s go unanswered.
  for (int k = 0; k < 6; ++k)
    c.advance(15s);
  CHECK(last(*log, "t") == schema::TaskState::UNREACHABLE);
  {
    auto s2 = c.state();
    auto v = s2.read();
    CHECK_FALSE(v->getAgents()[static_cast<unsigned>(idx)].getActive());
  }
  c.heal(static_cast<size_t>(idx));
  c.advance(15s);
  c.advance(15s);
  CHECK(last(*log, "t") == schema::TaskState::RUNNING);
  auto s3 = c.state();
  auto v = s3.read();
  CHECK(v->getAgents()[static_cast<unsigned>(idx)].getActive());
  bool running = false;
  for (auto t : v->getTasks())
    running |= std::string{t.getId()} == "t" && t.getState() == schema::TaskState::RUNNING;
  CHECK(running);
}

TEST_CASE("frameworks that are not partition-aware see TASK_LOST for an unreachable agent") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<sdk_scheduler>(so, std::vector<std::string>{"t"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "t") == schema::TaskState::RUNNING);
  c.partition(0);
  for (int k = 0; k < 6; ++k)
    c.advance(15s);
  CHECK(last(*log, "t") == schema::TaskState::LOST);
  CHECK(log->updates["t"].back().reason == "REASON_AGENT_UNREACHABLE");
}

}

TEST_SUITE("cluster") {

TEST_CASE("a restarted master knows running tasks again and their framework re-registers") {
  cluster c{2, "cpus:2;mem:512", echo_factory()};
  MESSAGE("seed=" << c.seed);
  auto log = std::make_shared<log_t>();
  scheduler_options so;
  so.master = c.master;
  so.failover_timeout = 60;
  auto s = c.spawn<sdk_scheduler>(so, std::vector<std::string>{"a", "b"}, log);
  c.advance(1s);
  REQUIRE(last(*log, "a") == schema::TaskState::RUNNING);
  auto fid = log->framework_id;
  c.restart_master();
  for (int i = 0; i < 10; ++i)
    c.advance(1s);
  CHECK(log->reregistrations >= 1);
  auto st = c.state();
  auto v = st.read();
  CHECK(v->getRecoveredAgents() == 2);
  size_t active = 0;
  for (auto a : v->getAgents())
    active += a.getActive();
  CHECK(active == 2);
  REQUIRE(v->getFrameworks().size() == 1);
  CHECK(std::string{v->getFrameworks()[0].getId()} == fid);
  CHECK(v->getFrameworks()[0].getActive());
  size_t running = 0;
  for (auto t : v->getTasks())
    running += t.getState() == schema::TaskState::RUNNING;
  CHECK(running == 2);
  // The framework can act on its tasks through the new master.
  caf::anon_send(s, std::string{"kill"}, std::string{"a"});
  c.drain();
  CHECK(last(*log, "a") == schema::TaskState::KILLED);
  auto after = c.state();
  auto used = resources::from_capnp(after.read()->getFrameworks()[0].getUsedResources());
  REQUIRE(used);
  CHECK(*used == *resources::parse("cpus:0.5;mem:64"));
}

}

TEST_SUITE("cluster") {

TEST_CASE("reconciling an unknown task: TASK_UNKNOWN if partition-aware, else TASK_LOST") {
  cluster c{1, "cpus:2;mem:512", echo_factory()};
  for (bool aware : {true, false}) {
    auto log = std::make_shared<log_t>();
    scheduler_options so;
    so.master = c.master;
    so.partition_aware = aware;
    auto s = c.spawn<sdk_scheduler>(so, std::vector<std::string>{}, log);
    c.advance(1s);
    caf::anon_send(s, std::string{"reconcile-explicit"}, std::string{"ghost"});
    c.drain();
    CHECK(last(*log, "nobody-knows-me")
          == (aware ? schema::TaskState::UNKNOWN : schema::TaskState::LOST));
  }
}

}
