// Authenticated frameworks and ACLs on real processes (issue 15): a master
// with --authenticate --credentials --acls refuses a framework without a
// principal, with a wrong secret, or in a role its principal may not use,
// and a task that would run as root,
// counts the refusals, and runs the ones that prove who they are. Bad
// security files stop the master with the file and the reason.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <sys/stat.h>

#include <httplib.h>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/node.hpp"
#include "actors/types.hpp"
#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream{path} << text;
}

bool has(const std::string& out, const std::string& text) {
  return out.find(text) != std::string::npos;
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("authenticated frameworks: no principal, a wrong secret and a forbidden role are "
          "refused; proven principals run") {
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755); // tasks run as nobody: their sandboxes' parents are traversable
  write(dir.path + "/credentials.json",
        R"({"credentials": [{"principal": "alice", "secret": "alice-s3cret"},
                            {"principal": "bob", "secret": "bob-s3cret"}]})");
  write(dir.path + "/acls.json", R"({"permissive": false,
    "register_frameworks": [
      {"principals": {"values": ["alice"]}, "roles": {"type": "ANY"}},
      {"principals": {"values": ["bob"]}, "roles": {"values": ["bob"]}}],
    "run_tasks": [
      {"principals": {"type": "NONE"}, "users": {"values": ["root"]}},
      {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}]})");
  write(dir.path + "/alice.secret", "alice-s3cret\n");
  write(dir.path + "/bob.secret", "bob-s3cret\n");
  write(dir.path + "/wrong.secret", "guess\n");
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child m{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir", dir.path + "/m",
           "--http-port", "0", "--authenticate", "--credentials", dir.path + "/credentials.json",
           "--acls", dir.path + "/acls.json"}};
  REQUIRE_MESSAGE(m.wait_for("master_listening"), m.output());
  auto http = logged_endpoint(m, "http_listening");
  child a{{bin("caldera-agent"), "--master", ep, "--port", std::to_string(free_port()),
           "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:256"}};
  REQUIRE_MESSAGE(a.wait_for("agent_registered"), a.output());
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{bin("caldera"), "run", "--master", ep, "--resources",
                                  "cpus:0.1;mem:8", "--offer-timeout", "20"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "true"});
    auto c = std::make_unique<child>(argv);
    c->wait_exit(60s);
    return c;
  };
  auto none = run({});
  CHECK_MESSAGE(has(none->output(), "admits only authenticated frameworks"), none->output());
  auto wrong = run({"--principal", "alice", "--secret-file", dir.path + "/wrong.secret"});
  CHECK_MESSAGE(has(wrong->output(), "authentication of principal 'alice' failed"),
                wrong->output());
  auto bob_eng = run({"--principal", "bob", "--secret-file", dir.path + "/bob.secret", "--role",
                      "eng"});
  CHECK_MESSAGE(has(bob_eng->output(), "may not register frameworks in role 'eng'"),
                bob_eng->output());
  auto root = run({"--principal", "alice", "--secret-file", dir.path + "/alice.secret", "--user",
                   "root"});
  CHECK_MESSAGE(has(root->output(), "may not run tasks as user 'root'"), root->output());
  child alice{{bin("caldera"), "run", "--master", ep, "--resources", "cpus:0.1;mem:8", "--user",
               "nobody", "--principal", "alice", "--secret-file", dir.path + "/alice.secret", "--",
               "true"}};
  CHECK_MESSAGE(alice.wait_exit(60s) == 0, alice.output());
  child bob{{bin("caldera"), "run", "--master", ep, "--resources", "cpus:0.1;mem:8", "--role",
             "bob", "--user", "nobody", "--principal", "bob", "--secret-file",
             dir.path + "/bob.secret", "--", "true"}};
  CHECK_MESSAGE(bob.wait_exit(60s) == 0, bob.output());
  auto colon = http.rfind(':');
  httplib::Client cli{http.substr(0, colon), std::stoi(http.substr(colon + 1))};
  auto metrics = cli.Get("/metrics");
  REQUIRE(metrics);
  CHECK(has(metrics->body, "caldera_refusals_total{type=\"unauthenticated\"} 2"));
  CHECK(has(metrics->body, "caldera_refusals_total{type=\"register_frameworks\"} 1"));
  CHECK(has(metrics->body, "caldera_refusals_total{type=\"run_tasks\"} 1"));
  CHECK(has(m.output(), "peer_refused"));
  a.signal(SIGTERM);
  CHECK(a.wait_exit(20s) == 0);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

