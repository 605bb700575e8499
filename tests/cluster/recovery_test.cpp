// Agent recovery, partitions in both directions, durable unreachability and a
// seeded random fault schedule, on the in-process cluster (Mesos'
// slave_recovery, partition and fault_tolerance suites are the checklist).
#include "tests/cluster/fixture.hpp"
#include "tests/cluster/sdk_helpers.hpp"

#include <algorithm>
#include <random>
#include <set>

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

using addrs = std::shared_ptr<std::vector<caf::actor_addr>>;

// Sends `(cmd, task)` to every executor still alive.
void to_executors(const addrs& a, const std::string& cmd, const std::string& task) {
  for (auto& addr : *a)
    if (auto h = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(h, cmd, task);
}

// Every terminal state the framework saw for `id` (should be one kind).
// Answers to a kill or reconciliation about a task the master no longer
// knows (it completed before a master restart) say "unknown", not a state
// of the task: they are left out.
std::set<schema::TaskState> terminals(const log_t& l, const std::string& id) {
  std::set<schema::TaskState> out;
  if (auto i = l.updates.find(id); i != l.updates.end())
    for (auto& st : i->second)
      if (is_terminal(st.state)
          && !(st.reason == "REASON_RECONCILIATION"
               && st.message.find("does not know") != std::string::npos))
        out.insert(st.state);
  return out;
}

std::string agent_id(cluster& c, size_t i) {
  auto st = c.state();
  return st.read()->getAgents()[static_cast<unsigned>(i)].getId();
}

schema::TaskState master_task_state(cluster& c, const std::string& id) {
  auto st = c.state();
  auto v = st.read();
  // Completed tasks come first, active ones last: the last entry is the
  // current one.
  auto out = schema::TaskState::UNKNOWN;
  for (auto t : v->getTasks())
    if (std::string{t.getId()} == id)
      out = t.getState();
  return out;
}

struct setup {
  addrs execs = std::make_shared<std::vector<caf::actor_addr>>();
  std::shared_ptr<log_t> log = std::make_shared<log_t>();

  /// A scheduler launching `ids` on `c`, run until the first one is RUNNING.
  caf::actor launch(cluster& c, std::vector<std::string> ids, scheduler_options so = {}) {
    so.master = c.master;
    auto first = ids.at(0);
    auto sched = c.spawn<sdk_scheduler>(so, std::move(ids), log);
    c.advance(1s);
    REQUIRE(last(*log, first) == schema::TaskState::RUNNING);
    return sched;
  }
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("a restarted agent recovers its running tasks: executors re-register, ids kept") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  MESSAGE("seed=" << c.seed);
  auto sched = s.launch(c, {"a", "b"});
  auto id = agent_id(c, 0);
  auto before_a = s.log->updates["a"].size();
  c.restart_agent(0);
  c.advance(1s);
  CHECK(agent_id(c, 0) == id);
  CHECK(c.state().read()->getAgents()[0].getActive());
  CHECK(master_task_state(c, "a") == schema::TaskState::RUNNING);
  CHECK(master_task_state(c, "b") == schema::TaskState::RUNNING);
  // Nothing terminal was reported: the executors kept their tasks.
  CHECK(terminals(*s.log, "a").empty());
  CHECK(s.log->updates["a"].size() == before_a);
  // The recovered executor is reachable through the new agent.
  caf::anon_send(sched, std::string{"kill"}, std::string{"a"});
  c.drain();
  CHECK(last(*s.log, "a") == schema::TaskState::KILLED);
  auto used = resources::from_capnp(c.state().read()->getAgents()[0].getUsedResources());
  REQUIRE(used);
  CHECK(*used == *resources::parse("cpus:0.5;mem:64"));
}

TEST_CASE("an executor that died while its agent was down fails its task") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  s.launch(c, {"t"});
  c.stop_agent(0);
  for (auto& addr : *s.execs)
    if (auto h = caf::actor_cast<caf::actor>(addr))
      caf::anon_send_exit(h, caf::exit_reason::kill);
  c.drain();
  c.start_agent_again(0);
  c.advance(1s);
  CHECK(last(*s.log, "t") == schema::TaskState::FAILED);
  auto& st = s.log->updates["t"].back();
  CHECK(st.reason == "REASON_EXECUTOR_TERMINATED");
  CHECK(st.message.find("while the agent was down") != std::string::npos);
  CHECK(c.state().read()->getAgents()[0].getUsedResources().size() == 0);
}

TEST_CASE("an update an executor sends while its agent is down arrives after the restart") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  s.launch(c, {"t"});
  c.stop_agent(0);
  to_executors(s.execs, "finish", "t");
  c.drain();
  CHECK(last(*s.log, "t") == schema::TaskState::RUNNING);
  c.start_agent_again(0);
  c.advance(1s);
  CHECK(last(*s.log, "t") == schema::TaskState::FINISHED);
  CHECK_MESSAGE(terminals(*s.log, "t").size() == 1, history(*s.log, "t"));
  CHECK(c.state().read()->getAgents()[0].getUsedResources().size() == 0);
}

