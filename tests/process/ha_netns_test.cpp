// Standby masters on hosts of their own (issue 16): three masters, each in a
// network namespace with two links, one to a control network (etcd, three
// members) and one to a data network (the agent and the framework), both
// bridged in a hub namespace this test creates. The leader's control link
// is cut: it still reaches the agent and the framework, so only its lease
// keeps it from going on as leader. It must stop (exit 4) before a standby
// can be elected; the agent and `caldera run` follow the new leader; the
// task's exit code arrives; with its link healed, the old leader's restart
// rejoins as a standby. Needs root (CAP_NET_ADMIN); elsewhere it says so
// and does nothing.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/etcd_util.hpp"
#include "support/netns_util.hpp"
#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

const std::string control_hub = "10.78.1.1"; // etcd
const std::string data_hub = "10.78.2.1";    // the agent and the framework

std::string control_ip(size_t i) {
  return "10.78.1." + std::to_string(10 + i);
}
std::string data_ip(size_t i) {
  return "10.78.2." + std::to_string(10 + i);
}

struct ha_lab {
  netns_lab lab;
  std::vector<std::string> hosts, control_links;

  ha_lab() {
    lab.add_bridge("bctl", control_hub + "/24");
    lab.add_bridge("bdat", data_hub + "/24");
    for (size_t i = 0; i < 3; ++i) {
      hosts.push_back(lab.add_host("m" + std::to_string(i)));
      control_links.push_back(lab.attach(hosts[i], "c0", control_ip(i) + "/24", "bctl"));
      lab.attach(hosts[i], "d0", data_ip(i) + "/24", "bdat");
    }
  }
};

std::unique_ptr<child> start_master(const ha_lab& l, size_t i, const std::string& dir,
                                    const std::string& url) {
  return std::make_unique<child>(netns_lab::in(
    l.hosts[i], {bin("caldera-master"), "--ip", data_ip(i), "--port", "5050", "--http-port", "0",
                 "--work-dir", dir + "/m" + std::to_string(i), "--etcd", url,
                 "--allocation-interval", "100ms", "--log-level", "debug"}));
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("standby masters in network namespaces: the leader cut off from etcd stops before a "
          "standby is elected; agents and caldera run follow; healed, it rejoins as a standby") {
  temp_dir dir;
  ha_lab l;
  if (!l.lab.ok()) {
    MESSAGE("skipped: cannot create network namespaces here (needs root and iproute2)");
    return;
  }
  etcd_cluster etcd{dir.path, 3, "", control_hub, l.lab.hub()};
  REQUIRE_MESSAGE(etcd.ready(), etcd.output(0));
  auto url = etcd.url();
  std::vector<std::unique_ptr<child>> m(3);
  m[0] = start_master(l, 0, dir.path, url);
  REQUIRE_MESSAGE(m[0]->wait_for("elected", 30s), m[0]->output());
  for (size_t i : {1, 2}) {
    m[i] = start_master(l, i, dir.path, url);
    REQUIRE_MESSAGE(m[i]->wait_for("standby leader=\"" + data_ip(0) + ":5050", 30s),
                    m[i]->output());
  }
  child agent{netns_lab::in(
    l.lab.hub(), {bin("caldera-agent"), "--master", url, "--ip", data_hub, "--port", "5051",
                  "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:512",
                  "--log-level", "debug"})};
  REQUIRE_MESSAGE(agent.wait_for("agent_registered", 60s), agent.output());
  auto go = dir.path + "/go";
  child run{netns_lab::in(l.lab.hub(), {bin("caldera"), "run", "--master", url, "--resources",
                                        "cpus:0.5;mem:64", "--", "sh", "-c",
                                        "while [ ! -f " + go + " ]; do sleep 0.05; done; exit 7"})};
  REQUIRE_MESSAGE(run.wait_for("TASK_RUNNING", 60s), run.output());

  // Cut the leader from etcd only: it still reaches the agent and the
  // framework, and would go on offering to them but for its lease.
  REQUIRE(l.lab.set_link(l.control_links[0], false));
  size_t next = 3;
  for (size_t k = 0; k < 600 && next == 3; ++k) { // 30 s
    for (size_t i : {1, 2})
      if (m[i]->wait_for("elected epoch", 25ms))
        next = i;
  }
  REQUIRE_MESSAGE(next != 3, m[1]->output() << m[2]->output());
  // By the time a standby is elected, the old leader has ended (its lease
  // counted until a tenth of the TTL before etcd could let it go).
  CHECK_MESSAGE(m[0]->output_closed(), m[0]->output());
  CHECK(m[0]->wait_exit(10s) == 4);
  CHECK(m[0]->output().find("leadership_lost") != std::string::npos);

  REQUIRE_MESSAGE(agent.wait_for("agent_reregistered", 60s), agent.output());
  std::ofstream{go} << "go\n";
  CHECK_MESSAGE(run.wait_exit(60s) == 7, run.output());

  // Healed, the old leader's supervised restart rejoins as a standby (the
  // supervisor restarts it again while the link comes back: a master that
  // cannot reach etcd at start exits 1).
  REQUIRE(l.lab.set_link(l.control_links[0], true));
  bool rejoined = false;
  for (int tries = 0; tries < 20 && !rejoined; ++tries) {
    m[0] = start_master(l, 0, dir.path, url);
    rejoined = m[0]->wait_for("standby leader=\"" + data_ip(next) + ":5050", 30s);
    if (!rejoined)
      REQUIRE_MESSAGE(m[0]->wait_exit(10s) == 1, m[0]->output());
  }
  REQUIRE_MESSAGE(rejoined, m[0]->output());
  child masters{netns_lab::in(l.lab.hub(), {bin("caldera"), "masters", "--master", url,
                                            "--json"})};
  REQUIRE(masters.wait_exit(30s) == 0);
  auto out = masters.output();
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  CHECK(j["leader"]["address"] == data_ip(next) + ":5050");
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit(20s) == 0);
  for (auto& mi : m)
    mi->signal(SIGTERM);
  for (auto& mi : m)
    CHECK(mi->wait_exit(20s) == 0);
}

}