TEST_CASE("authenticated agents: none or a wrong secret is refused, the agent's principal "
          "registers") {
  temp_dir dir;
  write(dir.path + "/credentials.json",
        R"({"credentials": [{"principal": "agent", "secret": "agent-s3cret"}]})");
  write(dir.path + "/agent.credential", R"({"principal": "agent", "secret": "agent-s3cret"})");
  write(dir.path + "/wrong.credential", "agent guess\n");
  write(dir.path + "/empty.credential", "\n");
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child m{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir", dir.path + "/m",
           "--authenticate_agents", "--credentials", dir.path + "/credentials.json"}};
  REQUIRE_MESSAGE(m.wait_for("master_listening"), m.output());
  auto agent = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv{bin("caldera-agent"), "--master", ep, "--port",
                                  std::to_string(free_port()), "--work-dir",
                                  dir.path + "/" + name, "--resources", "cpus:1;mem:64"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<child>(argv);
  };
  auto none = agent("none", {});
  CHECK_MESSAGE(none->wait_for("admits only authenticated agents"), none->output());
  auto wrong = agent("wrong", {"--credential", dir.path + "/wrong.credential"});
  CHECK_MESSAGE(wrong->wait_for("authentication of principal 'agent' failed"), wrong->output());
  auto empty = agent("empty", {"--credential", dir.path + "/empty.credential"});
  CHECK(empty->wait_exit(30s) == 2);
  CHECK_MESSAGE(has(empty->output(), "needs a principal and a secret"), empty->output());
  auto good = agent("good", {"--credential", dir.path + "/agent.credential"});
  CHECK_MESSAGE(good->wait_for("agent_registered"), good->output());
  CHECK_MESSAGE(m.wait_for("peer_authenticated principal=\"agent\""), m.output());
  for (auto* c : {none.get(), wrong.get(), good.get()}) {
    c->signal(SIGTERM);
    CHECK(c->wait_exit(30s) == 0);
  }
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

TEST_CASE("operator calls: weights, quota, teardown, actors and kill-actor need a principal the "
          "ACLs allow") {
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755);
  write(dir.path + "/credentials.json",
        R"({"credentials": [{"principal": "alice", "secret": "a"}, {"principal": "bob", "secret": "b"},
                            {"principal": "ops", "secret": "o"}]})");
  write(dir.path + "/acls.json", R"({"permissive": false,
    "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
    "run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
    "teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
    "update_weights": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}],
    "update_quotas": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}],
    "kill_actors": [{"principals": {"values": ["ops"]}, "actors": {"type": "ANY"}}]})");
  for (auto p : {"alice", "bob", "ops"})
    write(dir.path + "/" + p + ".secret", std::string{p}.substr(0, 1) + "\n");
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  auto agent_port = std::to_string(free_port());
  child m{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir", dir.path + "/m",
           "--authenticate", "--authenticate_operators", "--credentials",
           dir.path + "/credentials.json", "--acls", dir.path + "/acls.json"}};
  REQUIRE_MESSAGE(m.wait_for("master_listening"), m.output());
  child a{{bin("caldera-agent"), "--master", ep, "--port", agent_port, "--work-dir",
           dir.path + "/a", "--resources", "cpus:2;mem:256", "--authenticate_operators",
           "--credentials", dir.path + "/credentials.json", "--acls", dir.path + "/acls.json"}};
  REQUIRE_MESSAGE(a.wait_for("agent_registered"), a.output());
  auto as = [&](const std::string& who) -> std::vector<std::string> {
    if (who.empty())
      return {};
    return {"--principal", who, "--secret-file", dir.path + "/" + who + ".secret"};
  };
  auto call = [&](std::vector<std::string> argv, const std::string& who) {
    argv.insert(argv.begin(), bin("caldera"));
    auto extra = as(who);
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto c = std::make_unique<child>(argv);
    c->wait_exit(60s);
    return c;
  };
  auto weights = [&](const std::string& who) {
    return call({"weights", "set", "eng=2", "--master", ep}, who);
  };
  CHECK_MESSAGE(has(weights("")->output(), "operator calls here need a principal"), "");
  CHECK(has(weights("alice")->output(), "principal 'alice' may not update_weights 'eng'"));
  CHECK(has(weights("ops")->output(), "eng"));
  auto quota = call({"quota", "set", "eng", "cpus:1", "--master", ep}, "bob");
  CHECK_MESSAGE(has(quota->output(), "may not update_quotas 'eng'"), quota->output());
  auto kill = call({"kill-actor", "--node", "127.0.0.1:" + agent_port, "agent"}, "alice");
  CHECK_MESSAGE(has(kill->output(), "may not kill_actors 'agent'"), kill->output());
  auto list = call({"actors", "--node", "127.0.0.1:" + agent_port}, "");
  CHECK_MESSAGE(has(list->output(), "need a principal"), list->output());
  auto listed = call({"actors", "--node", "127.0.0.1:" + agent_port}, "ops");
  CHECK_MESSAGE(has(listed->output(), "node agent@"), listed->output());

  child run{{bin("caldera"), "run", "--master", ep, "--resources", "cpus:0.1;mem:8", "--user",
             "nobody", "--principal", "alice", "--secret-file", dir.path + "/alice.secret", "--",
             "sleep", "60"}};
  REQUIRE_MESSAGE(run.wait_for("TASK_RUNNING"), run.output());
  auto out = run.output();
  auto at = out.find("framework ") + 10;
  auto fid = out.substr(at, out.find(' ', at) - at);
  auto bob = call({"teardown", fid, "--master", ep}, "bob");
  CHECK_MESSAGE(has(bob->output(), "may not teardown_frameworks 'alice'"), bob->output());
  auto ops = call({"teardown", fid, "--master", ep}, "ops");
  CHECK_MESSAGE(has(ops->output(), "torn down"), ops->output());
  CHECK(run.wait_exit(60s) == 1);
  CHECK_MESSAGE(has(run.output(), "removed: torn down by the operator 'ops'"), run.output());
  CHECK(has(m.output(), "peer_refused"));
  a.signal(SIGTERM);
  CHECK(a.wait_exit(30s) == 0);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

