// master_state's index of active tasks by agent (master/master_state.hpp):
// kept by add_task and complete_task, so an agent's registration looks only
// at its own tasks.
#include <doctest/doctest.h>

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

} // namespace

TEST_SUITE("unit") {

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
