// Mesos' v1 Scheduler HTTP API from a framework in another language (issue
// 18): tests/process/v1_scenarios.py (Python's standard library) against a
// real master and agent: subscribe, offers, command tasks with their exit
// status, decline with a filter and revive, kill, explicit and implicit
// reconciliation, failover by re-subscribing, teardown, bad calls. And the
// README's example beside the hadoop-like framework on one cluster (DRF).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

struct v1_cluster {
  temp_dir dir;
  std::string master_ep;
  std::unique_ptr<child> master, agent;
  std::string http;

  v1_cluster() {
    auto mport = free_port();
    master_ep = "127.0.0.1:" + std::to_string(mport);
    master = std::make_unique<child>(std::vector<std::string>{
      bin("caldera-master"), "--port", std::to_string(mport), "--http-port", "0",
      "--work-dir", dir.path + "/m", "--allocation-interval", "100ms",
      "--role-weights", "hadoop=1,v1=1"});
    http = logged_endpoint(*master, "http_listening");
    agent = std::make_unique<child>(std::vector<std::string>{
      bin("caldera-agent"), "--master", master_ep, "--port", std::to_string(free_port()),
      "--http-port", "0", "--work-dir", dir.path + "/a", "--resources", "cpus:4;mem:2048"});
    REQUIRE_MESSAGE(agent->wait_for("agent_registered", 60s), agent->output());
  }
};

} // namespace

TEST_SUITE("process") {

TEST_CASE("v1 scheduler API: a Python framework subscribes, launches, kills, reconciles, "
          "fails over and tears down") {
  v1_cluster c;
  child py{{"/usr/bin/python3", source("tests/process/v1_scenarios.py"), "--master", c.http,
            "--executor", source("examples/v1-framework/v1_executor.py")}};
  auto rc = py.wait_exit(300s);
  CHECK_MESSAGE(rc == 0, py.output() << "\n--- master\n" << c.master->output());
  for (auto s : {"command_tasks", "decline_filter", "kill_and_reconcile", "failover", "bad_calls",
                 "custom_executor", "operator_updates"})
    CHECK_MESSAGE(py.output().find(std::string{"PASS "} + s) != std::string::npos, s);
}

TEST_CASE("v1 executor API: a Python executor keeps its task across an agent restart and "
          "re-subscribes") {
  temp_dir dir;
  auto mport = free_port();
  child master{{bin("caldera-master"), "--port", std::to_string(mport), "--http-port", "0",
                "--work-dir", dir.path + "/m", "--allocation-interval", "100ms"}};
  auto http = logged_endpoint(master, "http_listening");
  // The scenario starts the agent itself, stops it (SIGTERM, tasks kept) and
  // starts it again on the same work dir.
  auto agent = nlohmann::json::array(
    {bin("caldera-agent"), "--master", "127.0.0.1:" + std::to_string(mport), "--port",
     std::to_string(free_port()), "--http-port", std::to_string(free_port()), "--work-dir",
     dir.path + "/a", "--resources", "cpus:2;mem:1024", "--stop-keeps-tasks"});
  child py{{"/usr/bin/python3", source("tests/process/v1_scenarios.py"), "--master", http,
            "--executor", source("examples/v1-framework/v1_executor.py"), "--agent-argv",
            agent.dump(), "agent_restart"}};
  CHECK_MESSAGE(py.wait_exit(300s) == 0, py.output() << "\n--- master\n" << master.output());
  CHECK(py.output().find("PASS agent_restart") != std::string::npos);
}

TEST_CASE("v1 scheduler API: the README's Python example beside hadoop-like under DRF; the "
          "operator API's stream shows both") {
  v1_cluster c;
  auto input = c.dir.path + "/in";
  std::filesystem::create_directories(input);
  for (int f = 0; f < 3; ++f) {
    std::ofstream out{input + "/part" + std::to_string(f) + ".txt"};
    for (int line = 0; line < 2000; ++line)
      out << "the quick brown fox " << (line % 97) << " jumps over lazy dog " << f << "\n";
  }
  // The operator API's stream shows both frameworks' tasks.
  child watch{{"/usr/bin/python3", source("tests/process/v1_scenarios.py"), "--master", c.http,
               "operator_watch"}};
  REQUIRE_MESSAGE(watch.wait_for("WATCHING", 30s), watch.output());
  child job{{bin("hadoop-like"), "--master", c.master_ep, "--role", "hadoop", "--input", input,
             "--output", c.dir.path + "/out", "--reducers", "2", "--split-size", "16384",
             "--locality-wait", "0s"}};
  child py{{"/usr/bin/python3", source("examples/v1-framework/v1_framework.py"), "--master",
            c.http, "--tasks", "6", "--role", "v1"}};
  CHECK_MESSAGE(py.wait_exit(180s) == 0, py.output());
  CHECK(py.output().find("all finished") != std::string::npos);
  CHECK_MESSAGE(job.wait_exit(180s) == 0, job.output());
  CHECK_MESSAGE(watch.wait_exit(60s) == 0, watch.output());
}

} // TEST_SUITE
