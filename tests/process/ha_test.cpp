// Standby masters on a real 3-member etcd (issue 16): kill -9 of the leading
// master while a task runs; a standby is elected, the agent and a waiting
// `caldera run` follow it through etcd://, the task is known again and its
// exit code arrives. Standbys redirect HTTP to the leader; a master pointed
// at an unreachable etcd refuses to start, naming it.
#include <doctest/doctest.h>

#include <csignal>
#include <sys/stat.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "actors/coordinator.hpp"
#include "frameworks/hadoop_like/job.hpp"
#include "support/etcd_util.hpp"
#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<child> start_master(const std::string& dir, const std::string& url,
                                    uint16_t port) {
  return std::make_unique<child>(std::vector<std::string>{
    bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
    dir + "/m" + std::to_string(port), "--etcd", url, "--http-port", "0",
    "--allocation-interval", "100ms", "--log-level", "debug"});
}

// A 3-member etcd and two masters on it: m1 leads, m2 stands by.
struct two_masters {
  etcd_cluster etcd;
  std::string url;
  uint16_t p1 = free_port(), p2 = free_port();
  std::unique_ptr<child> m1, m2;

  explicit two_masters(const temp_dir& dir) : etcd{dir.path, 3} {
    REQUIRE_MESSAGE(etcd.ready(), etcd.output(0));
    url = etcd.url();
    m1 = start_master(dir.path, url, p1);
    REQUIRE_MESSAGE(m1->wait_for("elected", 30s), m1->output());
    m2 = start_master(dir.path, url, p2);
    REQUIRE_MESSAGE(m2->wait_for("standby leader=\"127.0.0.1:" + std::to_string(p1), 30s),
                    m2->output());
  }
};

