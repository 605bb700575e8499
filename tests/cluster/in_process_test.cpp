#include "tests/cluster/fixture.hpp"
#include "tests/cluster/sdk_helpers.hpp"

#include <map>
#include <set>

#include "actors/scheduler.hpp"
#include "actors/status.hpp"

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

struct batch_result {
  std::map<std::string, std::vector<schema::TaskState>> states;
  std::vector<std::string> errors;
  size_t finished = 0;
  size_t launched = 0;
};

// Launches `total` tasks of `task_res` as offers allow, then suppresses.
class batch_scheduler : public scheduler {
public:
  batch_scheduler(caf::actor_config& cfg, scheduler_options opts, size_t total,
                  resources task_res, std::shared_ptr<batch_result> out)
    : scheduler(cfg, std::move(opts)), total_(total), task_res_(std::move(task_res)),
      out_(std::move(out)) {
  }

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    for (auto& o : offers) {
      std::vector<task_spec> tasks;
      auto left = o.res;
      while (out_->launched < total_ && left.contains(task_res_)) {
        task_spec t;
        t.task_id = "t" + std::to_string(out_->launched++);
        t.res = task_res_;
        t.command = "true";
        left -= task_res_;
        tasks.push_back(std::move(t));
      }
      if (tasks.empty())
        decline({o.id}, 60);
      else
        accept({o.id}, tasks);
    }
    if (out_->launched == total_)
      suppress();
  }

  void status_update(const status_info& st) override {
    out_->states[st.task_id].push_back(st.state);
    if (st.state == schema::TaskState::FINISHED)
      ++out_->finished;
  }

  void error(const std::string& m) override {
    out_->errors.push_back(m);
  }

private:
  size_t total_;
  resources task_res_;
  std::shared_ptr<batch_result> out_;
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("200 tasks on master + 2 agents all finish and every resource is returned") {
  cluster c{2, "cpus:4;mem:1024"};
  MESSAGE("seed=" << c.seed);
  auto out = std::make_shared<batch_result>();
  scheduler_options so;
  so.name = "batch";
  so.master = c.master;
  c.spawn<batch_scheduler>(so, size_t{200}, *resources::parse("cpus:0.5;mem:64"), out);
  for (int i = 0; i < 100 && out->finished < 200; ++i)
    c.advance(1s);
  CHECK(out->errors.empty());
  CHECK(out->launched == 200);
  CHECK(out->finished == 200);
  for (auto& [tid, states] : out->states) {
    INFO(tid);
    REQUIRE(states.size() == 2);
    CHECK(states[0] == schema::TaskState::RUNNING);
    CHECK(states[1] == schema::TaskState::FINISHED);
  }
  auto st = c.state();
  auto v = st.read();
  REQUIRE(v->getAgents().size() == 2);
  for (auto a : v->getAgents()) {
    CHECK(a.getActive());
    CHECK(a.getUsedResources().size() == 0);
  }
  REQUIRE(v->getFrameworks().size() == 1);
  CHECK(v->getFrameworks()[0].getUsedResources().size() == 0);
  size_t finished = 0;
  for (auto t : v->getTasks())
    if (t.getState() == schema::TaskState::FINISHED)
      ++finished;
  CHECK(finished == 200);
}

namespace {

// Accepts its first offer with the plan given, then records what comes back.
class probe_scheduler : public scheduler {
public:
  using plan_fn = std::function<void(probe_scheduler&, const offer&)>;
  probe_scheduler(caf::actor_config& cfg, scheduler_options opts, plan_fn plan,
                  std::shared_ptr<batch_result> out)
    : scheduler(cfg, std::move(opts)), plan_(std::move(plan)), out_(std::move(out)) {
  }
  using scheduler::accept;
  using scheduler::decline;
  std::vector<offer> seen;

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    for (auto& o : offers)
      seen.push_back(o);
    if (!done_ && !offers.empty()) {
      done_ = true;
      plan_(*this, offers[0]);
    }
  }
  void status_update(const status_info& st) override {
    out_->states[st.task_id].push_back(st.state);
  }
  void error(const std::string& m) override {
    out_->errors.push_back(m);
  }

private:
  plan_fn plan_;
  std::shared_ptr<batch_result> out_;
  bool done_ = false;
};

