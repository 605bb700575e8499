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

#include "tests/process/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

// The namespaces, bridge and veth pairs; all removed by the destructor
// (deleting a namespace deletes the interfaces in it).
struct netns_lab {
  std::string prefix = "cld" + std::to_string(getpid());
  std::string master_ns = prefix + "-m";
  std::vector<std::string> agent_ns;
  std::vector<std::string> links; // master-side end of each agent's veth
  bool ok = false;
  // `ip netns add` bind-mounts /run/netns on itself the first time; a test
  // that caused that mount removes it again.
  bool run_netns_was_mounted = sh("mountpoint -q /run/netns") == 0;

  explicit netns_lab(int n_agents) {
    if (sh("ip netns add " + master_ns) != 0)
      return;
    ok = sh(in(master_ns, "ip link set lo up")) == 0
         && sh(in(master_ns, "ip link add br0 type bridge")) == 0
         && sh(in(master_ns, "ip addr add 10.77.0.1/24 dev br0")) == 0
         && sh(in(master_ns, "ip link set br0 up")) == 0;
    for (int i = 0; ok && i < n_agents; ++i) {
      auto ns = prefix + "-a" + std::to_string(i);
      auto link = "c" + std::to_string(getpid()) + "v" + std::to_string(i);
      agent_ns.push_back(ns);
      links.push_back(link);
      ok = sh("ip netns add " + ns) == 0
           && sh("ip link add " + link + " netns " + master_ns
                 + " type veth peer name eth0 netns " + ns)
                == 0
           && sh(in(master_ns, "ip link set " + link + " master br0")) == 0
           && sh(in(master_ns, "ip link set " + link + " up")) == 0
           && sh(in(ns, "ip addr add " + agent_ip(static_cast<size_t>(i)) + "/24 dev eth0"))
                == 0
           && sh(in(ns, "ip link set eth0 up")) == 0 && sh(in(ns, "ip link set lo up")) == 0;
    }
  }

  ~netns_lab() {
    for (auto& ns : agent_ns)
      sh("ip netns del " + ns);
    sh("ip netns del " + master_ns);
    if (!run_netns_was_mounted && sh("test -z \"$(ip netns list)\"") == 0)
      sh("umount /run/netns");
  }

  static std::string in(const std::string& ns, const std::string& cmd) {
    return "ip netns exec " + ns + " " + cmd;
  }
  static std::string agent_ip(size_t i) {
    return "10.77.0." + std::to_string(2 + i);
  }
  /// Cuts (or restores) agent `i`'s link at the bridge: packets are
  /// dropped, connections stay open, as when a cable is pulled.
  void set_link(size_t i, bool up) {
    REQUIRE(sh(in(master_ns, "ip link set " + links.at(i) + (up ? " up" : " down"))) == 0);
  }
};

} // namespace

TEST_SUITE("process") {

TEST_CASE("hosts in network namespaces: a cut link makes an agent unreachable, restored it is reconciled") {
  temp_dir dir;
  netns_lab lab{2};
  if (!lab.ok) {
    MESSAGE("skipped: cannot create network namespaces here (needs root and iproute2)");
    return;
  }
  const std::string master_ep = "10.77.0.1:5050";
  auto ip_bin = std::string{"/usr/sbin/ip"};
  if (access(ip_bin.c_str(), X_OK) != 0)
    ip_bin = "/sbin/ip";
  auto netns = [&](const std::string& ns, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {ip_bin, "netns", "exec", ns});
    return argv;
  };
  child master{netns(lab.master_ns,
                     {bin("caldera-master"), "--config", source("conf/master.conf"), "--ip",
                      "10.77.0.1", "--port", "5050", "--work-dir", dir.path + "/master",
                      "--agent-ping-timeout", "1s", "--max-agent-ping-timeouts", "3"})};
  REQUIRE_MESSAGE(master.wait_for("master_listening"), master.output());
  // Agent 1 alone is big enough for the task.
  std::vector<std::unique_ptr<child>> agents;
  for (size_t i = 0; i < 2; ++i) {
    agents.push_back(std::make_unique<child>(netns(
      lab.agent_ns[i],
      {bin("caldera-agent"), "--config", source("conf/agent.conf"), "--master", master_ep,
       "--ip", netns_lab::agent_ip(i), "--port", "5051", "--hostname",
       "host" + std::to_string(i), "--work-dir", dir.path + "/a" + std::to_string(i),
       "--resources", i == 0 ? "cpus:1;mem:256" : "cpus:2;mem:512"})));
    REQUIRE_MESSAGE(agents[i]->wait_for("agent_registered"), agents[i]->output());
  }
  auto go = dir.path + "/go";
  child run{netns(lab.master_ns,
                  {bin("caldera"), "run", "--master", master_ep, "--partition-aware",
                   "--resources", "cpus:1.5;mem:64", "--offer-timeout", "30", "--", "sh", "-c",
                   "while [ ! -e " + go + " ]; do sleep 0.05; done"})};
  REQUIRE_MESSAGE(run.wait_for("TASK_RUNNING", 60s), run.output());
  CHECK(run.output().find("host=host1") != std::string::npos);

  lab.set_link(1, false);
  REQUIRE_MESSAGE(master.wait_for("agent_unreachable", 30s), master.output());
  REQUIRE_MESSAGE(run.wait_for("TASK_UNREACHABLE", 30s), run.output());
  auto state = [&] {
    child st{netns(lab.master_ns, {bin("caldera"), "state", "--master", master_ep, "--json"})};
    REQUIRE(st.wait_exit(30s) == 0);
    return nlohmann::json::parse(st.output());
  };
  {
    auto j = state();
    REQUIRE(j["agents"].size() == 2);
    for (auto& a : j["agents"])
      CHECK(a["active"] == (a["hostname"] == "host0"));
  }

  lab.set_link(1, true);
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