uint16_t port_of(const std::string& ep) {
  return static_cast<uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("standby masters on etcd: kill -9 of the leader; a standby takes over, the agent "
          "and caldera run follow it, the running task's exit code arrives") {
  temp_dir dir;
  two_masters ms{dir};
  auto& [etcd, url, p1, p2, m1, m2] = ms;
  auto m2http = logged_endpoint(*m2, "http_listening");

  child agent{{bin("caldera-agent"), "--master", url, "--port", std::to_string(free_port()),
               "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:512",
               "--log-level", "debug"}};
  REQUIRE_MESSAGE(agent.wait_for("agent_registered", 60s), agent.output());
  // The task ends when the test says so: after the failover.
  auto go = dir.path + "/go";
  child run{{bin("caldera"), "run", "--master", url, "--resources", "cpus:0.5;mem:64", "--",
             "sh", "-c", "while [ ! -f " + go + " ]; do sleep 0.05; done; exit 7"}};
  REQUIRE_MESSAGE(run.wait_for("TASK_RUNNING", 60s), run.output());

  // The standby redirects readers to the leader.
  httplib::Client standby{"127.0.0.1", port_of(m2http)};
  auto r = standby.Get("/master/state");
  REQUIRE(r);
  CHECK(r->status == 307);
  CHECK(r->get_header_value("Location").rfind("http://127.0.0.1:", 0) == 0);

  // The standby's registry is warm: it read the agent's record already.
  REQUIRE_MESSAGE(m2->wait_for("standby_registry", 30s), m2->output());

  m1->signal(SIGKILL);
  REQUIRE_MESSAGE(m2->wait_for("elected", 30s), m2->output());
  REQUIRE_MESSAGE(m2->wait_for("registry_loaded", 10s), m2->output());
  CHECK_MESSAGE(m2->output().find("registry_loaded records=") != std::string::npos, m2->output());
  CHECK_MESSAGE(m2->output().find("read=\"changes\"") != std::string::npos, m2->output());
  REQUIRE_MESSAGE(agent.wait_for("agent_reregistered", 60s), agent.output());
  std::ofstream{go} << "go\n";
  CHECK_MESSAGE(run.wait_exit(60s) == 7, run.output());

  child masters{{bin("caldera"), "masters", "--master", url, "--json"}};
  REQUIRE(masters.wait_exit(30s) == 0);
  auto out = masters.output();
  auto j = nlohmann::json::parse(out.substr(out.find('{')));
  CHECK(j["leader"]["address"] == "127.0.0.1:" + std::to_string(p2));
  CHECK(j["leader"]["epoch"].get<long long>() > 0);
  // The new leader's API answers there now.
  httplib::Client leader{"127.0.0.1", port_of(m2http)};
  auto st = leader.Get("/master/state");
  REQUIRE(st);
  CHECK(st->status == 200);
  auto state = nlohmann::json::parse(st->body);
  CHECK(state["epoch"] == j["leader"]["epoch"]);
}

TEST_CASE("etcd: the registry's changes since a revision, in pages, at one revision; deletes "
          "are the keys no longer there") {
  temp_dir dir;
  etcd_cluster etcd{dir.path, 1};
  REQUIRE_MESSAGE(etcd.ready(), etcd.output(0));
  auto c = caldera::make_etcd_coordinator(*caldera::parse_coordinator_url(etcd.url()));
  auto lease = c->grant(10s);
  REQUIRE(lease);
  caldera::leader_record me;
  me.id = "m";
  me.address = "127.0.0.1:1";
  auto led = c->campaign(*lease, me);
  REQUIRE(led);
  std::vector<caldera::coord_op> ops;
  for (int i = 0; i < 1500; ++i) // more than a page (1,000)
    ops.push_back({"agent/" + std::to_string(i), "v" + std::to_string(i)});
  REQUIRE(c->fenced_write(led->epoch, ops) == true);
  auto all = c->read_registry_since(0);
  REQUIRE(all);
  CHECK(all->changed.size() == 1500);
  CHECK(all->count == 1500);
  CHECK(all->changed["agent/1499"] == "v1499");
  auto same = c->read_registry_since(all->revision);
  REQUIRE(same);
  CHECK(same->changed.empty());
  CHECK(same->count == 1500); // counted whole, though filtered
  REQUIRE(c->fenced_write(led->epoch, {{"agent/7", "w"}, {"agent/8", std::nullopt}}) == true);
  auto d = c->read_registry_since(all->revision);
  REQUIRE(d);
  CHECK(d->changed == std::map<std::string, std::string>{{"agent/7", "w"}});
  CHECK(d->count == 1499);
  CHECK(d->revision > all->revision);
  auto keys = c->registry_keys(d->revision);
  REQUIRE(keys);
  CHECK(keys->size() == 1499);
  CHECK(keys->count("agent/8") == 0);
  CHECK(keys->count("agent/1499") == 1);
}

TEST_CASE("etcd: next_leader answers at once when another leads, and while the one it names "
          "leads it watches for the next, answering when that one is elected") {
  temp_dir dir;
  etcd_cluster etcd{dir.path, 1};
  REQUIRE_MESSAGE(etcd.ready(), etcd.output(0));
  auto url = *caldera::parse_coordinator_url(etcd.url());
  auto c = caldera::make_etcd_coordinator(url);
  auto lease_a = c->grant(10s);
  REQUIRE(lease_a);
  caldera::leader_record a, b;
  a.id = "a";
  a.address = "127.0.0.1:1";
  b.id = "b";
  b.address = "127.0.0.1:2";
  auto led = c->campaign(*lease_a, a);
  REQUIRE(led);
  auto other = c->next_leader(led->epoch + 1, 60s); // not the one named: no wait
  REQUIRE(other);
  REQUIRE(*other);
  CHECK((*other)->id == "a");
  auto watcher = std::async(std::launch::async, [&] {
    return caldera::make_etcd_coordinator(url)->next_leader(led->epoch, 60s);
  });
  // Once it watches (etcd counts its watchers), a resigns and b is elected.
  httplib::Client member{url.members[0].host, url.members[0].port};
  bool watching = false;
  for (int i = 0; i < 20000 && !watching; ++i) { // each a request: bounded, no sleep
    auto m = member.Get("/metrics");
    watching = m && m->body.find("etcd_debugging_mvcc_watcher_total 1") != std::string::npos;
  }
  REQUIRE(watching);
  REQUIRE_FALSE(c->revoke(*lease_a));
  auto lease_b = c->grant(10s);
  REQUIRE(lease_b);
  REQUIRE(c->campaign(*lease_b, b));
  // Well before its 60 s wait ends: it heard the election.
  REQUIRE(watcher.wait_for(30s) == std::future_status::ready);
  auto got = watcher.get();
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->id == "b");
}