TEST_CASE("status updates the master has not acknowledged survive an agent restart") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  s.launch(c, {"t"});
  // The agent takes the executor's FINISHED (and acknowledges it) but
  // cannot pass it on; then it is killed with the update only checkpointed.
  c.partition(0);
  to_executors(s.execs, "finish", "t");
  c.advance(2s);
  CHECK(last(*s.log, "t") == schema::TaskState::RUNNING);
  c.heal(0);
  c.restart_agent(0);
  c.advance(1s);
  CHECK(last(*s.log, "t") == schema::TaskState::FINISHED);
  CHECK_MESSAGE(terminals(*s.log, "t").size() == 1, history(*s.log, "t"));
  CHECK(master_task_state(c, "t") == schema::TaskState::FINISHED); // completed
}

TEST_CASE("an agent down past its health checks is unreachable; restarted, its tasks come back") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  scheduler_options so;
  so.partition_aware = true;
  s.launch(c, {"t"}, so);
  c.stop_agent(0);
  for (int k = 0; k < 6; ++k)
    c.advance(16s);
  CHECK(last(*s.log, "t") == schema::TaskState::UNREACHABLE);
  CHECK(c.state().read()->getAgents()[0].getUnreachable());
  c.start_agent_again(0);
  c.advance(1s);
  CHECK(last(*s.log, "t") == schema::TaskState::RUNNING);
  CHECK(s.log->updates["t"].back().reason == "REASON_AGENT_REREGISTERED");
  auto st = c.state();
  CHECK(st.read()->getAgents()[0].getActive());
  CHECK_FALSE(st.read()->getAgents()[0].getUnreachable());
  CHECK(master_task_state(c, "t") == schema::TaskState::RUNNING);
}

TEST_CASE("health checks shared among ticks still find every agent that is gone, and only those") {
  master_options mo;
  mo.agents_per_ping_tick = 2; // 5 agents: each interval shared by 2 ticks
  cluster c{5, "cpus:2;mem:512", echo_factory(), 42, mo};
  c.advance(1s);
  for (size_t i = 0; i < 4; ++i) // whichever tick pings them: both ticks
    c.stop_agent(i);
  for (int k = 0; k < 100; ++k) // in steps shorter than a tick (7.5 s)
    c.advance(1s);
  auto st = c.state();
  size_t unreachable = 0, active = 0;
  for (auto a : st.read()->getAgents()) {
    unreachable += a.getUnreachable() ? 1 : 0;
    active += a.getActive() ? 1 : 0;
  }
  CHECK(unreachable == 4);
  CHECK(active == 1);
}

TEST_CASE("recover=cleanup destroys what the previous agent ran; its tasks are lost") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  s.launch(c, {"t"});
  auto id = agent_id(c, 0);
  c.stop_agent(0);
  c.start_agent_again(0, "cleanup");
  c.advance(1s);
  CHECK(agent_id(c, 0) == id);
  CHECK(last(*s.log, "t") == schema::TaskState::LOST);
  CHECK(s.log->updates["t"].back().reason == "REASON_AGENT_RESTARTED");
  // The executor is gone: the node no longer lists it.
  auto names = c.actors();
  CHECK(std::none_of(names.begin(), names.end(),
                     [](auto& n) { return n.rfind("executor/", 0) == 0; }));
  CHECK(c.state().read()->getAgents()[0].getUsedResources().size() == 0);
}

TEST_CASE("a partition drops messages both ways; updates are retried after it heals") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  scheduler_options so;
  so.partition_aware = true;
  auto sched = s.launch(c, {"a", "b"}, so);
  c.partition(0);
  caf::anon_send(sched, std::string{"kill"}, std::string{"a"}); // lost on the way
  to_executors(s.execs, "finish", "b");                        // held by the agent
  c.advance(5s);
  CHECK(last(*s.log, "a") == schema::TaskState::RUNNING);
  CHECK(last(*s.log, "b") == schema::TaskState::RUNNING);
  c.heal(0);
  c.advance(11s); // the agent's first retry is after 10 s
  CHECK(last(*s.log, "b") == schema::TaskState::FINISHED);
  // The kill never arrived: the task still runs until asked again.
  CHECK(master_task_state(c, "a") == schema::TaskState::RUNNING);
  caf::anon_send(sched, std::string{"kill"}, std::string{"a"});
  c.drain();
  CHECK(last(*s.log, "a") == schema::TaskState::KILLED);
}

