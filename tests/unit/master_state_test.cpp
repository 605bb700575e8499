// master_state (master/master_state.hpp): its index of active tasks by agent
// (kept by add_task and complete_task, so an agent's registration looks only
// at its own tasks), and executors' own resources in launches and charges.
#include <doctest/doctest.h>

#include "actors/message.hpp"
#include "master/master_state.hpp"

using namespace caldera;

namespace {

task_entry task(const std::string& fid, const std::string& id, const std::string& agent) {
  task_entry t;
  t.framework_id = fid;
  t.id = id;
  t.agent_id = agent;
  return t;
}

resources res(const char* text) {
  return *resources::parse(text);
}

// One launch of tasks `ids` for executor `eid` (with its own resources `er`).
capnp::MallocMessageBuilder& launch_of(capnp::MallocMessageBuilder& mb,
                                       const std::vector<std::string>& ids,
                                       const std::string& eid, const char* er) {
  auto l = mb.initRoot<schema::Operation>().initLaunch(static_cast<unsigned>(ids.size()));
  for (unsigned i = 0; i < ids.size(); ++i) {
    l[i].setTaskId(ids[i]);
    auto r = res("cpus:1;mem:100");
    r.to_capnp(l[i].initResources(static_cast<unsigned>(r.entry_count())));
    auto ex = l[i].initExecutor();
    ex.setExecutorId(eid);
    ex.initCommand().setShell("run-executor");
    auto e = res(er);
    e.to_capnp(ex.initResources(static_cast<unsigned>(e.entry_count())));
  }
  return mb;
}

} // namespace

TEST_SUITE("unit") {

TEST_CASE("master state: an executor's own resources are taken once, from the launch that "
          "starts it") {
  master_state st;
  capnp::MallocMessageBuilder mb;
  auto ops = launch_of(mb, {"t1", "t2"}, "E", "cpus:0.5;mem:50").getRoot<schema::Operation>();
  auto plan = st.validate_launch("f", "S1", ops.getLaunch().asReader(), res("cpus:4;mem:1000"));
  REQUIRE(plan.errors.empty());
  REQUIRE(plan.ok.size() == 2);
  CHECK(plan.ok[0].starts_executor == res("cpus:0.5;mem:50"));
  CHECK(plan.ok[1].starts_executor.empty());
  // Not enough for task and executor: refused, saying so.
  plan = st.validate_launch("f", "S1", ops.getLaunch().asReader(), res("cpus:1.2;mem:1000"));
  REQUIRE(plan.ok.empty());
  CHECK(plan.errors[0].second.find("with its executor's cpus:0.5;mem:50") != std::string::npos);
  // The executor charged on the agent: its tasks need their own resources only,
  // and one that asks for other executor resources is refused.
  st.executor_charges["S1"][{"f", "E"}] = executor_charge{res("cpus:0.5;mem:50"), "*"};
  plan = st.validate_launch("f", "S1", ops.getLaunch().asReader(), res("cpus:2;mem:200"));
  CHECK(plan.errors.empty());
  CHECK(plan.ok.size() == 2);
  capnp::MallocMessageBuilder other;
  auto ops2 = launch_of(other, {"t3"}, "E", "cpus:1;mem:50").getRoot<schema::Operation>();
  plan = st.validate_launch("f", "S1", ops2.getLaunch().asReader(), res("cpus:4;mem:1000"));
  REQUIRE(plan.errors.size() == 1);
  CHECK(plan.errors[0].second.find("runs with resources") != std::string::npos);
}

TEST_CASE("master state: executors are wanted while they have active tasks") {
  master_state st;
  auto t1 = task("f", "t1", "S1");
  t1.executor_id = "E";
  t1.role = "r";
  t1.executor_res = res("cpus:0.5");
  auto t2 = t1;
  t2.id = "t2";
  auto cmd = task("f", "c", "S1"); // a command task: no executor resources
  st.add_task({"f", "t1"}, std::move(t1));
  st.add_task({"f", "t2"}, std::move(t2));
  st.add_task({"f", "c"}, std::move(cmd));
  auto w = st.wanted_executor_charges("S1");
  REQUIRE(w.size() == 1);
  CHECK(w.begin()->first == std::pair<std::string, std::string>{"f", "E"});
  CHECK(w.begin()->second == executor_charge{res("cpus:0.5"), "r"});
  st.complete_task({"f", "t1"});
  CHECK(st.wanted_executor_charges("S1").size() == 1);
  st.complete_task({"f", "t2"});
  CHECK(st.wanted_executor_charges("S1").empty());
  CHECK(st.wanted_executor_charges("S2").empty());
}

TEST_CASE("master state: tasks by agent follow adds and completions") {
  master_state st;
  st.add_task({"f", "t1"}, task("f", "t1", "S1"));
  st.add_task({"f", "t2"}, task("f", "t2", "S1"));
  st.add_task({"g", "t1"}, task("g", "t1", "S2"));
  // An existing key is kept, as map::emplace keeps it (and its agent).
  st.add_task({"f", "t1"}, task("f", "t1", "S9"));
  CHECK(st.tasks.at({"f", "t1"}).agent_id == "S1");
  CHECK(st.tasks_on("S1").size() == 2);
  CHECK(st.tasks_on("S2").size() == 1);
  CHECK(st.tasks_on("S9").empty());
  st.complete_task({"f", "t1"});
  REQUIRE(st.tasks_on("S1").size() == 1);
  CHECK(st.tasks_on("S1")[0] == std::pair<std::string, std::string>{"f", "t2"});
  st.complete_task({"f", "t2"});
  st.complete_task({"f", "t2"}); // twice: nothing more
  CHECK(st.tasks_on("S1").empty());
  CHECK(st.tasks_by_agent.count("S1") == 0);
  CHECK(st.completed_tasks["f"].size() == 2);
}

} // TEST_SUITE
