#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A master and two agents as real processes on loopback, started the way the
// README does it (config files plus command-line overrides).
struct local_cluster {
  temp_dir dir;
  uint16_t master_port = free_port();
  std::string master_ep = "127.0.0.1:" + std::to_string(master_port);
  std::unique_ptr<child> master;
  std::vector<std::unique_ptr<child>> agents;
  std::vector<uint16_t> agent_ports;
  std::vector<std::string> agent_extra; // more options for every agent

  explicit local_cluster(int n_agents, std::vector<std::string> extra = {})
    : agent_extra(std::move(extra)) {
    master = std::make_unique<child>(std::vector<std::string>{
      bin("caldera-master"), "--config", source("conf/master.conf"), "--port",
      std::to_string(master_port), "--work-dir", dir.path + "/master"});
    REQUIRE_MESSAGE(master->wait_for("master_listening"), master->output());
    for (int i = 0; i < n_agents; ++i) {
      agent_ports.push_back(free_port());
      agents.push_back(start_agent(static_cast<size_t>(i)));
      REQUIRE_MESSAGE(agents.back()->wait_for("agent_registered"), agents.back()->output());
    }
  }

  /// Agent `i` on its port and work dir (a restart recovers from both).
  std::unique_ptr<child> start_agent(size_t i) {
    std::vector<std::string> argv{
      bin("caldera-agent"), "--config", source("conf/agent.conf"), "--master", master_ep,
      "--port", std::to_string(agent_ports.at(i)), "--work-dir", agent_dir(i),
      "--resources", "cpus:2;mem:512"};
    argv.insert(argv.end(), agent_extra.begin(), agent_extra.end());
    return std::make_unique<child>(argv);
  }
  std::string agent_dir(size_t i) const {
    return dir.path + "/a" + std::to_string(i);
  }

  /// The master's view, as `caldera state --json` prints it.
  nlohmann::json state() {
    child st{{bin("caldera"), "state", "--master", master_ep, "--json"}};
    REQUIRE(st.wait_exit(30s) == 0);
    return nlohmann::json::parse(st.output());
  }

  ~local_cluster() {
    for (auto& a : agents) {
      a->signal(SIGTERM);
      CHECK_MESSAGE(a->wait_exit(20s) == 0, a->output());
    }
    master->signal(SIGTERM);
    CHECK_MESSAGE(master->wait_exit(20s) == 0, master->output());
  }

  std::unique_ptr<child> run(std::vector<std::string> cmd, const char* res = "cpus:0.5;mem:64") {
    std::vector<std::string> argv{bin("caldera"), "run", "--master", master_ep,
                                  "--resources", res, "--offer-timeout", "30", "--"};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return std::make_unique<child>(argv);
  }
};

} // namespace

