// The web UI in a real browser: Debian's chromium, headless, loads the
// master's page for a cluster of two agents with a running task; the
// rendered DOM must show both agents, the framework, the task and a series in
// the share chart. A screenshot is left in build/ui.png for people to see.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <unistd.h>


#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {


std::string chromium() {
  for (auto p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (::access(p, X_OK) == 0)
      return p;
  return {};
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("the web UI in headless chromium shows agents, framework, task and the share chart") {
  auto browser = chromium();
  REQUIRE_MESSAGE(!browser.empty(), "chromium is missing: ./scripts/deps installs it");
  temp_dir dir;
  auto mport = free_port();
  auto master_ep = "127.0.0.1:" + std::to_string(mport);
  child master{{bin("caldera-master"), "--config", source("conf/master.conf"), "--port",
                std::to_string(mport), "--http-port", "0", "--work-dir", dir.path + "/m",
                "--allocation-interval", "100ms", "--log-level", "debug"}};
  auto mhttp = logged_endpoint(master, "http_listening");
  std::vector<std::unique_ptr<child>> agents;
  for (int i = 0; i < 2; ++i) {
    agents.push_back(std::make_unique<child>(std::vector<std::string>{
      bin("caldera-agent"), "--config", source("conf/agent.conf"), "--master", master_ep,
      "--port", std::to_string(free_port()), "--http-port", "0", "--hostname",
      "uihost" + std::to_string(i), "--work-dir", dir.path + "/a" + std::to_string(i),
      "--resources", "cpus:2;mem:512"}));
    REQUIRE(agents.back()->wait_for("agent_registered"));
  }
  child task{{bin("caldera"), "run", "--master", master_ep, "--name", "ui-framework",
              "--task-id", "ui-task-1", "--resources", "cpus:0.5;mem:64", "--", "sleep",
              "300"}};
  REQUIRE_MESSAGE(task.wait_for("TASK_RUNNING", 60s), task.output());
  // Until the published snapshot shows the running task (logged at debug).
  REQUIRE_MESSAGE(master.wait_for("state_published active_tasks=1", 30s), master.output());
  auto url = "http://" + mhttp + "/";
  std::vector<std::string> common{browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                                  "--disable-dev-shm-usage", "--no-first-run",
                                  "--user-data-dir=" + dir.path + "/chromium",
                                  "--virtual-time-budget=6000"};
  auto dom_cmd = common;
  dom_cmd.push_back("--dump-dom");
  dom_cmd.push_back(url);
  child dom{dom_cmd};
  REQUIRE(dom.wait_exit(120s) == 0);
  auto html = dom.output();
  INFO(html.substr(0, 4000));
  CHECK(html.find("uihost0") != std::string::npos);
  CHECK(html.find("uihost1") != std::string::npos);
  CHECK(html.find("ui-framework") != std::string::npos);
  CHECK(html.find("ui-task-1") != std::string::npos);
  CHECK(html.find("TASK_RUNNING") != std::string::npos);
  CHECK(html.find("class=\"series\"") != std::string::npos);
  CHECK(html.find("<span class=\"err\">") == std::string::npos); // no failed poll
  // A picture for people.
  auto shot = std::filesystem::path{CALDERA_BIN_DIR}.parent_path() / "ui.png";
  auto shot_cmd = common;
  shot_cmd.push_back("--window-size=1200,1400");
  shot_cmd.push_back("--screenshot=" + shot.string());
  shot_cmd.push_back(url);
  child png{shot_cmd};
  CHECK(png.wait_exit(120s) == 0);
  CHECK(std::filesystem::exists(shot));
  task.signal(SIGTERM);
  CHECK(task.wait_exit(60s) == 137);
  for (auto& a : agents) {
    a->signal(SIGTERM);
    CHECK(a->wait_exit(20s) == 0);
  }
  master.signal(SIGTERM);
  CHECK(master.wait_exit(20s) == 0);
}

}
