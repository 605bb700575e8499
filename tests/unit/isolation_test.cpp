// The isolators' file protocol against fake cgroup trees (both layouts, as
// found on real hosts), and the sandbox GC rule.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "agent/gc.hpp"
#include "actors/error.hpp"
#include "agent/isolation.hpp"

using namespace caldera;
namespace fs = std::filesystem;

namespace {

struct tmp {
  fs::path path;
  tmp() {
    char buf[] = "/tmp/caldera-iso-XXXXXX";
    path = ::mkdtemp(buf);
  }
  ~tmp() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream{p} << text;
}

std::string get(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Cgroup files exist in a real tree as soon as the directory is made; in a
// fake one the test writes them.
void fake_files(const fs::path& dir, std::initializer_list<const char*> names) {
  for (auto n : names)
    put(dir / n, "");
}

} // namespace

TEST_CASE("isolation: cgroup v2 (unified): memory.max, cpu.weight, cpu.max, memory.events") {
  tmp t;
  auto mount = t.path / "cgroup";
  put(mount / "cgroup.controllers", "cpuset cpu io memory pids\n");
  put(mount / "cgroup.subtree_control", "");
  put(t.path / "self", "0::/\n");
  isolation_options o;
  o.isolation = "cgroups/cpu,cgroups/mem";
  o.cgroups_enable_cfs = true;
  o.cgroup_mount = mount.string();
  o.self_cgroup_file = (t.path / "self").string();
  // The container's directory as the kernel would populate it.
  auto root = mount / "caldera";
  fake_files(root, {"cgroup.subtree_control"});
  fake_files(root / "c1", {"memory.max", "cpu.weight", "cpu.max", "memory.events", "cgroup.procs"});
  auto iso = isolation::create(o);
  REQUIRE_MESSAGE(iso, describe(iso.error()));
  CHECK((*iso)->why().find("cgroup v2") != std::string::npos);
  CHECK(get(mount / "cgroup.subtree_control") == "+cpu +memory");
  container_limits lim;
  lim.cpus = 0.5;
  lim.mem_bytes = 64 << 20;
  REQUIRE(!(*iso)->prepare("c1", lim));
  CHECK(get(root / "c1" / "memory.max") == std::to_string((64 + 32) << 20));
  CHECK(get(root / "c1" / "cpu.weight") == "50");
  CHECK(get(root / "c1" / "cpu.max") == "50000 100000");
  CHECK((*iso)->join_files("c1") == std::vector<std::string>{(root / "c1" / "cgroup.procs").string()});
  CHECK(!(*iso)->check("c1", false));
  // Memory is never lowered; cpu follows the tasks.
  lim.mem_bytes = 16 << 20;
  lim.cpus = 2;
  (*iso)->update("c1", lim);
  CHECK(get(root / "c1" / "memory.max") == std::to_string((64 + 32) << 20));
  CHECK(get(root / "c1" / "cpu.weight") == "200");
  put(root / "c1" / "memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
  put(root / "c1" / "memory.peak", std::to_string(96 << 20));
  auto l = (*iso)->check("c1", false);
  REQUIRE(l);
  CHECK(l->reason == "REASON_CONTAINER_LIMITATION_MEMORY");
  CHECK(l->message.find("memory limit 64 MiB exceeded") == 0);
  CHECK(l->message.find("96 MiB") != std::string::npos);
  put(root / "c1" / "cpu.stat", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n"
                                "nr_periods 10\nnr_throttled 4\nthrottled_usec 5\n");
  put(root / "c1" / "memory.stat", "anon 1048576\nfile 0\n");
  auto u = (*iso)->usage("c1");
  CHECK(u.cpus_user_time_secs == doctest::Approx(2.0));
  CHECK(u.cpus_system_time_secs == doctest::Approx(1.0));
  CHECK(u.cpus_nr_throttled == 4);
  CHECK(u.mem_rss_bytes == 1048576);
  CHECK(u.mem_limit_bytes == (64u + 32u) << 20);
  CHECK(u.cpus_limit == 2.0);
}

TEST_CASE("isolation: cgroup v2: controllers enabled at every level of a nested root") {
  tmp t;
  auto mount = t.path / "cgroup";
  put(mount / "cgroup.controllers", "cpuset cpu memory\n");
  put(mount / "cgroup.subtree_control", "");
  fake_files(mount / "caldera", {"cgroup.subtree_control"});
  fake_files(mount / "caldera" / "agent1", {"cgroup.subtree_control"});
  put(t.path / "self", "0::/\n");
  isolation_options o;
  o.isolation = "cgroups/mem";
  o.cgroup_mount = mount.string();
  o.self_cgroup_file = (t.path / "self").string();
  o.cgroups_root = "caldera/agent1";
  REQUIRE(isolation::create(o));
  for (auto d : {mount, mount / "caldera", mount / "caldera" / "agent1"})
    CHECK(get(d / "cgroup.subtree_control") == "+memory");
  // cpuset is not cpu.
  put(mount / "cgroup.controllers", "cpuset memory\n");
  o.isolation.clear();
  auto dflt = isolation::create(o);
  REQUIRE(dflt);
  CHECK((*dflt)->why().find("no cpu and memory controllers") != std::string::npos);
}

TEST_CASE("isolation: cgroup v2 under systemd: the agent moves to a leaf, else posix") {
  tmp t;
  auto mount = t.path / "cgroup";
  put(mount / "cgroup.controllers", "cpu memory\n");
  // The service's delegated cgroup holds the agent (and what it started).
  auto base = mount / "system.slice" / "caldera-agent.service";
  put(base / "cgroup.procs", "4242\n4343\n");
  fake_files(base, {"cgroup.subtree_control"});
  fake_files(base / "caldera", {"cgroup.subtree_control"});
  fake_files(base / "agent", {"cgroup.procs"});
  put(t.path / "self", "0::/system.slice/caldera-agent.service\n");
  isolation_options o;
  o.cgroup_mount = mount.string();
  o.self_cgroup_file = (t.path / "self").string();
  auto iso = isolation::create(o);
  REQUIRE(iso);
  CHECK((*iso)->has("cgroups/mem"));
  // Each pid written in turn (a real cgroup.procs takes each; the fake file
  // keeps the last), then the controllers enabled for the children.
  CHECK(get(base / "agent" / "cgroup.procs") == "4343");
  CHECK(get(base / "cgroup.subtree_control") == "+cpu +memory");
  // When the default cgroups cannot be set up: posix, saying why.
  fs::remove(base / "caldera" / "cgroup.subtree_control");
  iso = isolation::create(o);
  REQUIRE(iso);
  CHECK((*iso)->has("posix/mem"));
  CHECK((*iso)->why().find("default: posix, because cgroup v2: cannot enable") == 0);
  // Asked for by name, the same failure is an error.
  o.isolation = "cgroups/mem";
  CHECK_FALSE(isolation::create(o));
}

TEST_CASE("isolation: cgroup v1: memory.limit_in_bytes, cpu.shares, cfs quota, oom_control") {
  tmp t;
  auto mount = t.path / "cgroup";
  put(t.path / "self", "4:memory:/agent\n2:cpu:/\n1:cpuacct:/\n0::/\n");
  fake_files(mount / "memory", {"memory.limit_in_bytes"});
  fake_files(mount / "cpu", {"cpu.shares"});
  fake_files(mount / "cpuacct", {"cpuacct.stat"});
  fs::create_directories(mount / "memory" / "agent");
  isolation_options o;
  o.isolation = "cgroups/cpu,cgroups/mem";
  o.cgroups_enable_cfs = true;
  o.cgroup_mount = mount.string();
  o.self_cgroup_file = (t.path / "self").string();
  auto mem = mount / "memory" / "agent" / "caldera" / "c1";
  auto cpu = mount / "cpu" / "caldera" / "c1";
  auto acct = mount / "cpuacct" / "caldera" / "c1";
  fake_files(mem, {"memory.limit_in_bytes", "memory.oom_control", "memory.max_usage_in_bytes",
                   "cgroup.procs"});
  fake_files(cpu, {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cgroup.procs"});
  fake_files(acct, {"cgroup.procs"});
  auto iso = isolation::create(o);
  REQUIRE_MESSAGE(iso, describe(iso.error()));
  CHECK((*iso)->why().find("cgroup v1") != std::string::npos);
  container_limits lim;
  lim.cpus = 1.5;
  lim.mem_bytes = 128 << 20;
  REQUIRE(!(*iso)->prepare("c1", lim));
  CHECK(get(mem / "memory.limit_in_bytes") == std::to_string((128 + 32) << 20));
  CHECK(get(cpu / "cpu.shares") == "1536");
  CHECK(get(cpu / "cpu.cfs_quota_us") == "150000");
  CHECK(get(cpu / "cpu.cfs_period_us") == "100000");
  CHECK((*iso)->join_files("c1").size() == 3);
  put(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  CHECK(!(*iso)->check("c1", false));
  put(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put(mem / "memory.max_usage_in_bytes", std::to_string(160 << 20));
  auto l = (*iso)->check("c1", false);
  REQUIRE(l);
  CHECK(l->message.find("memory limit 128 MiB exceeded") == 0);
  put(acct / "cpuacct.stat", "user 250\nsystem 100\n");
  auto u = (*iso)->usage("c1");
  CHECK(u.cpus_user_time_secs == doctest::Approx(250.0 / static_cast<double>(::sysconf(_SC_CLK_TCK))));
  (*iso)->cleanup("c1");
}

TEST_CASE("isolation: names and defaults") {
  tmp t;
  put(t.path / "self", "0::/\n");
  isolation_options o;
  o.cgroup_mount = (t.path / "none").string();
  o.self_cgroup_file = (t.path / "self").string();
  auto dflt = isolation::create(o);
  REQUIRE(dflt);
  CHECK((*dflt)->names() == std::vector<std::string>{"posix/cpu", "posix/mem"});
  CHECK((*dflt)->why().find("default: posix, because no cgroup hierarchy") == 0);
  o.isolation = "cgroups/mem";
  auto refused = isolation::create(o);
  REQUIRE(!refused);
  CHECK(describe(refused.error()).find("'cgroups/mem' is not available here") != std::string::npos);
  o.isolation = "posix/mem,nope";
  REQUIRE(!isolation::create(o));
  o.isolation = "posix/cpu,posix/mem,disk/du";
  auto ok = isolation::create(o);
  REQUIRE(ok);
  CHECK((*ok)->has("disk/du"));
}

TEST_CASE("isolation: disk/du measures the sandbox and enforces the quota when asked") {
  tmp t;
  put(t.path / "self", "0::/\n");
  isolation_options o;
  o.cgroup_mount = (t.path / "none").string();
  o.self_cgroup_file = (t.path / "self").string();
  o.isolation = "posix/mem,disk/du";
  o.enforce_container_disk_quota = true;
  auto iso = isolation::create(o);
  REQUIRE(iso);
  container_limits lim;
  lim.disk_bytes = 1 << 20;
  REQUIRE(!(*iso)->prepare("c", lim));
  auto sandbox = t.path / "sandbox";
  fs::create_directories(sandbox);
  (*iso)->started("c", 0, sandbox.string());
  CHECK(!(*iso)->check("c", true));
  {
    std::ofstream big{sandbox / "big"};
    std::string mb(1 << 20, 'x');
    big << mb << mb;
  }
  auto l = (*iso)->check("c", true);
  REQUIRE(l);
  CHECK(l->reason == "REASON_CONTAINER_LIMITATION_DISK");
  CHECK((*iso)->usage("c").disk_used_bytes >= 2u << 20);
}

TEST_CASE("sandbox_gc: age limit = gc_delay x max(0, 1 - headroom - usage)") {
  using namespace std::chrono;
  sandbox_gc gc{hours(24 * 7), 0.1};
  CHECK(gc.age_limit(0.0) == duration_cast<seconds>(hours(24 * 7) * 0.9));
  CHECK(gc.age_limit(0.5).count() == static_cast<int64_t>(7 * 24 * 3600 * 0.4));
  CHECK(gc.age_limit(0.95) == seconds(0));
  tmp t;
  auto old_box = t.path / "old", new_box = t.path / "new";
  fs::create_directories(old_box);
  fs::create_directories(new_box);
  auto now = sandbox_gc::clock::now();
  gc.schedule(old_box.string(), now - hours(24 * 4));
  gc.schedule(new_box.string(), now - hours(1));
  CHECK(gc.prune(now, 0.0).empty()); // 4 days < 6.3 days
  CHECK(fs::exists(old_box));
  auto removed = gc.prune(now, 0.5); // limit 2.8 days
  CHECK(removed == std::vector<std::string>{old_box.string()});
  CHECK(!fs::exists(old_box));
  CHECK(fs::exists(new_box));
  gc.unschedule(new_box.string()); // its executor runs again
  CHECK(gc.prune(now, 1.0).empty());
  CHECK(fs::exists(new_box));
}