TEST_CASE("an executor without its token is refused by the agent; the real one runs on") {
  temp_dir dir;
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  auto agent_port = free_port();
  child m{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir", dir.path + "/m"}};
  REQUIRE_MESSAGE(m.wait_for("master_listening"), m.output());
  // The command task runs on a caldera-executor (the agent runs command
  // tasks itself by default: no executor to impersonate).
  child a{{bin("caldera-agent"), "--master", ep, "--port", std::to_string(agent_port),
           "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:256",
           "--command-executor", "process"}};
  REQUIRE_MESSAGE(a.wait_for("agent_registered"), a.output());
  child run{{bin("caldera"), "run", "--master", ep, "--resources", "cpus:0.1;mem:8", "--",
             "sleep", "60"}};
  REQUIRE_MESSAGE(run.wait_for("TASK_RUNNING"), run.output());
  REQUIRE(a.wait_for("executor_launched"));
  auto out = a.output();
  auto field = [&](const std::string& name) {
    auto at = out.find(name + "=\"", out.find("executor_launched")) + name.size() + 2;
    return out.substr(at, out.find('"', at) - at);
  };
  auto fid = field("framework_id"), eid = field("executor_id");
  // An impostor on the agent's port claims the running executor.
  caldera::node_config cfg{"impostor"};
  caf::actor_system sys{cfg};
  auto agent = caldera::connect_blocking(sys, {"127.0.0.1", agent_port});
  REQUIRE(agent);
  caf::scoped_actor self{sys};
  self->send(*agent, caldera::make<caldera::schema::RegisterExecutor>([&](auto b) {
               b.setFrameworkId(fid);
               b.setExecutorId(eid);
               b.setToken("guess");
             }));
  bool shut_down = false;
  self->receive([&](const caldera::shutdown_executor_msg&) { shut_down = true; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  CHECK(shut_down);
  CHECK_MESSAGE(a.wait_for("registered without the token it was launched with"), a.output());
  // The real executor still runs its task: only Ctrl-C ends it (TASK_KILLED).
  CHECK_FALSE(run.output_closed());
  run.signal(SIGTERM);
  CHECK_MESSAGE(run.wait_exit(60s) != -1, run.output());
  CHECK_MESSAGE(has(run.output(), "TASK_KILLED"), run.output());
  a.signal(SIGTERM);
  CHECK(a.wait_exit(30s) == 0);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

TEST_CASE("security files that do not read or parse stop the master naming the file") {
  temp_dir dir;
  auto master = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{bin("caldera-master"), "--work-dir", dir.path + "/m"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child c{argv};
    int rc = c.wait_exit(30s);
    CHECK(rc != 0);
    CHECK(rc != -1);
    return c.output();
  };
  write(dir.path + "/bad.json", "{\"credentials\": [{\"principal\": \"x\"}]}");
  write(dir.path + "/acls.json", "{\"launch_rockets\": []}");
  auto out = master({"--authenticate"});
  CHECK_MESSAGE(has(out, "option 'authenticate': needs --credentials"), out);
  out = master({"--authenticate_agents"});
  CHECK_MESSAGE(has(out, "option 'authenticate_agents': needs --credentials"), out);
  out = master({"--authenticate", "--credentials", dir.path + "/missing.json"});
  CHECK_MESSAGE(has(out, dir.path + "/missing.json"), out);
  out = master({"--authenticate", "--credentials", dir.path + "/bad.json"});
  CHECK_MESSAGE((has(out, "bad.json") && has(out, "'principal' and 'secret'")), out);
  out = master({"--acls", dir.path + "/acls.json"});
  CHECK_MESSAGE(has(out, "unknown action 'launch_rockets'"), out);
}

}
