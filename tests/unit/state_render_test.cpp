#include <doctest/doctest.h>

#include <capnp/message.h>
#include <nlohmann/json.hpp>

#include "actors/json_writer.hpp"
#include "master/state_render.hpp"
#include "master/v1_operator.hpp"

using namespace caldera;
using json = nlohmann::json;

TEST_CASE("json_writer: structure, escapes, numbers and bytes that are not UTF-8") {
  std::string out;
  json_writer w{out};
  w.begin_object();
  w.field("s", std::string{"a\"b\\c\n\t\x01"});
  w.field("utf8", "caf\xC3\xA9");
  w.field("bad", std::string{"x\xFFy\xC3"});
  w.field("d", 0.1);
  w.field("i", int64_t{-3});
  w.field("u", uint64_t{18446744073709551615ull});
  w.field("inf", 1.0 / 0.0);
  w.field("t", true);
  w.key("a").begin_array().value(1).begin_object().end_object().begin_array().end_array().null();
  w.end_array();
  w.key("raw").raw("{\"k\":[1,2]}");
  w.end_object();
  auto j = json::parse(out); // throws if the text is not JSON
  CHECK(j["s"] == "a\"b\\c\n\t\x01");
  CHECK(j["utf8"] == "caf\xC3\xA9");
  CHECK(j["bad"] == "x\xEF\xBF\xBDy\xEF\xBF\xBD");
  CHECK(j["d"].get<double>() == 0.1);
  CHECK(j["i"] == -3);
  CHECK(j["u"] == 18446744073709551615ull);
  CHECK(j["inf"].is_null());
  CHECK(j["t"] == true);
  CHECK(j["a"] == json::parse("[1,{},[],null]"));
  CHECK(j["raw"]["k"][1] == 2);
}

namespace {

// A snapshot with one agent, one framework and `n` tasks; task 0 has
// `extra` more statuses (FINISHED) when `finished`.
std::shared_ptr<published_state> snapshot(int n, bool finished) {
  capnp::MallocMessageBuilder mb;
  auto st = mb.initRoot<schema::State>();
  st.setMasterId("m1");
  auto agents = st.initAgents(1);
  agents[0].setId("a1");
  agents[0].setHostname("h\"1");
  agents[0].setActive(true);
  auto r = *resources::parse("cpus:4;mem:1024;ports:[31000-32000];cpus(ml):1");
  r.to_capnp(agents[0].initResources(static_cast<unsigned>(r.entry_count())));
  auto fws = st.initFrameworks(1);
  fws[0].setId("f1");
  fws[0].setName("fw");
  fws[0].initRoles(1).set(0, "ml");
  fws[0].setActive(true);
  auto tasks = st.initTasks(static_cast<unsigned>(n));
  for (int i = 0; i < n; ++i) {
    auto t = tasks[static_cast<unsigned>(i)];
    t.setId("t" + std::to_string(i));
    t.setFrameworkId("f1");
    t.setAgentId("a1");
    bool fin = finished && i == 0;
    t.setState(fin ? schema::TaskState::FINISHED : schema::TaskState::RUNNING);
    auto ss = t.initStatuses(fin ? 2 : 1);
    ss[0].setState(schema::TaskState::RUNNING);
    ss[0].setTimestamp(100.0 + i);
    if (fin) {
      ss[1].setState(schema::TaskState::FINISHED);
      ss[1].setTimestamp(200.0);
      ss[1].setMessage("done \xFF");
    }
  }
  auto p = std::make_shared<published_state>();
  p->state = state_msg{mb};
  return p;
}

} // namespace

TEST_CASE("state_renderer: text reused across snapshots equals a fresh render") {
  master_http_info info;
  info.hostname = "h";
  info.flags = {{"port", "5050"}};
  state_renderer cached{info};
  auto first = cached.render(*snapshot(3, false));
  auto j = json::parse(first);
  CHECK(j["slaves"].size() == 1);
  CHECK(j["slaves"][0]["hostname"] == "h\"1");
  CHECK(j["slaves"][0]["resources"]["cpus(ml)"] == 1.0);
  CHECK(j["slaves"][0]["resources"]["ports"] == "[31000-32000]");
  CHECK(j["slaves"][0]["unreserved_resources"].count("cpus(ml)") == 0);
  CHECK(j["frameworks"][0]["tasks"].size() == 3);
  CHECK(j["frameworks"][0]["completed_tasks"].empty());
  CHECK(j["flags"]["port"] == "5050");
  // Task 0 finishes and task 2 is gone: the cached render must show both.
  auto next = snapshot(2, true);
  auto again = cached.render(*next);
  CHECK(again == state_renderer{info}.render(*next));
  auto k = json::parse(again);
  REQUIRE(k["frameworks"][0]["completed_tasks"].size() == 1);
  CHECK(k["frameworks"][0]["completed_tasks"][0]["state"] == "TASK_FINISHED");
  CHECK(k["frameworks"][0]["completed_tasks"][0]["statuses"][1]["message"] == "done \xEF\xBF\xBD");
  CHECK(k["frameworks"][0]["tasks"].size() == 1);
}