TEST_CASE("standby masters on etcd: kill -9 of the leader during a hadoop-like word count; the "
          "job finishes under the new leader with the exact result and no attempt lost") {
  temp_dir dir;
  two_masters ms{dir};
  auto& [etcd, url, p1, p2, m1, m2] = ms;
  std::vector<std::unique_ptr<child>> agents;
  for (int i = 0; i < 2; ++i) {
    agents.push_back(std::make_unique<child>(std::vector<std::string>{
      bin("caldera-agent"), "--master", url, "--port", std::to_string(free_port()),
      "--work-dir", dir.path + "/a" + std::to_string(i), "--resources", "cpus:2;mem:1024",
      "--log-level", "debug"}));
    REQUIRE_MESSAGE(agents.back()->wait_for("agent_registered", 60s), agents.back()->output());
  }
  auto input = dir.path + "/in";
  std::filesystem::create_directories(input);
  for (int f = 0; f < 6; ++f) {
    std::ofstream out{input + "/part" + std::to_string(f) + ".txt"};
    for (int line = 0; line < 3000; ++line)
      out << "the quick brown fox " << (line % 97) << " jumps over lazy dog " << f << "\n";
  }
  child job{{bin("hadoop-like"), "--master", url, "--input", input, "--output",
             dir.path + "/out", "--reducers", "2", "--split-size", "16384",
             "--locality-wait", "0s", "--log-level", "debug"}};
  // Killed while maps run (their launches may be lost: those come back
  // TASK_LOST and run again).
  REQUIRE_MESSAGE(job.wait_for("state=\"TASK_RUNNING\"", 120s), job.output());
  m1->signal(SIGKILL);
  REQUIRE_MESSAGE(m2->wait_for("elected", 30s), m2->output());
  REQUIRE_MESSAGE(job.wait_exit(180s) == 0, job.output());
  auto got = caldera::hadoop::read_output(dir.path + "/out");
  auto want = caldera::hadoop::count_directly(caldera::hadoop::job_kind::wordcount, "", input);
  REQUIRE(got);
  REQUIRE(want);
  CHECK(*got == *want);
  // No task got two different terminal states (a LOST, then FINISHED).
  std::map<std::string, std::set<std::string>> terminal;
  std::istringstream lines{job.output()};
  for (std::string line; std::getline(lines, line);) {
    auto t = line.find("status_update task_id=\"");
    auto s = line.find(" state=\"");
    if (t == std::string::npos || s == std::string::npos)
      continue;
    auto id = line.substr(t + 23, line.find('"', t + 23) - t - 23);
    auto state = line.substr(s + 8, line.find('"', s + 8) - s - 8);
    if (state != "TASK_STAGING" && state != "TASK_STARTING" && state != "TASK_RUNNING")
      terminal[id].insert(state);
  }
  CHECK(terminal.size() >= 56); // 54 maps and 2 reduces at least
  for (auto& [id, states] : terminal)
    CHECK_MESSAGE(states.size() == 1, id << " ended " << states.size() << " ways");
}

TEST_CASE("a paused leader: a standby is elected once its lease expired; resumed, the old "
          "leader finds its leadership lost and exits 4") {
  temp_dir dir;
  two_masters ms{dir};
  auto& [etcd, url, p1, p2, m1, m2] = ms;
  // An agent's registration waits in the paused leader's socket.
  m1->signal(SIGSTOP);
  child agent{{bin("caldera-agent"), "--master", "127.0.0.1:" + std::to_string(p1), "--port",
               std::to_string(free_port()), "--work-dir", dir.path + "/a", "--resources",
               "cpus:1;mem:256", "--log-level", "debug"}};
  REQUIRE_MESSAGE(m2->wait_for("elected", 30s), m2->output());
  auto before = m1->output().size();
  m1->signal(SIGCONT);
  CHECK_MESSAGE(m1->wait_exit(30s) == 4, m1->output());
  auto after = m1->output().substr(before);
  CHECK(after.find("leadership_lost") != std::string::npos);
  // Resumed, it wrote nothing (a write it tried was refused by the epoch).
  CHECK_MESSAGE(after.find("registry_write ops") == std::string::npos, after);
  // Only the new leader is listed: the old one's record went with its lease.
  child masters{{bin("caldera"), "masters", "--master", url, "--json"}};
  REQUIRE(masters.wait_exit(30s) == 0);
  CHECK(masters.output().find("\"standby\"") == std::string::npos);
}