task_spec make_task(const std::string& id, const char* res) {
  task_spec t;
  t.task_id = id;
  t.res = *resources::parse(res);
  t.command = "true";
  return t;
}

} // namespace

TEST_CASE("launching more than an offer holds gives TASK_ERROR to the excess only") {
  cluster c{1, "cpus:1;mem:256"};
  auto out = std::make_shared<batch_result>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<probe_scheduler>(so, [](probe_scheduler& s, const offer& o) {
    s.accept({o.id}, {make_task("fits", "cpus:0.6;mem:100"),
                      make_task("too-big", "cpus:0.6;mem:100"),
                      make_task("also-fits", "cpus:0.4;mem:100")});
  }, out);
  c.advance(1s);
  REQUIRE(out->states.count("too-big") == 1);
  CHECK(out->states["too-big"].front() == schema::TaskState::ERROR);
  CHECK(out->states["fits"].back() == schema::TaskState::FINISHED);
  CHECK(out->states["also-fits"].back() == schema::TaskState::FINISHED);
  auto v = c.state();
  CHECK(v.read()->getAgents()[0].getUsedResources().size() == 0);
}

TEST_CASE("accepting an unknown or used offer gives TASK_ERROR and changes nothing") {
  cluster c{1, "cpus:1;mem:256"};
  auto out = std::make_shared<batch_result>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<probe_scheduler>(so, [](probe_scheduler& s, const offer& o) {
    s.accept({"no-such-offer"}, {make_task("ghost", "cpus:0.1")});
    s.accept({o.id}, {make_task("real", "cpus:0.1")});
    s.accept({o.id}, {make_task("reused", "cpus:0.1")});
  }, out);
  c.advance(1s);
  REQUIRE(out->states.count("ghost") == 1);
  CHECK(out->states["ghost"].front() == schema::TaskState::ERROR);
  CHECK(out->states["reused"].front() == schema::TaskState::ERROR);
  CHECK(out->states["real"].back() == schema::TaskState::FINISHED);
  // Nothing else changed: the agent is whole again, one task ran.
  auto st = c.state();
  auto v = st.read();
  CHECK(v->getAgents()[0].getUsedResources().size() == 0);
  size_t ran = 0;
  for (auto t : v->getTasks())
    ran += t.getState() == schema::TaskState::FINISHED;
  CHECK(ran == 1);
}

TEST_CASE("a malformed message is dropped and the master keeps serving") {
  cluster c{1, "cpus:1;mem:256"};
  auto words = kj::heapArray<capnp::word>(3);
  std::memset(words.begin(), 0xab, words.size() * sizeof(capnp::word));
  register_agent_msg bad{std::make_shared<const kj::Array<capnp::word>>(std::move(words))};
  caf::anon_send(c.master, bad);
  accept_msg bad_accept{register_agent_msg{}.buffer()};
  caf::anon_send(c.master, bad_accept);
  c.drain();
  auto st = c.state();
  CHECK(st.read()->getAgents().size() == 1);
}