TEST_CASE("state_renderer: completed frameworks and tasks are bounded as in Mesos") {
  master_http_info info;
  info.max_completed_tasks_per_framework = 2;
  capnp::MallocMessageBuilder mb;
  auto st = mb.initRoot<schema::State>();
  auto fws = st.initFrameworks(3);
  for (unsigned i = 0; i < 3; ++i) {
    fws[i].setId("f" + std::to_string(i));
    fws[i].setCompleted(i > 0);
  }
  info.max_completed_frameworks = 1;
  auto tasks = st.initTasks(5);
  for (unsigned i = 0; i < 5; ++i) {
    tasks[i].setId("t" + std::to_string(i));
    tasks[i].setFrameworkId("f0");
    tasks[i].setState(schema::TaskState::FINISHED);
    tasks[i].initStatuses(1)[0].setTimestamp(i);
  }
  published_state p;
  p.state = state_msg{mb};
  auto j = json::parse(state_renderer{info}.render(p));
  REQUIRE(j["frameworks"].size() == 1);
  auto done = j["frameworks"][0]["completed_tasks"];
  REQUIRE(done.size() == 2);
  CHECK(done[0]["id"] == "t3"); // the newest
  CHECK(done[1]["id"] == "t4");
  REQUIRE(j["completed_frameworks"].size() == 1);
  CHECK(j["completed_frameworks"][0]["id"] == "f2");
}

TEST_CASE("state_renderer: a framework's charged executors, with their resources") {
  master_http_info info;
  capnp::MallocMessageBuilder mb;
  auto st = mb.initRoot<schema::State>();
  auto fws = st.initFrameworks(2);
  fws[0].setId("f0");
  fws[1].setId("f1");
  auto es = st.initExecutors(1);
  es[0].setFrameworkId("f1");
  es[0].setAgentId("S1");
  es[0].setExecutorId("tracker");
  es[0].setRole("r");
  auto r = *resources::parse("cpus:0.5;mem:32");
  r.to_capnp(es[0].initResources(static_cast<unsigned>(r.entry_count())));
  published_state p;
  p.state = state_msg{mb};
  auto j = json::parse(state_renderer{info}.render(p));
  REQUIRE(j["frameworks"].size() == 2);
  CHECK(j["frameworks"][0]["executors"].empty());
  auto e = j["frameworks"][1]["executors"];
  REQUIRE(e.size() == 1);
  CHECK(e[0]["executor_id"] == "tracker");
  CHECK(e[0]["slave_id"] == "S1");
  CHECK(e[0]["role"] == "r");
  CHECK(e[0]["resources"]["cpus"] == 0.5);
  CHECK(e[0]["resources"]["mem"] == 32);
}

#include "master/master_state.hpp"

TEST_CASE("master_state: completed tasks are bounded per framework, and dropped with old "
          "completed frameworks") {
  master_state st;
  st.max_completed_tasks_per_framework = 2;
  st.max_completed_frameworks = 1;
  auto run_and_finish = [&](const std::string& fid, const std::string& tid) {
    task_entry t;
    t.id = tid;
    t.framework_id = fid;
    st.tasks[{fid, tid}] = t;
    st.complete_task({fid, tid});
  };
  for (auto tid : {"a", "b", "c"})
    run_and_finish("f1", tid);
  run_and_finish("f2", "x");
  CHECK(st.completed_task_count() == 3); // f1 keeps its newest two, f2 its one
  CHECK(st.find_task("f1", "a") == nullptr);
  CHECK(st.find_task("f1", "c") != nullptr);
  CHECK(st.find_task("f2", "x") != nullptr);
  st.framework_completed("f1");
  CHECK(st.completed_task_count() == 3);
  st.framework_completed("f2"); // f1 is now beyond the bound
  CHECK(st.find_task("f1", "c") == nullptr);
  CHECK(st.find_task("f2", "x") != nullptr);
}

TEST_CASE("master_state: offers are indexed by agent and framework and counted in both") {
  master_state st;
  auto res = *resources::parse("cpus:1;mem:64");
  st.add_offer(offer_entry{"o1", "f1", "a1", "*", res});
  st.add_offer(offer_entry{"o2", "f2", "a1", "*", res});
  st.add_offer(offer_entry{"o3", "f1", "a2", "*", res});
  CHECK(st.offers_on("a1") == std::vector<std::string>{"o1", "o2"});
  CHECK(st.offers_to("f1") == std::vector<std::string>{"o1", "o3"});
  CHECK(st.agents["a1"].offered == res + res);
  CHECK(st.frameworks["f1"].offered == res + res);
  auto o = st.take_offer("o1");
  REQUIRE(o);
  CHECK(o->agent_id == "a1");
  CHECK_FALSE(st.take_offer("o1")); // taken once
  CHECK(st.offers_on("a1") == std::vector<std::string>{"o2"});
  CHECK(st.offers_to("f1") == std::vector<std::string>{"o3"});
  CHECK(st.agents["a1"].offered == res);
  CHECK(st.frameworks["f1"].offered == res);
  st.take_offer("o3");
  CHECK(st.offers_on("a2").empty());
  CHECK(st.offers_by_agent.count("a2") == 0); // no empty index entries left
  CHECK(st.offers.size() == 1);
}