TEST_CASE("unreachable is durable: a restarted master shows the agent unreachable at once") {
  setup s;
  cluster c{2, "cpus:2;mem:512", echo_factory(s.execs)};
  c.partition(1);
  for (int k = 0; k < 6; ++k)
    c.advance(16s);
  REQUIRE(c.state().read()->getAgents()[1].getUnreachable());
  c.restart_master();
  c.advance(1s);
  auto st = c.state();
  auto v = st.read();
  REQUIRE(v->getAgents().size() == 2);
  size_t unreachable = 0, active = 0;
  for (auto a : v->getAgents()) {
    unreachable += a.getUnreachable();
    active += a.getActive();
  }
  CHECK(unreachable == 1);
  CHECK(active == 1);
  // Healed, it registers again (once its lost request timed out) and is
  // reachable.
  c.heal(1);
  for (int k = 0; k < 35; ++k)
    c.advance(1s);
  auto after = c.state();
  active = 0;
  auto view4 = after.read();
  for (auto a : view4->getAgents())
    active += a.getActive();
  CHECK(active == 2);
}

TEST_CASE("master and agent restarted one after the other: tasks keep running") {
  setup s;
  cluster c{2, "cpus:2;mem:512", echo_factory(s.execs)};
  scheduler_options so;
  so.failover_timeout = 60;
  s.launch(c, {"a", "b"}, so);
  c.restart_master();
  c.advance(2s);
  c.restart_agent(0);
  c.restart_agent(1);
  c.advance(2s);
  CHECK(terminals(*s.log, "a").empty());
  CHECK(terminals(*s.log, "b").empty());
  CHECK(master_task_state(c, "a") == schema::TaskState::RUNNING);
  CHECK(master_task_state(c, "b") == schema::TaskState::RUNNING);
  size_t active = 0;
  auto snap5 = c.state();
  auto view5 = snap5.read();
  for (auto a : view5->getAgents())
    active += a.getActive();
  CHECK(active == 2);
}

TEST_CASE("a status update in flight when the master dies is delivered by the new master") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  scheduler_options so;
  so.failover_timeout = 60;
  s.launch(c, {"t"}, so);
  // The FINISHED leaves the executor as the master is killed: it reaches a
  // dead master and stays unacknowledged at the agent.
  to_executors(s.execs, "finish", "t");
  c.restart_master();
  c.advance(2s);
  CHECK(last(*s.log, "t") == schema::TaskState::FINISHED);
  CHECK(terminals(*s.log, "t").size() == 1);
  CHECK(c.state().read()->getAgents()[0].getUsedResources().size() == 0);
}

TEST_CASE("reconciling a task on a disconnected agent answers its last known state") {
  setup s;
  cluster c{1, "cpus:2;mem:512", echo_factory(s.execs)};
  auto sched = s.launch(c, {"t"});
  c.stop_agent(0);
  auto n = s.log->updates["t"].size();
  caf::anon_send(sched, std::string{"reconcile-explicit"}, std::string{"t"});
  c.drain();
  REQUIRE(s.log->updates["t"].size() == n + 1);
  CHECK(last(*s.log, "t") == schema::TaskState::RUNNING);
  CHECK(last(*s.log, "nobody-knows-me") == schema::TaskState::LOST);
  caf::anon_send(sched, std::string{"reconcile-implicit"}, std::string{});
  c.drain();
  CHECK(s.log->updates["t"].size() == n + 2);
  CHECK(last(*s.log, "t") == schema::TaskState::RUNNING);
}

}

