// A full disk under the master's registry: writes fail with a clear error,
// /master/health says so (503), and once space is freed the next write
// works again without a restart (issue 14: it used to wedge for good).
// Under an agent's checkpoint: the task fails naming the disk, the agent
// takes no tasks (/health 503, "unhealthy" in the master's state) until the
// space is back.
// Needs root to mount a small tmpfs; says "skipped" elsewhere.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include <httplib.h>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// A 16 MiB tmpfs at `path`, unmounted when done.
struct small_disk {
  std::string path;
  bool ok = false;
  explicit small_disk(std::string p) : path(std::move(p)) {
    std::filesystem::create_directories(path);
    ok = std::system(("mount -t tmpfs -o size=16m tmpfs '" + path + "' 2>/dev/null").c_str()) == 0;
  }
  ~small_disk() {
    if (ok)
      (void) std::system(("umount -l '" + path + "'").c_str());
  }
};

int health(const std::string& ep, const char* path = "/master/health") {
  auto colon = ep.rfind(':');
  httplib::Client cli{ep.substr(0, colon), std::stoi(ep.substr(colon + 1))};
  auto r = cli.Get(path);
  return r ? r->status : -1;
}

std::string get(const std::string& ep, const char* path) {
  auto colon = ep.rfind(':');
  httplib::Client cli{ep.substr(0, colon), std::stoi(ep.substr(colon + 1))};
  auto r = cli.Get(path);
  return r ? r->body : std::string{};
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("a full disk fails registry writes with a reason, health says so, freed it works again") {
  temp_dir dir;
  small_disk disk{dir.path + "/disk"};
  if (!disk.ok) {
    MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child m{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
           disk.path + "/m", "--http-port", "0"}};
  REQUIRE(m.wait_for("master_listening"));
  auto http = logged_endpoint(m, "http_listening");
  CHECK(health(http) == 200);
  // Fill the disk, then write until a write needs space that is not there.
  (void) std::system(("head -c 64M /dev/zero > '" + disk.path + "/filler' 2>/dev/null").c_str());
  bool failed = false;
  for (int i = 0; i < 200 && !failed; ++i) {
    child w{{bin("caldera"), "weights", "set", "--master", ep, "r" + std::to_string(i) + "=2"}};
    auto rc = w.wait_exit(30s);
    if (rc != 0) {
      CHECK(rc == 1);
      CHECK_MESSAGE(w.output().find("registry write failed") != std::string::npos, w.output());
      failed = true;
    }
  }
  REQUIRE(failed);
  CHECK(health(http) == 503);
  CHECK(m.output().find("registry_write_failed") != std::string::npos);
  std::filesystem::remove(disk.path + "/filler");
  child again{{bin("caldera"), "weights", "set", "--master", ep, "after=3"}};
  CHECK_MESSAGE(again.wait_exit(30s) == 0, again.output() << m.output());
  CHECK(health(http) == 200);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

TEST_CASE("a full disk under an agent's checkpoint: the task fails naming it, the agent takes no "
          "tasks until it is freed") {
  temp_dir dir;
  small_disk disk{dir.path + "/disk"};
  if (!disk.ok) {
    MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child m{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir", dir.path + "/m",
           "--http-port", "0"}};
  REQUIRE(m.wait_for("master_listening"));
  auto mhttp = logged_endpoint(m, "http_listening");
  child a{{bin("caldera-agent"), "--master", ep, "--port", std::to_string(free_port()),
           "--work-dir", disk.path + "/a", "--http-port", "0", "--resources", "cpus:2;mem:256"}};
  REQUIRE(a.wait_for("agent_registered"));
  auto ahttp = logged_endpoint(a, "http_listening");
  CHECK(health(ahttp, "/health") == 200);
  (void) std::system(("head -c 64M /dev/zero > '" + disk.path + "/filler' 2>/dev/null").c_str());
  // Launches until a checkpoint write fails: the launch itself (the task
  // fails naming the disk) or a later update (held until it is written;
  // the run then waits for it, and is stopped after 20 s).
  for (int i = 0; i < 50 && a.output().find("agent_unhealthy") == std::string::npos; ++i) {
    auto run = std::make_unique<child>(std::vector<std::string>{
      bin("caldera"), "run", "--master", ep, "--resources", "cpus:0.1;mem:8", "--offer-timeout",
      "10", "--", "true"});
    auto rc = run->wait_exit(20s);
    if (rc != 0 && rc != -1)
      CHECK_MESSAGE(run->output().find("cannot checkpoint") != std::string::npos, run->output());
  }
  REQUIRE(a.wait_for("agent_unhealthy"));
  REQUIRE(m.wait_for("agent_unhealthy"));
  CHECK(health(ahttp, "/health") == 503);
  CHECK(get(ahttp, "/health").find("cannot write its checkpoint") != std::string::npos);
  // The master's state page shows it from its next published snapshot (each
  // try a request: bounded, no sleep).
  bool shown = false;
  for (int i = 0; i < 5000 && !shown; ++i)
    shown = get(mhttp, "/master/state").find("\"unhealthy\"") != std::string::npos;
  CHECK(shown);
  std::filesystem::remove(disk.path + "/filler");
  REQUIRE(m.wait_for("agent_healthy"));
  CHECK(health(ahttp, "/health") == 200);
  child run{{bin("caldera"), "run", "--master", ep, "--resources", "cpus:0.1;mem:8",
             "--offer-timeout", "10", "--", "true"}};
  CHECK_MESSAGE(run.wait_exit(60s) == 0, run.output());
  a.signal(SIGTERM);
  CHECK(a.wait_exit(20s) == 0);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(20s) == 0);
}

}
