// The DRF allocator inside a whole in-process cluster.
#include "tests/cluster/fixture.hpp"

#include "actors/scheduler.hpp"

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// Keeps every task RUNNING.
class hold_executor : public executor {
public:
  using executor::executor;

protected:
  void launch_task(const task_info& t) override {
    send_status(t.task_id, schema::TaskState::RUNNING);
  }
};

struct tally {
  int running = 0;
  int offers = 0;
  std::vector<std::string> rescinded;
};

// Launches one task of `task` per offer while it fits; declines for long
// otherwise.
class greedy_scheduler : public scheduler {
public:
  greedy_scheduler(caf::actor_config& cfg, scheduler_options o, std::string prefix,
                   resources task, std::shared_ptr<tally> t, bool hold = false)
    : scheduler(cfg, std::move(o)), prefix_(std::move(prefix)), task_(std::move(task)),
      tally_(std::move(t)), hold_(hold) {
  }

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    for (auto& o : offers) {
      ++tally_->offers;
      if (hold_)
        continue;
      if (o.res.contains(task_)) {
        task_spec t;
        t.task_id = prefix_ + std::to_string(n_++);
        t.res = task_;
        t.executor_id = "hold";
        accept({o.id}, {t}, 0);
      } else {
        decline({o.id}, 3600);
      }
    }
  }
  void offer_rescinded(const std::string& id) override {
    tally_->rescinded.push_back(id);
  }
  void status_update(const status_info& st) override {
    if (st.state == schema::TaskState::RUNNING)
      ++tally_->running;
  }

private:
  std::string prefix_;
  resources task_;
  std::shared_ptr<tally> tally_;
  bool hold_;
  int n_ = 0;
};

executor_factory hold_factory() {
  return [](caf::actor_system& s, executor_options o) {
    return s.spawn<hold_executor>(std::move(o));
  };
}

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("two frameworks with different dominant resources converge to the DRF split") {
  cluster c{1, "cpus:9;mem:18432", hold_factory()};
  MESSAGE("seed=" << c.seed);
  auto a = std::make_shared<tally>();
  auto b = std::make_shared<tally>();
  scheduler_options so;
  so.master = c.master;
  so.name = "A";
  c.spawn<greedy_scheduler>(so, "a", *resources::parse("cpus:1;mem:4096"), a);
  so.name = "B";
  c.spawn<greedy_scheduler>(so, "b", *resources::parse("cpus:3;mem:1024"), b);
  for (int i = 0; i < 30; ++i)
    c.advance(1s);
  CHECK(a->running == 3);
  CHECK(b->running == 2);
}

TEST_CASE("role weights set at runtime steer the split") {
  cluster c{1, "cpus:30;mem:30720", hold_factory()};
  caf::scoped_actor self{*c.sys};
  auto req = make<schema::SetWeights>([](schema::SetWeights::Builder bld) {
    auto l = bld.initWeights(1);
    l[0].setRole("gold");
    l[0].setWeight(2);
  });
  auto rh = self->request(c.master, caf::infinite, req);
  c.drain();
  bool ok = false;
  rh.receive([&](const roles_msg&) { ok = true; }, [&](caf::error&) {});
  REQUIRE(ok);
  auto g = std::make_shared<tally>();
  auto b = std::make_shared<tally>();
  scheduler_options so;
  so.master = c.master;
  so.roles = {"gold"};
  c.spawn<greedy_scheduler>(so, "g", *resources::parse("cpus:1;mem:1024"), g);
  so.roles = {"bronze"};
  c.spawn<greedy_scheduler>(so, "b", *resources::parse("cpus:1;mem:1024"), b);
  for (int i = 0; i < 60; ++i)
    c.advance(1s);
  CHECK(g->running == 20);
  CHECK(b->running == 10);
}

TEST_CASE("offers not answered within offer_timeout are rescinded and re-offered") {
  master_options mo;
  mo.offer_timeout = 10s;
  cluster c{1, "cpus:2;mem:512", hold_factory(), 42, mo};
  auto t = std::make_shared<tally>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<greedy_scheduler>(so, "x", *resources::parse("cpus:1;mem:64"), t, true);
  c.advance(1s);
  CHECK(t->offers == 1);
  CHECK(t->rescinded.empty());
  c.advance(10s);
  CHECK(t->rescinded.size() == 1);
  c.advance(1s);
  CHECK(t->offers == 2);
}

}