namespace {

// Launches a task on every offer until `total` were launched.
class churn_scheduler : public scheduler {
public:
  churn_scheduler(caf::actor_config& cfg, scheduler_options o, int total,
                  std::shared_ptr<log_t> log)
    : scheduler(cfg, std::move(o)), left_(total), log_(std::move(log)) {
  }
  using scheduler::kill;

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    for (auto& o : offers) {
      auto need = *resources::parse("cpus:0.5;mem:32");
      if (left_ <= 0 || !o.res.contains(need)) {
        decline({o.id}, 1);
        continue;
      }
      task_spec t;
      t.task_id = "t" + std::to_string(next_++);
      t.res = need;
      launched_.insert(t.task_id);
      t.executor_id = "echo";
      --left_;
      accept({o.id}, {t});
    }
  }
  void status_update(const status_info& st) override {
    log_->updates[st.task_id].push_back(st);
  }
  caf::message_handler extra_handlers() override {
    return {[this](const std::string& cmd, const std::string& arg) {
      if (cmd == "kill" && launched_.count(arg) > 0)
        kill(arg);
    }};
  }

private:
  int left_;
  int next_ = 0;
  std::set<std::string> launched_;
  std::shared_ptr<log_t> log_;
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("random faults never give a task two terminal states, and accounting stays exact") {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("CALDERA_SEED"))
    seed = std::strtoull(env, nullptr, 10);
  MESSAGE("seed=" << seed << " (replay with CALDERA_SEED=" << seed << ")");
  std::mt19937_64 rng{seed};
  setup s;
  master_options mo;
  cluster c{3, "cpus:2;mem:512", echo_factory(s.execs), seed, mo};
  scheduler_options so;
  so.master = c.master;
  so.failover_timeout = 3600;
  so.partition_aware = (seed % 2) == 0;
  auto sched = c.spawn<churn_scheduler>(so, 24, s.log);
  std::vector<bool> down(3, false), cut(3, false);
  for (int step = 0; step < 40; ++step) {
    size_t i = rng() % 3;
    switch (rng() % 8) {
      case 0:
        c.restart_agent(i);
        down[i] = false;
        break;
      case 1:
        if (!down[i])
          c.stop_agent(i);
        down[i] = true;
        break;
      case 2:
        if (down[i])
          c.start_agent_again(i);
        down[i] = false;
        break;
      case 3:
        if (!down[i]) {
          c.partition(i);
          cut[i] = true;
        }
        break;
      case 4:
        if (!down[i] && cut[i]) {
          c.heal(i);
          cut[i] = false;
        }
        break;
      case 5:
        to_executors(s.execs, "finish", "t" + std::to_string(rng() % 24));
        c.drain();
        break;
      case 6:
        caf::anon_send(sched, std::string{"kill"}, "t" + std::to_string(rng() % 24));
        c.drain();
        break;
      case 7:
        c.restart_master();
        break;
    }
    c.advance(std::chrono::seconds(1 + rng() % 30));
  }
  // Everything heals and settles.
  for (size_t i = 0; i < 3; ++i) {
    if (cut[i])
      c.heal(i);
    if (down[i])
      c.start_agent_again(i);
  }
  for (int k = 0; k < 40; ++k)
    c.advance(15s);
  for (auto& [id, ups] : s.log->updates)
    CHECK_MESSAGE(terminals(*s.log, id).size() <= 1, "task " << id << ": " << history(*s.log, id));
  // What the master charges equals what its running tasks hold.
  auto st = c.state();
  auto v = st.read();
  resources running, agents_used;
  for (auto t : v->getTasks())
    if (!is_terminal(t.getState()) && t.getState() != schema::TaskState::UNREACHABLE)
      running += *resources::from_capnp(t.getResources());
  for (auto a : v->getAgents())
    agents_used += *resources::from_capnp(a.getUsedResources());
  CHECK(agents_used == running);
  if (v->getFrameworks().size() == 1)
    CHECK(*resources::from_capnp(v->getFrameworks()[0].getUsedResources()) == running);
  size_t active = 0;
  for (auto a : v->getAgents())
    active += a.getActive();
  CHECK(active == 3);
}

}

TEST_SUITE("cluster") {

std::vector<std::string>& captured() {
  static std::vector<std::string> lines;
  return lines;
}

size_t captured_count(const std::string& text) {
  size_t n = 0;
  for (auto& l : captured())
    n += l.find(text) != std::string::npos;
  return n;
}

TEST_CASE("standby masters' epochs: agents refuse a master of an older epoch than one they "
          "saw, and register with a newer one") {
  setup s;
  master_options mo;
  mo.epoch = 5;
  cluster c{2, "cpus:2;mem:512", echo_factory(s.execs), 42, mo};
  log::set_level(log::level::info);
  log::set_sink([](std::string_view line) { captured().emplace_back(line); });
  // A deposed leader (epoch 3) comes back: the agents refuse it, again at
  // every try, and never take it for their master.
  c.base_options.epoch = 3;
  c.restart_master();
  for (int k = 0; k < 10; ++k)
    c.advance(1s);
  CHECK(captured_count("stale_master_refused epoch=3 seen=5") >= 2);
  CHECK(captured_count("agent_reregistered") == 0);
  // The newer leader (epoch 7): both agents re-register with it.
  c.base_options.epoch = 7;
  c.restart_master();
  for (int k = 0; k < 10; ++k)
    c.advance(1s);
  CHECK(captured_count("agent_reregistered") == 2);
  size_t active = 0;
  for (auto a : c.state().read()->getAgents())
    active += a.getActive();
  CHECK(active == 2);
  // The epoch seen is checkpointed: agents restarted on their work dirs
  // still refuse a deposed leader.
  c.restart_agent(0);
  c.restart_agent(1);
  c.base_options.epoch = 5;
  c.restart_master();
  for (int k = 0; k < 10; ++k)
    c.advance(1s);
  CHECK(captured_count("stale_master_refused epoch=5 seen=7") >= 2);
  log::set_sink(nullptr);
  log::set_level(log::level::warn);
  captured().clear();
}

} // TEST_SUITE