TEST_SUITE("process") {

TEST_CASE("caldera run on a master and two agent processes: exit codes, kill, state") {
  local_cluster c{2};

  auto failing = c.run({"sh", "-c", "echo hi; exit 3"});
  CHECK(failing->wait_exit(60s) == 3);
  INFO(failing->output());
  CHECK(failing->output().find("TASK_STAGING") != std::string::npos);
  CHECK(failing->output().find("TASK_RUNNING") != std::string::npos);
  CHECK(failing->output().find("TASK_FAILED") != std::string::npos);
  CHECK(failing->output().find("exited with status 3") != std::string::npos);

  auto ok = c.run({"true"});
  CHECK(ok->wait_exit(60s) == 0);
  CHECK(ok->output().find("TASK_FINISHED") != std::string::npos);

  auto sleeper = c.run({"sleep", "300"});
  REQUIRE_MESSAGE(sleeper->wait_for("TASK_RUNNING", 60s), sleeper->output());
  sleeper->signal(SIGTERM);
  CHECK(sleeper->wait_exit(60s) == 137);
  CHECK(sleeper->output().find("TASK_KILLED") != std::string::npos);

  // The command's output is in its sandbox.
  bool found_hi = false;
  for (int i = 0; i < 2; ++i) {
    auto root = c.dir.path + "/a" + std::to_string(i) + "/sandboxes";
    if (!std::filesystem::exists(root))
      continue;
    for (auto& e : std::filesystem::recursive_directory_iterator(root))
      if (e.path().filename() == "stdout" && slurp(e.path().string()) == "hi\n")
        found_hi = true;
  }
  CHECK(found_hi);

  child state{{bin("caldera"), "state", "--master", c.master_ep, "--json"}};
  REQUIRE(state.wait_exit(30s) == 0);
  auto j = nlohmann::json::parse(state.output());
  CHECK(j["agents"].size() == 2);
  CHECK(j["frameworks"].size() == 3);
  REQUIRE(j["tasks"].size() == 3);
  std::multiset<std::string> states;
  for (auto& t : j["tasks"])
    states.insert(t["state"].get<std::string>());
  CHECK(states == std::multiset<std::string>{"TASK_FAILED", "TASK_FINISHED", "TASK_KILLED"});
  for (auto& a : j["agents"])
    CHECK(a["used_resources"].empty());

  child table{{bin("caldera"), "state", "--master", c.master_ep}};
  REQUIRE(table.wait_exit(30s) == 0);
  CHECK(table.output().find("AGENTS") != std::string::npos);
  CHECK(table.output().find("TASK_KILLED") != std::string::npos);

  // A command task knows its ids and sandbox, as Mesos' MESOS_TASK_ID etc.
  child env{{bin("caldera"), "run", "--master", c.master_ep, "--resources", "cpus:0.5;mem:64",
             "--task-id", "env-task", "--", "sh", "-c",
             "test \"$CALDERA_TASK_ID\" = env-task && test -n \"$CALDERA_FRAMEWORK_ID\" "
             "&& test \"$PWD\" = \"$CALDERA_SANDBOX_DIRECTORY\""}};
  CHECK_MESSAGE(env.wait_exit(60s) == 0, env.output());
}

TEST_CASE("caldera run reports an unreachable master and a bad command line") {
  child unreachable{{bin("caldera"), "run", "--master",
                     "127.0.0.1:" + std::to_string(free_port()), "--", "true"}};
  CHECK(unreachable.wait_exit(30s) == 1);
  CHECK(unreachable.output().find("cannot reach the master") != std::string::npos);
  child bad{{bin("caldera"), "run", "--resources", "cpus:abc", "--", "true"}};
  CHECK(bad.wait_exit(30s) == 2);
  CHECK(bad.output().find("not a number") != std::string::npos);
}

TEST_CASE("the master keeps its registry across a restart") {
  temp_dir dir;
  auto port = free_port();
  std::vector<std::string> argv{bin("caldera-master"), "--port", std::to_string(port),
                                "--work-dir", dir.path + "/m"};
  {
    child m{argv};
    REQUIRE(m.wait_for("master_listening"));
    child a{{bin("caldera-agent"), "--master", "127.0.0.1:" + std::to_string(port),
             "--port", std::to_string(free_port()), "--work-dir", dir.path + "/a",
             "--resources", "cpus:1;mem:128"}};
    REQUIRE(a.wait_for("agent_registered"));
    a.signal(SIGTERM);
    CHECK(a.wait_exit(20s) == 0);
    m.signal(SIGTERM);
    CHECK(m.wait_exit(20s) == 0);
  }
  argv.push_back("--agent-reregister-timeout");
  argv.push_back("200ms");
  child m{argv};
  REQUIRE(m.wait_for("master_listening"));
  // Logged by the master actor, which may start after the listening line.
  CHECK_MESSAGE(m.wait_for("recovered_agents=1", 30s), m.output());
  // The agent does not come back: shown inactive, then unreachable.
  REQUIRE_MESSAGE(m.wait_for("agent_reregister_timeout", 30s), m.output());
  child state{{bin("caldera"), "state", "--master", "127.0.0.1:" + std::to_string(port),
               "--json"}};
  REQUIRE(state.wait_exit(30s) == 0);
  auto j = nlohmann::json::parse(state.output());
  REQUIRE(j["agents"].size() == 1);
  CHECK(j["agents"][0]["active"] == false);
  CHECK(j["agents"][0]["unreachable"] == true);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

}

TEST_SUITE("process") {

TEST_CASE("weights and quotas set with the CLI survive a master restart") {
  temp_dir dir;
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  std::vector<std::string> argv{bin("caldera-master"), "--port", std::to_string(port),
                                "--work-dir", dir.path + "/m"};
  {
    child m{argv};
    REQUIRE(m.wait_for("master_listening"));
    child w{{bin("caldera"), "weights", "set", "--master", ep, "eng=2", "ops=0.5"}};
    CHECK(w.wait_exit(30s) == 0);
    child q{{bin("caldera"), "quota", "set", "--master", ep, "eng", "cpus:4;mem:8192",
             "--limit", "cpus:8;mem:16384"}};
    CHECK(q.wait_exit(30s) == 0);
    child bad_role{{bin("caldera"), "weights", "set", "--master", ep, "no role=2"}};
    CHECK(bad_role.wait_exit(30s) == 1);
    CHECK(bad_role.output().find("invalid role") != std::string::npos);
    child bad_quota{{bin("caldera"), "quota", "set", "--master", ep, "eng", "cpus:9",
                     "--limit", "cpus:8"}};
    CHECK(bad_quota.wait_exit(30s) == 1);
    CHECK(bad_quota.output().find("exceeds its limit") != std::string::npos);
    child no_quota{{bin("caldera"), "quota", "remove", "--master", ep, "ops"}};
    CHECK(no_quota.wait_exit(30s) == 1);
    CHECK(no_quota.output().find("has no quota to remove") != std::string::npos);
    m.signal(SIGTERM);
    CHECK(m.wait_exit(20s) == 0);
  }
  child m{argv};
  REQUIRE(m.wait_for("master_listening"));
  child get{{bin("caldera"), "quota", "get", "--master", ep, "--json"}};
  REQUIRE(get.wait_exit(30s) == 0);
  auto j = nlohmann::json::parse(get.output());
  std::map<std::string, nlohmann::json> roles;
  for (auto& r : j["roles"])
    roles[r["name"].get<std::string>()] = r;
  REQUIRE(roles.count("eng") == 1);
  CHECK(roles["eng"]["weight"].get<double>() == 2.0);
  CHECK(roles["eng"]["quota"]["guarantee"] == "cpus:4;mem:8192");
  CHECK(roles["eng"]["quota"]["limit"] == "cpus:8;mem:16384");
  CHECK(roles["ops"]["weight"].get<double>() == 0.5);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

}

TEST_SUITE("process") {

TEST_CASE("caldera actors and kill-actor inject faults into a running cluster") {
  local_cluster c{1};
  auto agent_ep = [&] {
    auto out = c.agents[0]->output();
    auto at = out.find("agent_listening endpoint=\"");
    REQUIRE(at != std::string::npos);
    at += std::string{"agent_listening endpoint=\""}.size();
    return out.substr(at, out.find('"', at) - at);
  }();
  child garbage{{bin("caldera"), "actors", "--node", "garbage"}};
  CHECK(garbage.wait_exit(30s) == 2);
  CHECK(garbage.output().find("--node") != std::string::npos);
  CHECK(garbage.output().find("--master") == std::string::npos);
  child list{{bin("caldera"), "actors", "--node", c.master_ep, "--json"}};
  REQUIRE(list.wait_exit(30s) == 0);
  auto j = nlohmann::json::parse(list.output());
  CHECK(j["actors"] == nlohmann::json::array({"allocator", "master", "registrar"}));

  auto sleeper = c.run({"sleep", "300"});
  REQUIRE_MESSAGE(sleeper->wait_for("TASK_RUNNING", 60s), sleeper->output());

  // The allocator actor killed: the master makes a new one from its books;
  // the running task stays charged and new tasks get offers.
  child kill_alloc{{bin("caldera"), "kill-actor", "--node", c.master_ep, "allocator"}};
  CHECK(kill_alloc.wait_exit(30s) == 0);
  CHECK_MESSAGE(c.master->wait_for("allocator_died", 30s), c.master->output());
  auto after = c.run({"true"});
  CHECK_MESSAGE(after->wait_exit(60s) == 0, after->output());

  child wrong_kind{{bin("caldera"), "quota", "get", "--master", agent_ep}};
  CHECK(wrong_kind.wait_exit(30s) == 1);
  CHECK_MESSAGE(wrong_kind.output().find("does not understand") != std::string::npos,
                wrong_kind.output());

  child unknown{{bin("caldera"), "kill-actor", "--node", agent_ep, "no-such-actor"}};
  CHECK(unknown.wait_exit(30s) == 1);
  CHECK(unknown.output().find("no actor named 'no-such-actor'") != std::string::npos);

  child kill{{bin("caldera"), "kill-actor", "--node", agent_ep, "agent"}};
  CHECK(kill.wait_exit(30s) == 0);
  // The agent process ends, saying why; the task's process runs on.
  CHECK_MESSAGE(c.agents[0]->wait_for("agent_actor_died", 30s), c.agents[0]->output());
  CHECK(c.agents[0]->wait_exit(30s) == 3);
  // A new agent on the same work dir and port recovers it.
  c.agents[0] = c.start_agent(0);
  REQUIRE_MESSAGE(c.agents[0]->wait_for("executor_recovered", 30s), c.agents[0]->output());
  REQUIRE_MESSAGE(c.agents[0]->wait_for("agent_reregistered", 30s), c.agents[0]->output());
  auto js = c.state();
  size_t running = 0; // the sleeper (the finished task may still be listed)
  for (auto& t : js["tasks"])
    running += t["state"] == "TASK_RUNNING";
  CHECK_MESSAGE(running == 1, js.dump());
  sleeper->signal(SIGTERM);
  CHECK(sleeper->wait_exit(60s) == 137);
  CHECK(sleeper->output().find("TASK_KILLED") != std::string::npos);
  CHECK(sleeper->output().find("TASK_LOST") == std::string::npos);
}

// A command task outlives a kill -9 of its agent (or, with
// --stop-keeps-tasks, a SIGTERM); restarted on its work dir, the agent takes
// it back (`recovered` names the log line that says so) and reports how it
// ends.
void task_survives_agent_restart(local_cluster& c, const char* recovered, int sig = SIGKILL) {
  auto go = c.dir.path + "/go";
  auto task = c.run({"sh", "-c", "while [ ! -e " + go + " ]; do sleep 0.05; done; exit 7"});
  REQUIRE_MESSAGE(task->wait_for("TASK_RUNNING", 60s), task->output());
  c.agents[0]->signal(sig);
  CHECK(c.agents[0]->wait_exit(20s) == (sig == SIGKILL ? 128 + SIGKILL : 0));
  if (sig != SIGKILL)
    CHECK(c.agents[0]->output().find("containers=\"kept\"") != std::string::npos);
  c.agents[0] = c.start_agent(0);
  REQUIRE_MESSAGE(c.agents[0]->wait_for(recovered, 30s), c.agents[0]->output());
  REQUIRE_MESSAGE(c.agents[0]->wait_for("agent_reregistered", 30s), c.agents[0]->output());
  std::ofstream{go} << "go\n";
  CHECK(task->wait_exit(60s) == 7);
  CHECK(task->output().find("TASK_FAILED") != std::string::npos);
  CHECK(task->output().find("status 7") != std::string::npos);
  CHECK(task->output().find("TASK_LOST") == std::string::npos);
}

TEST_CASE("kill -9 of an agent: restarted on its work dir, the task runs on and ends normally") {
  // The agent runs command tasks itself: the restarted one is no longer the
  // shell's parent and reads its exit code from the sandbox.
  local_cluster c{1};
  task_survives_agent_restart(c, "executor_recovered");
}

TEST_CASE("--stop-keeps-tasks: SIGTERM ends the agent alone; restarted, it takes the task back") {
  local_cluster c{1, {"--stop-keeps-tasks=true"}};
  task_survives_agent_restart(c, "executor_recovered", SIGTERM);
}

TEST_CASE("--command-executor process: a caldera-executor per task re-registers with the "
          "restarted agent and reports the task's end") {
  local_cluster c{1, {"--command-executor", "process"}};
  task_survives_agent_restart(c, "executor_reregistered");
}

TEST_CASE("an executor killed while its agent is down: the restarted agent fails its task") {
  local_cluster c{1};
  auto task = c.run({"sleep", "300"});
  REQUIRE_MESSAGE(task->wait_for("TASK_RUNNING", 60s), task->output());
  c.agents[0]->signal(SIGKILL);
  CHECK(c.agents[0]->wait_exit(20s) == 128 + SIGKILL);
  // The executor's session, as the agent recorded it.
  int killed = 0;
  for (auto& e : std::filesystem::directory_iterator(c.agent_dir(0) + "/containers")) {
    auto pid = std::stoi(e.path().filename().string());
    killed += ::kill(-pid, SIGKILL) == 0;
  }
  REQUIRE(killed == 1);
  c.agents[0] = c.start_agent(0);
  CHECK(task->wait_exit(60s) == 1);
  CHECK(task->output().find("TASK_FAILED") != std::string::npos);
  CHECK(task->output().find("while the agent was down") != std::string::npos);
  REQUIRE_MESSAGE(c.agents[0]->wait_for("agent_reregistered", 30s), c.agents[0]->output());
}

}

TEST_SUITE("process") {

TEST_CASE("kill -9 of the master: restarted on its work dir, it knows the running task again") {
  local_cluster c{1};
  auto sleeper = c.run({"sleep", "300"});
  REQUIRE_MESSAGE(sleeper->wait_for("TASK_RUNNING", 60s), sleeper->output());
  c.master->signal(SIGKILL);
  CHECK(c.master->wait_exit(20s) == 128 + SIGKILL);
  c.master = std::make_unique<child>(std::vector<std::string>{
    bin("caldera-master"), "--config", source("conf/master.conf"), "--port",
    std::to_string(c.master_port), "--work-dir", c.dir.path + "/master"});
  REQUIRE_MESSAGE(c.master->wait_for("master_listening"), c.master->output());
  // Logged by the master actor, which may start after the listening line.
  CHECK_MESSAGE(c.master->wait_for("recovered_agents=1", 30s), c.master->output());
  REQUIRE_MESSAGE(c.master->wait_for("tasks=1", 30s), c.master->output()); // agent_registered
  REQUIRE_MESSAGE(c.master->wait_for("framework_reregistered", 30s), c.master->output());
  child state{{bin("caldera"), "state", "--master", c.master_ep, "--json"}};
  REQUIRE(state.wait_exit(30s) == 0);
  auto j = nlohmann::json::parse(state.output());
  REQUIRE(j["tasks"].size() == 1);
  CHECK(j["tasks"][0]["state"] == "TASK_RUNNING");
  CHECK(j["agents"][0]["active"] == true);
  CHECK(j["agents"][0]["used_resources"]["cpus"] == 0.5);
  // The framework survived the master: it can still kill its task.
  sleeper->signal(SIGTERM);
  CHECK(sleeper->wait_exit(60s) == 137);
  CHECK(sleeper->output().find("TASK_KILLED") != std::string::npos);
}

}

TEST_SUITE("process") {

TEST_CASE("forty tasks run at once as processes and all finish (agent stays up)") {
  local_cluster c{2};
  std::vector<std::unique_ptr<child>> runs;
  for (int i = 0; i < 40; ++i)
    runs.push_back(c.run({"true"}, "cpus:0.1;mem:16"));
  int finished = 0;
  for (auto& r : runs) {
    int rc = r->wait_exit(120s);
    INFO(r->output());
    CHECK(rc == 0);
    finished += rc == 0;
  }
  CHECK(finished == 40);
  for (auto& a : c.agents)
    CHECK(a->output().find("terminate called") == std::string::npos);
}

}