TEST_CASE("master_state: an accept's offers must be outstanding, the framework's, of one agent "
          "and one role") {
  master_state st;
  auto offer = [&](const std::string& id, const std::string& fid, const std::string& aid,
                   const std::string& role) {
    st.add_offer(offer_entry{id, fid, aid, role, *resources::parse("cpus:1;mem:64")});
  };
  offer("o1", "f1", "a1", "*");
  offer("o2", "f1", "a1", "*");
  offer("o3", "f1", "a2", "*");
  offer("o4", "f1", "a1", "eng");
  offer("o5", "f2", "a1", "*");
  auto ok = st.check_offers("f1", {"o1", "o2"});
  CHECK(ok.problem.empty());
  CHECK(ok.agent_id == "a1");
  CHECK(ok.available == *resources::parse("cpus:2;mem:128"));
  CHECK(st.check_offers("f1", {"o1", "o3"}).problem.find("different agents") != std::string::npos);
  CHECK(st.check_offers("f1", {"o1", "o4"}).problem.find("different roles") != std::string::npos);
  CHECK(st.check_offers("f1", {"o5"}).problem.find("'o5' is unknown") != std::string::npos);
  CHECK(st.check_offers("f1", {"gone"}).problem.find("no longer valid") != std::string::npos);
  CHECK(st.check_offers("f1", {}).problem == "accept names no offers");
}

TEST_CASE("master_state: what a status update does to a task") {
  master_state st;
  task_entry t;
  t.id = "t";
  t.framework_id = "f";
  st.tasks[{"f", "t"}] = t;
  auto status = [](schema::TaskState s) {
    status_info x;
    x.framework_id = "f";
    x.task_id = "t";
    x.state = s;
    return x;
  };
  using S = schema::TaskState;
  CHECK(st.apply_status(status(S::RUNNING), false) == status_effect::recorded);
  CHECK(st.tasks[{"f", "t"}].state == S::RUNNING);
  CHECK(st.apply_status(status(S::FINISHED), false) == status_effect::finished);
  st.complete_task({"f", "t"});
  // Again the same final state (a retry): passed on; another one: never.
  CHECK(st.apply_status(status(S::FINISHED), false) == status_effect::passed_on);
  CHECK(st.apply_status(status(S::FAILED), false) == status_effect::superseded);
  // Told TASK_LOST (a task without a record here): only TASK_LOST may follow.
  auto v = status(S::FINISHED);
  v.task_id = "v";
  CHECK(st.apply_status(v, true) == status_effect::superseded);
  v.state = S::LOST;
  CHECK(st.apply_status(v, true) == status_effect::passed_on);
  // A task that was unreachable gets its final state late.
  task_entry u;
  u.id = "u";
  u.framework_id = "f";
  st.tasks[{"f", "u"}] = u;
  st.apply_status([&] { auto x = status(S::UNREACHABLE); x.task_id = "u"; return x; }(), false);
  st.complete_task({"f", "u"});
  auto fin = status(S::FINISHED);
  fin.task_id = "u";
  CHECK(st.apply_status(fin, false) == status_effect::late_final);
  CHECK(st.find_task("f", "u")->state == S::FINISHED);
}

TEST_CASE("v1 operator events read a snapshot bigger than a peer's message may make a reader walk") {
  // bench-state found it: at 10,000 agents / 100,000 tasks the SUBSCRIBE
  // hub read the master's own snapshots with the limits for a peer's bytes
  // (8 Mi words), threw on the snapshot box's thread and ended the master.
  capnp::MallocMessageBuilder mb;
  auto st = mb.initRoot<schema::State>();
  auto t = st.initTasks(1)[0];
  t.setId("t0");
  t.setFrameworkId("f1");
  t.setAgentId("a1");
  t.setState(schema::TaskState::RUNNING);
  auto ss = t.initStatuses(1);
  ss[0].setState(schema::TaskState::RUNNING);
  std::string big(68'000'000, 'x'); // 8.5 Mi words: over the peer limit
  ss[0].setMessage(big);
  published_state p;
  p.state = state_msg{mb};
  std::vector<json> events;
  CHECK_NOTHROW(events = v1op::events_between(nullptr, p));
  size_t added = 0;
  for (auto& e : events)
    added += e["type"] == "TASK_ADDED" ? 1 : 0;
  CHECK(added == 1);
}
