// Three hosts on one machine: the master and two agents each in a network
// namespace this test creates, joined by veth pairs to a bridge in the
// master's namespace (10.77.0.0/24, private addresses assigned here). The
// link of one agent is cut and restored; the master marks it unreachable,
// then knows its task again. Needs root (CAP_NET_ADMIN); elsewhere the test
// says so and does nothing.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "support/netns_util.hpp"
#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

std::string agent_ip(size_t i) {
  return "10.77.0." + std::to_string(2 + i);
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("hosts in network namespaces: a cut link makes an agent unreachable, restored it is reconciled") {
  temp_dir dir;
  // The master in the hub, on the bridge; each agent a host linked to it.
  netns_lab lab;
  lab.add_bridge("br0", "10.77.0.1/24");
  std::vector<std::string> agent_ns, links;
  for (size_t i = 0; i < 2; ++i) {
    agent_ns.push_back(lab.add_host("a" + std::to_string(i)));
    links.push_back(lab.attach(agent_ns[i], "eth0", agent_ip(i) + "/24", "br0"));
  }
  if (!lab.ok()) {
    MESSAGE("skipped: cannot create network namespaces here (needs root and iproute2)");
    return;
  }
  const std::string master_ep = "10.77.0.1:5050";
  auto netns = [](const std::string& ns, std::vector<std::string> argv) {
    return netns_lab::in(ns, std::move(argv));
  };
  child master{netns(lab.hub(),
                     {bin("caldera-master"), "--config", source("conf/master.conf"), "--ip",
                      "10.77.0.1", "--port", "5050", "--work-dir", dir.path + "/master",
                      "--agent-ping-timeout", "1s", "--max-agent-ping-timeouts", "3"})};
  REQUIRE_MESSAGE(master.wait_for("master_listening"), master.output());
  // Agent 1 alone is big enough for the task.
  std::vector<std::unique_ptr<child>> agents;
  for (size_t i = 0; i < 2; ++i) {
    agents.push_back(std::make_unique<child>(netns(
      agent_ns[i],
      {bin("caldera-agent"), "--config", source("conf/agent.conf"), "--master", master_ep,
       "--ip", agent_ip(i), "--port", "5051", "--hostname",
       "host" + std::to_string(i), "--work-dir", dir.path + "/a" + std::to_string(i),
       "--resources", i == 0 ? "cpus:1;mem:256" : "cpus:2;mem:512"})));
    REQUIRE_MESSAGE(agents[i]->wait_for("agent_registered"), agents[i]->output());
  }
  auto go = dir.path + "/go";
  child run{netns(lab.hub(),
                  {bin("caldera"), "run", "--master", master_ep, "--partition-aware",
                   "--resources", "cpus:1.5;mem:64", "--offer-timeout", "30", "--", "sh", "-c",
                   "while [ ! -e " + go + " ]; do sleep 0.05; done"})};
  REQUIRE_MESSAGE(run.wait_for("TASK_RUNNING", 60s), run.output());
  CHECK(run.output().find("host=host1") != std::string::npos);

  REQUIRE(lab.set_link(links[1], false));
  REQUIRE_MESSAGE(master.wait_for("agent_unreachable", 30s), master.output());
  REQUIRE_MESSAGE(run.wait_for("TASK_UNREACHABLE", 30s), run.output());
  auto state = [&] {
    child st{netns(lab.hub(), {bin("caldera"), "state", "--master", master_ep, "--json"})};
    REQUIRE(st.wait_exit(30s) == 0);
    return nlohmann::json::parse(st.output());
  };
  {
    auto j = state();
    REQUIRE(j["agents"].size() == 2);
    for (auto& a : j["agents"])
      CHECK(a["active"] == (a["hostname"] == "host0"));
  }

  REQUIRE(lab.set_link(links[1], true));
  // Queued packets flow again: the agent answers a health check, registers
  // again with its task, and the framework learns it runs.
  REQUIRE_MESSAGE(master.wait_for("agent_back", 60s), master.output());
  REQUIRE_MESSAGE(run.wait_for("REASON_AGENT_REREGISTERED", 30s), run.output());
  {
    auto j = state();
    for (auto& a : j["agents"])
      CHECK(a["active"] == true);
    REQUIRE(j["tasks"].size() >= 1);
    bool running = false;
    for (auto& t : j["tasks"])
      running = running || t["state"] == "TASK_RUNNING";
    CHECK(running);
  }
  std::ofstream{go} << "go\n";
  CHECK(run.wait_exit(60s) == 0);
  CHECK(run.output().find("TASK_FINISHED") != std::string::npos);
  for (auto& a : agents) {
    a->signal(SIGTERM);
    CHECK(a->wait_exit(20s) == 0);
  }
  master.signal(SIGTERM);
  CHECK(master.wait_exit(20s) == 0);
}

}