TEST_CASE("etcd member loss: one of three changes nothing; two of three make the leader step "
          "down; with a quorum back a master leads again") {
  temp_dir dir;
  two_masters ms{dir};
  auto& [etcd, url, p1, p2, m1, m2] = ms;
  child agent{{bin("caldera-agent"), "--master", url, "--port", std::to_string(free_port()),
               "--work-dir", dir.path + "/a", "--resources", "cpus:1;mem:256"}};
  REQUIRE_MESSAGE(agent.wait_for("agent_registered", 60s), agent.output());

  etcd.kill(0);
  // A task that outlives two lease TTLs runs to its end under the same leader.
  child run{{bin("caldera"), "run", "--master", url, "--resources", "cpus:0.5;mem:64", "--",
             "sleep", "5"}};
  CHECK_MESSAGE(run.wait_exit(60s) == 0, run.output());
  CHECK_FALSE(m1->output_closed());
  CHECK(m2->output().find("elected") == std::string::npos);

  etcd.kill(1); // no quorum: the leader cannot renew its lease
  CHECK_MESSAGE(m1->wait_exit(30s) == 4, m1->output());
  CHECK(m1->output().find("leadership_lost") != std::string::npos);
  CHECK(m2->output().find("elected") == std::string::npos);
  REQUIRE(etcd.start(1));
  CHECK_MESSAGE(m2->wait_for("elected", 60s), m2->output());
}

TEST_CASE("etcd with TLS and client certificates: masters, agents and the CLI reach it with "
          "the URL's files; without them they are refused") {
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755);
  auto pki = dir.path + "/pki";
  auto certs = make_certs(pki);
  REQUIRE_MESSAGE(certs.empty(), certs);
  etcd_cluster etcd{dir.path, 1, pki};
  REQUIRE_MESSAGE(etcd.ready(), etcd.output(0));
  auto url = etcd.url();
  auto p1 = free_port();
  auto m1 = start_master(dir.path, url, p1);
  REQUIRE_MESSAGE(m1->wait_for("elected", 30s), m1->output());
  child agent{{bin("caldera-agent"), "--master", url, "--port", std::to_string(free_port()),
               "--work-dir", dir.path + "/a", "--resources", "cpus:1;mem:256"}};
  REQUIRE_MESSAGE(agent.wait_for("agent_registered", 60s), agent.output());
  child masters{{bin("caldera"), "masters", "--master", url}};
  CHECK(masters.wait_exit(30s) == 0);
  CHECK(masters.output().find("127.0.0.1:" + std::to_string(p1)) != std::string::npos);
  // The same members without the files: no answer (etcd speaks TLS only).
  auto plain = url.substr(0, url.find('?'));
  child refused{{bin("caldera"), "masters", "--master", plain}};
  CHECK(refused.wait_exit(30s) == 1);
  child bad{{bin("caldera"), "masters", "--master", plain + "?cafile=" + pki + "/ca.pem"}};
  CHECK(bad.wait_exit(30s) == 2);
  CHECK(bad.output().find("needs cafile, certificate and key") != std::string::npos);
}

TEST_CASE("an agent whose etcd names no leader says so once, retries with back-off, and "
          "registers when a master is elected") {
  temp_dir dir;
  etcd_cluster etcd{dir.path, 1};
  REQUIRE_MESSAGE(etcd.ready(), etcd.output(0));
  auto url = etcd.url();
  child agent{{bin("caldera-agent"), "--master", url, "--port", std::to_string(free_port()),
               "--work-dir", dir.path + "/a", "--resources", "cpus:1;mem:256", "--log-level",
               "debug"}};
  REQUIRE_MESSAGE(agent.wait_for("master_connect_failed", 30s), agent.output());
  auto out = agent.output();
  CHECK(out.find("master_unreachable master=\"" + url) != std::string::npos);
  CHECK(out.find("no master leads now") != std::string::npos);
  CHECK(out.find("master_unreachable") == out.rfind("master_unreachable")); // once
  auto m = start_master(dir.path, url, free_port());
  REQUIRE_MESSAGE(m->wait_for("elected", 30s), m->output());
  CHECK_MESSAGE(agent.wait_for("agent_registered", 30s), agent.output());
}

TEST_CASE("a master pointed at an unreachable etcd refuses to start, naming it") {
  temp_dir dir;
  auto dead = "etcd://127.0.0.1:" + std::to_string(free_port()) + "/caldera";
  child m{{bin("caldera-master"), "--port", std::to_string(free_port()), "--work-dir",
           dir.path + "/m", "--etcd", dead}};
  CHECK(m.wait_exit(30s) == 1);
  CHECK_MESSAGE(m.output().find("cannot reach the coordinator " + dead) != std::string::npos,
                m.output());
  child zero{{bin("caldera-master"), "--port", "0", "--work-dir", dir.path + "/z", "--etcd",
              dead}};
  CHECK(zero.wait_exit(30s) == 2);
  CHECK(zero.output().find("needs a fixed port") != std::string::npos);
}

} // TEST_SUITE