TEST_CASE("an agent that goes away has its offers rescinded at once, and is lost after health checks") {
  struct holder : scheduler {
    holder(caf::actor_config& cfg, scheduler_options o, std::shared_ptr<batch_result> r,
           std::shared_ptr<std::vector<std::string>> rescinded)
      : scheduler(cfg, std::move(o)), out(std::move(r)), resc(std::move(rescinded)) {
    }
    void resource_offers(const std::vector<offer>&) override {
      // Holds every offer.
    }
    void offer_rescinded(const std::string& id) override {
      resc->push_back(id);
    }
    void agent_lost(const std::string& id) override {
      out->errors.push_back("lost " + id);
    }
    std::shared_ptr<batch_result> out;
    std::shared_ptr<std::vector<std::string>> resc;
  };
  cluster c{2, "cpus:1;mem:256"};
  auto out = std::make_shared<batch_result>();
  auto resc = std::make_shared<std::vector<std::string>>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<holder>(so, out, resc);
  c.advance(1s);
  caf::anon_send_exit(c.agents[0], caf::exit_reason::kill);
  c.drain();
  CHECK(resc->size() == 1);
  // Disconnected, not lost yet: it may be restarting.
  CHECK(out->errors.empty());
  // 5 health-check rounds of 15 s without it.
  for (int k = 0; k < 6; ++k)
    c.advance(16s);
  REQUIRE(out->errors.size() == 1);
  CHECK(out->errors[0].rfind("lost ", 0) == 0);
  auto st = c.state();
  size_t active = 0;
  auto sv = st.read();
  for (auto a : sv->getAgents())
    active += a.getActive();
  CHECK(active == 1);
}

}

namespace {

// Holds offers until it has one from each of `agents` agents, then launches
// one task per agent as a gang, each needing `per_task`.
class gang_scheduler : public caldera::scheduler {
public:
  gang_scheduler(caf::actor_config& cfg, caldera::scheduler_options o, size_t agents,
                 std::string per_task, std::shared_ptr<caldera::test::log_t> log)
    : scheduler(cfg, std::move(o)), agents_(agents), per_task_(std::move(per_task)),
      log_(std::move(log)) {
  }

protected:
  void resource_offers(const std::vector<caldera::offer>& offers) override {
    for (auto& o : offers)
      held_[o.agent_id] = o.id;
    if (done_ || held_.size() < agents_)
      return;
    done_ = true;
    std::vector<std::string> ids;
    std::vector<caldera::task_spec> ts;
    int i = 0;
    for (auto& [aid, oid] : held_) {
      ids.push_back(oid);
      caldera::task_spec t;
      t.task_id = "rank" + std::to_string(i);
      t.agent_id = aid;
      // The last rank asks for `per_task`, the others for one cpu.
      t.res = *caldera::resources::parse(++i == static_cast<int>(held_.size())
                                           ? per_task_ : "cpus:1;mem:64");
      t.executor_id = "echo";
      ts.push_back(t);
    }
    accept_gang(ids, ts);
  }
  void status_update(const caldera::status_info& st) override {
    log_->updates[st.task_id].push_back(st);
  }

private:
  size_t agents_;
  std::string per_task_;
  std::shared_ptr<caldera::test::log_t> log_;
  std::map<std::string, std::string> held_;
  bool done_ = false;
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("a gang across three agents is launched whole, or not at all") {
  using caldera::test::last;
  for (bool fits : {true, false}) {
    CAPTURE(fits);
    cluster c{3, "cpus:2;mem:512", caldera::test::echo_factory()};
    auto log = std::make_shared<caldera::test::log_t>();
    scheduler_options so;
    so.master = c.master;
    c.spawn<gang_scheduler>(so, 3, fits ? "cpus:2;mem:64" : "cpus:3;mem:64", log);
    c.advance(1s);
    REQUIRE(log->updates.size() == 3);
    for (auto& [id, ups] : log->updates) {
      CAPTURE(id);
      if (fits) {
        CHECK(last(*log, id) == schema::TaskState::RUNNING);
      } else {
        CHECK(ups.size() == 1);
        CHECK(last(*log, id) == schema::TaskState::ERROR);
        CHECK(ups.back().reason == "REASON_TASK_GROUP_INVALID");
        CHECK(ups.back().message.find("cpus") != std::string::npos);
      }
    }
    auto st = c.state();
    size_t tasks = 0;
    auto view6 = st.read();
    for (auto t : view6->getTasks())
      tasks += !is_terminal(t.getState());
    CHECK(tasks == (fits ? 3u : 0u));
    auto view7 = st.read();
    for (auto a : view7->getAgents())
      CHECK((a.getUsedResources().size() > 0) == fits);
  }
}

}
