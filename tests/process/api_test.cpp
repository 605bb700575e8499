// The operator surface against real master and agent processes on loopback:
// Mesos-shaped JSON with a running and a finished task, 404 / 400 / 403,
// Prometheus metrics that pass promtool, and `caldera logs`.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {


httplib::Result get(const std::string& ep, const std::string& path) {
  auto colon = ep.rfind(':');
  httplib::Client cli{ep.substr(0, colon), std::stoi(ep.substr(colon + 1))};
  cli.set_read_timeout(10, 0);
  return cli.Get(path.c_str());
}

json get_json(const std::string& ep, const std::string& path, int want = 200) {
  auto r = get(ep, path);
  REQUIRE_MESSAGE(r, path);
  CHECK_MESSAGE(r->status == want, path << " -> " << r->status << " " << r->body);
  return json::parse(r->body);
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("HTTP API, metrics and caldera logs on a master and an agent process") {
  temp_dir dir;
  auto mport = free_port();
  auto master_ep = "127.0.0.1:" + std::to_string(mport);
  child master{{bin("caldera-master"), "--config", source("conf/master.conf"), "--port",
                std::to_string(mport), "--http-port", "0", "--work-dir", dir.path + "/m",
                "--allocation-interval", "100ms", "--log-level", "debug"}};
  auto mhttp = logged_endpoint(master, "http_listening");
  child agent{{bin("caldera-agent"), "--config", source("conf/agent.conf"), "--master",
               master_ep, "--port", std::to_string(free_port()), "--http-port", "0",
               "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:512",
               "--log-level", "debug"}};
  auto ahttp = logged_endpoint(agent, "http_listening");
  REQUIRE(agent.wait_for("agent_registered"));
  auto run = [&](std::vector<std::string> cmd) {
    std::vector<std::string> argv{bin("caldera"), "run", "--master", master_ep,
                                  "--resources", "cpus:0.5;mem:64", "--"};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return std::make_unique<child>(argv);
  };
  auto done = run({"sh", "-c", "echo out-of-the-finished-task; echo to-stderr >&2"});
  REQUIRE(done->wait_exit(60s) == 0);
  auto sleeper = run({"sleep", "300"});
  REQUIRE_MESSAGE(sleeper->wait_for("TASK_RUNNING", 60s), sleeper->output());

  // /master/state: Mesos v0 shape, once the published snapshot shows both
  // tasks (the master logs each snapshot at debug level).
  REQUIRE_MESSAGE(
    master.wait_for("state_published active_tasks=1 completed_tasks=1", 30s),
    master.output());
  auto st = get_json(mhttp, "/master/state");
  for (auto k : {"version", "id", "hostname", "start_time", "activated_slaves",
                 "unreachable_slaves", "flags", "slaves", "frameworks", "completed_frameworks"})
    CHECK_MESSAGE(st.contains(k), k);
  CHECK(st["activated_slaves"] == 1);
  REQUIRE(st["slaves"].size() == 1);
  auto& slave = st["slaves"][0];
  CHECK(slave["http_endpoint"] == ahttp);
  CHECK(slave["resources"]["cpus"] == 2.0);
  CHECK(slave.contains("used_resources"));
  CHECK(slave.contains("offered_resources"));
  CHECK(slave.contains("unreserved_resources"));
  CHECK(st["flags"]["port"] == std::to_string(mport));
  json running_task;
  for (auto& f : st["frameworks"])
    for (auto& t : f["tasks"])
      running_task = t;
  REQUIRE_FALSE(running_task.is_null());
  CHECK(running_task["state"] == "TASK_RUNNING");
  for (auto k : {"id", "name", "framework_id", "executor_id", "slave_id", "state", "resources",
                 "statuses"})
    CHECK_MESSAGE(running_task.contains(k), k);
  CHECK(running_task["statuses"].back()["timestamp"].get<double>() > 0);
  auto alias = get_json(mhttp, "/state");
  CHECK(alias["id"] == st["id"]);
  {
    // A client that accepts gzip gets the same document, compressed.
    auto colon = mhttp.rfind(':');
    httplib::Client cli{mhttp.substr(0, colon), std::stoi(mhttp.substr(colon + 1))};
    cli.set_decompress(false);
    auto raw = cli.Get("/state", {{"Accept-Encoding", "gzip"}});
    REQUIRE(raw);
    CHECK(raw->get_header_value("Content-Encoding") == "gzip");
    REQUIRE(raw->body.size() > 2);
    CHECK(static_cast<unsigned char>(raw->body[0]) == 0x1f); // gzip magic
    cli.set_decompress(true);
    auto inflated = cli.Get("/state", {{"Accept-Encoding", "gzip"}});
    REQUIRE(inflated);
    auto j = json::parse(inflated->body);
    CHECK(j["id"] == alias["id"]);
    CHECK(j["slaves"].size() == alias["slaves"].size());
  }

  // Other endpoints.
  auto tasks = get_json(mhttp, "/master/tasks?limit=1&order=asc");
  REQUIRE(tasks["tasks"].size() == 1);
  auto all = get_json(mhttp, "/master/tasks?limit=10");
  CHECK(all["tasks"].size() == 2);
  CHECK(get_json(mhttp, "/master/tasks?offset=1&limit=10")["tasks"].size() == 1);
  CHECK(get_json(mhttp, "/agents")["slaves"].size() == 1);
  CHECK(get_json(mhttp, "/master/slaves")["slaves"].size() == 1);
  CHECK(get_json(mhttp, "/master/frameworks")["frameworks"].size() >= 1);
  auto summary = get_json(mhttp, "/master/state-summary");
  CHECK(summary["slaves"][0]["TASK_RUNNING"] == 1);
  CHECK(get_json(mhttp, "/master/roles").contains("roles"));
  CHECK(get_json(mhttp, "/master/flags")["flags"].contains("agent_ping_timeout"));
  CHECK(get_json(mhttp, "/version")["version"] == "0.1.0");
  CHECK(get(mhttp, "/master/health")->status == 200);
  auto ms = get_json(mhttp, "/metrics/snapshot");
  CHECK(ms["master/cpus_total"] == 2.0);
  CHECK(ms["master/tasks_running"] == 1);
  CHECK(ms.contains("allocator/allocation_run_ms"));
  auto page = get(mhttp, "/");
  REQUIRE(page);
  CHECK(page->body.find("<title>caldera</title>") != std::string::npos);

  // Bad input.
  auto nf = get_json(mhttp, "/no/such/path", 404);
  CHECK(nf["error"].get<std::string>().find("/no/such/path") != std::string::npos);
  auto bad = get_json(mhttp, "/master/tasks?limit=-1", 400);
  CHECK(bad["error"].get<std::string>().find("'limit'") != std::string::npos);
  CHECK(get_json(mhttp, "/master/tasks?offset=abc", 400)["error"].get<std::string>().find(
          "'offset'")
        != std::string::npos);
  CHECK(get_json(mhttp, "/master/tasks?order=sideways", 400).contains("error"));

  // The agent: its state shows the sandboxes; files stay inside them.
  REQUIRE_MESSAGE(agent.wait_for("view_published executors=1 completed_executors=1", 30s),
                  agent.output());
  auto ast = get_json(ahttp, "/state");
  std::string finished_dir;
  for (auto& f : ast["frameworks"])
    for (auto& e : f["completed_executors"])
      finished_dir = e["directory"];
  REQUIRE_FALSE(finished_dir.empty());
  auto out = get_json(ahttp, "/files/read?path=" + finished_dir + "/stdout&offset=0");
  CHECK(out["data"] == "out-of-the-finished-task\n");
  CHECK(get_json(ahttp, "/files/read?path=" + finished_dir + "/stdout&offset=-1")["offset"] == 25);
  CHECK(get_json(ahttp, "/files/read?path=/etc/passwd", 403).contains("error"));
  CHECK(get_json(ahttp, "/files/read?path=" + finished_dir + "/../../../../../etc/passwd", 403)
          .contains("error"));
  {
    // A symlink in a sandbox pointing out of it is refused too.
    std::string link = finished_dir + "/escape";
    REQUIRE(::symlink("/etc/passwd", link.c_str()) == 0);
    CHECK(get_json(ahttp, "/files/read?path=" + link, 403).contains("error"));
  }
  CHECK(get_json(ahttp, "/files/read?path=" + finished_dir + "/stdout&length=x", 400)
          .contains("error"));
  CHECK(get_json(ahttp, "/files/browse?path=" + finished_dir).size() >= 2);
  auto stats = get_json(ahttp, "/monitor/statistics");
  REQUIRE(stats.size() == 1);
  for (auto k : {"timestamp", "cpus_user_time_secs", "cpus_system_time_secs", "cpus_limit",
                 "mem_rss_bytes", "mem_limit_bytes", "disk_used_bytes"})
    CHECK_MESSAGE(stats[0]["statistics"].contains(k), k);
  CHECK(stats[0]["statistics"]["mem_limit_bytes"] == (64.0 + 32) * 1024 * 1024); // with the executor overhead

  // Prometheus: the ecosystem's naming, and promtool agrees.
  for (auto* ep : {&mhttp, &ahttp}) {
    auto m = get(*ep, "/metrics");
    REQUIRE(m);
    CHECK(m->body.find("caldera_build_info") != std::string::npos);
    CHECK(m->body.find("caldera_messages_received_total") != std::string::npos);
    std::string file = dir.path + "/metrics.txt";
    std::ofstream{file} << m->body;
    child check{{"/bin/sh", "-c", "promtool check metrics < " + file}};
    CHECK_MESSAGE(check.wait_exit(30s) == 0, check.output());
  }
  auto mm = get(mhttp, "/metrics")->body;
  for (auto name : {"caldera_resources_capacity{resource=\"cpus\"}", "caldera_agents{state=\"active\"}",
                    "caldera_tasks{state=\"TASK_RUNNING\"}", "caldera_allocation_cycle_seconds_bucket",
                    "caldera_offers_outstanding", "caldera_registry_write_seconds_count"})
    CHECK_MESSAGE(mm.find(name) != std::string::npos, name);

  // The CLI.
  std::string finished_id;
  for (auto& t : all["tasks"])
    if (t["state"] == "TASK_FINISHED")
      finished_id = t["id"];
  REQUIRE_FALSE(finished_id.empty());
  child logs{{bin("caldera"), "logs", finished_id, "--master", master_ep}};
  CHECK(logs.wait_exit(30s) == 0);
  CHECK(logs.output() == "out-of-the-finished-task\n");
  child errs{{bin("caldera"), "logs", finished_id, "--stderr", "--master", master_ep}};
  CHECK(errs.wait_exit(30s) == 0);
  CHECK(errs.output() == "to-stderr\n");
  child nobody{{bin("caldera"), "logs", "no-such-task", "--master", master_ep}};
  CHECK(nobody.wait_exit(30s) == 1);
  CHECK(nobody.output().find("no task 'no-such-task'") != std::string::npos);
  child agents{{bin("caldera"), "agents", "--master", master_ep}};
  CHECK(agents.wait_exit(30s) == 0);
  CHECK(agents.output().find(ahttp) != std::string::npos);
  child tj{{bin("caldera"), "tasks", "--json", "--master", master_ep}};
  CHECK(tj.wait_exit(30s) == 0);
  CHECK(json::parse(tj.output()).size() == 2);

  sleeper->signal(SIGTERM);
  CHECK(sleeper->wait_exit(60s) == 137);
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit(20s) == 0);
  master.signal(SIGTERM);
  CHECK(master.wait_exit(20s) == 0);
}

}
