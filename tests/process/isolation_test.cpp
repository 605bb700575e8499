// Isolation as an operator meets it: caldera-agent with --isolation, tasks
// through `caldera run`, usage through `caldera usage`.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "agent/isolation.hpp"
#include "support/process_util.hpp"

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// A master and one agent started with `agent_args`.
struct iso_cluster {
  temp_dir dir;
  uint16_t master_port = free_port();
  uint16_t agent_port = free_port();
  std::string master_ep = "127.0.0.1:" + std::to_string(master_port);
  std::string agent_ep = "127.0.0.1:" + std::to_string(agent_port);
  std::unique_ptr<child> master, agent;

  explicit iso_cluster(std::vector<std::string> agent_args) {
    // Tasks may run as another user: the sandboxes' parents must be
    // traversable (mkdtemp makes them 0700).
    ::chmod(dir.path.c_str(), 0755);
    master = std::make_unique<child>(std::vector<std::string>{
      bin("caldera-master"), "--config", source("conf/master.conf"), "--port",
      std::to_string(master_port), "--work-dir", dir.path + "/master"});
    REQUIRE_MESSAGE(master->wait_for("master_listening"), master->output());
    std::vector<std::string> argv{bin("caldera-agent"), "--config", source("conf/agent.conf"),
                                  "--master", master_ep, "--port", std::to_string(agent_port),
                                  "--work-dir", dir.path + "/agent", "--resources",
                                  "cpus:2;mem:1024;disk:1000", "--isolation_check_interval",
                                  "100ms"};
    argv.insert(argv.end(), agent_args.begin(), agent_args.end());
    agent_argv = argv;
    agent = std::make_unique<child>(argv);
    REQUIRE_MESSAGE(agent->wait_for("agent_registered"), agent->output());
  }
  std::vector<std::string> agent_argv;

  /// kill -9 the agent and start it again on the same port and work dir.
  void crash_and_restart_agent() {
    agent->signal(SIGKILL);
    agent->wait_exit(20s);
    agent = std::make_unique<child>(agent_argv);
    REQUIRE_MESSAGE(agent->wait_for("agent_recovered"), agent->output());
  }

  ~iso_cluster() {
    agent->signal(SIGTERM);
    CHECK_MESSAGE(agent->wait_exit(20s) == 0, agent->output());
    master->signal(SIGTERM);
    CHECK_MESSAGE(master->wait_exit(20s) == 0, master->output());
  }

  std::unique_ptr<child> run(std::vector<std::string> cmd, const std::string& res,
                             std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{bin("caldera"), "run", "--master", master_ep,
                                  "--resources", res, "--offer-timeout", "30"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--");
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return std::make_unique<child>(argv);
  }
};

bool cgroups_usable() {
  isolation_options o;
  o.isolation = "cgroups/mem";
  o.cgroups_root = "caldera-probe";
  return static_cast<bool>(isolation::create(o));
}

// Holds ~200 MiB resident until killed (dash keeps the string).
const std::vector<std::string> hog_and_hold{
  "/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 60"};

} // namespace

TEST_CASE("cgroups/mem: a task over its memory fails with REASON_CONTAINER_LIMITATION_MEMORY") {
  if (!cgroups_usable()) {
    MESSAGE("skipped: no writable cgroup hierarchy with the memory controller here");
    return;
  }
  iso_cluster c{{"--isolation", "cgroups/cpu,cgroups/mem"}};
  CHECK(c.agent->output().find("isolators=\"cgroups/cpu,cgroups/mem\"") != std::string::npos);
  auto r = c.run({"/bin/sh", "-c", "head -c 300000000 /dev/zero | tail"}, "cpus:0.5;mem:64");
  int rc = r->wait_exit(60s);
  CHECK_MESSAGE(rc != 0, r->output());
  CHECK_MESSAGE(r->output().find("TASK_FAILED") != std::string::npos, r->output());
  CHECK_MESSAGE(r->output().find("REASON_CONTAINER_LIMITATION_MEMORY") != std::string::npos,
                r->output());
  CHECK_MESSAGE(r->output().find("memory limit 64 MiB exceeded") != std::string::npos,
                r->output());
  // A task within its limit is not touched.
  auto ok = c.run({"/bin/sh", "-c", "head -c 20000000 /dev/zero | tail | wc -c"},
                  "cpus:0.5;mem:64");
  CHECK_MESSAGE(ok->wait_exit(60s) == 0, ok->output());
}

TEST_CASE("posix/mem: a container over its memory is killed with the same reason") {
  iso_cluster c{{"--isolation", "posix/cpu,posix/mem"}};
  auto r = c.run(hog_and_hold, "cpus:0.5;mem:64");
  int rc = r->wait_exit(60s);
  CHECK_MESSAGE(rc != 0, r->output());
  CHECK_MESSAGE(r->output().find("REASON_CONTAINER_LIMITATION_MEMORY") != std::string::npos,
                r->output());
  CHECK_MESSAGE(r->output().find("memory limit 64 MiB exceeded: resident") != std::string::npos,
                r->output());
}

TEST_CASE("disk/du: a sandbox over its disk fails with REASON_CONTAINER_LIMITATION_DISK") {
  iso_cluster c{{"--isolation", "posix/cpu,posix/mem,disk/du", "--enforce_container_disk_quota",
                 "--disk_watch_interval", "200ms"}};
  auto r = c.run({"/bin/sh", "-c", "head -c 20000000 /dev/zero > big; sleep 60"},
                 "cpus:0.5;mem:64;disk:10");
  CHECK_MESSAGE(r->wait_exit(60s) != 0, r->output());
  CHECK_MESSAGE(r->output().find("REASON_CONTAINER_LIMITATION_DISK") != std::string::npos,
                r->output());
  CHECK_MESSAGE(r->output().find("disk limit 10 MiB exceeded") != std::string::npos, r->output());
}

TEST_CASE("users: tasks run as their user; unknown and refused users fail clearly") {
  if (::geteuid() != 0 || ::getpwnam("nobody") == nullptr) {
    MESSAGE("skipped: switching users needs root and a 'nobody' user");
    return;
  }
  iso_cluster c{{"--allowed_users", "root,nobody"}};
  auto who = c.run({"/bin/sh", "-c", "id -un; touch mine"}, "cpus:0.1;mem:32", {"--user", "nobody"});
  REQUIRE_MESSAGE(who->wait_exit(60s) == 0, who->output());
  // The sandbox and what the task wrote belong to nobody.
  namespace fs = std::filesystem;
  bool found = false;
  for (auto& e : fs::recursive_directory_iterator(c.dir.path + "/agent/sandboxes"))
    if (e.path().filename() == "stdout" && fs::exists(e.path().parent_path() / "mine")) {
      found = true;
      std::ifstream in{e.path()};
      std::string name;
      in >> name;
      CHECK(name == "nobody");
      struct stat st {};
      REQUIRE(::stat((e.path().parent_path() / "mine").c_str(), &st) == 0);
      CHECK(st.st_uid == ::getpwnam("nobody")->pw_uid);
      REQUIRE(::stat(e.path().parent_path().c_str(), &st) == 0);
      CHECK(st.st_uid == ::getpwnam("nobody")->pw_uid);
    }
  CHECK(found);
  auto unknown = c.run({"true"}, "cpus:0.1;mem:32", {"--user", "caldera-no-such-user"});
  CHECK(unknown->wait_exit(60s) != 0);
  CHECK_MESSAGE(unknown->output().find("user 'caldera-no-such-user' may not run tasks")
                  != std::string::npos,
                unknown->output());
  auto refused = c.run({"true"}, "cpus:0.1;mem:32", {"--user", "daemon"});
  CHECK(refused->wait_exit(60s) != 0);
  CHECK_MESSAGE(refused->output().find("user 'daemon' may not run tasks on this agent "
                                       "(allowed_users: root,nobody)")
                  != std::string::npos,
                refused->output());
}

TEST_CASE("users: an unknown user fails the task with a clear message") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: switching users needs root");
    return;
  }
  iso_cluster c{{}};
  auto unknown = c.run({"true"}, "cpus:0.1;mem:32", {"--user", "caldera-no-such-user"});
  CHECK(unknown->wait_exit(60s) != 0);
  CHECK_MESSAGE(unknown->output().find("user 'caldera-no-such-user' does not exist on this agent")
                  != std::string::npos,
                unknown->output());
  CHECK(unknown->output().find("REASON_CONTAINER_LAUNCH_FAILED") != std::string::npos);
}

TEST_CASE("caldera usage: per-executor statistics with Mesos' names") {
  iso_cluster c{{}};
  auto r = c.run({"/bin/sh", "-c", "echo started; sleep 60"}, "cpus:0.5;mem:64;disk:10");
  REQUIRE_MESSAGE(r->wait_for("TASK_RUNNING", 60s), r->output());
  child u{{bin("caldera"), "usage", "--agent", c.agent_ep, "--json"}};
  REQUIRE_MESSAGE(u.wait_exit(30s) == 0, u.output());
  auto j = nlohmann::json::parse(u.output());
  REQUIRE(j.size() == 1);
  auto s = j[0]["statistics"];
  for (auto k : {"timestamp", "cpus_user_time_secs", "cpus_system_time_secs", "cpus_limit",
                 "cpus_nr_throttled", "mem_rss_bytes", "mem_limit_bytes", "disk_used_bytes",
                 "disk_limit_bytes"})
    CHECK_MESSAGE(s.contains(k), k);
  CHECK(s["cpus_limit"] == 0.5);
  CHECK(s["mem_limit_bytes"] == (64 + 32) << 20);
  CHECK(s["disk_limit_bytes"] == 10 << 20);
  CHECK(s["mem_rss_bytes"].get<uint64_t>() > 0);
  CHECK(s["processes"].get<int>() >= 1);
  child table{{bin("caldera"), "usage", "--agent", c.agent_ep}};
  REQUIRE(table.wait_exit(30s) == 0);
  CHECK(table.output().find("RSS_MIB") != std::string::npos);
  r->signal(SIGINT); // caldera run kills its task and exits
  r->wait_exit(30s);
}

TEST_CASE("sandbox GC: an ended executor's sandbox goes after gc_delay, a running one stays") {
  iso_cluster c{{"--gc_delay", "1s", "--disk_watch_interval", "200ms"}};
  auto running = c.run({"/bin/sh", "-c", "sleep 60"}, "cpus:0.1;mem:32");
  REQUIRE_MESSAGE(running->wait_for("TASK_RUNNING", 60s), running->output());
  auto done = c.run({"/bin/sh", "-c", "echo bye"}, "cpus:0.1;mem:32");
  REQUIRE_MESSAGE(done->wait_exit(60s) == 0, done->output());
  REQUIRE_MESSAGE(c.agent->wait_for("sandbox_removed", 30s), c.agent->output());
  namespace fs = std::filesystem;
  size_t left = 0;
  for (auto& fw : fs::directory_iterator(c.dir.path + "/agent/sandboxes"))
    for (auto& ex : fs::directory_iterator(fw.path())) {
      (void)ex;
      ++left;
    }
  CHECK(left == 1); // the running executor's
  running->signal(SIGINT);
  running->wait_exit(30s);
}

TEST_CASE("a recovered container is limited again: the restarted agent kills it over its memory") {
  iso_cluster c{{"--isolation", "posix/cpu,posix/mem"}};
  // The hog starts once the agent is back (or before: the limit is learnt
  // again on recovery either way) and holds its memory until killed.
  auto r = c.run({"/bin/sh", "-c",
                  "while [ ! -e go ]; do sleep 0.1; done; "
                  "x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 60"},
                 "cpus:0.5;mem:64");
  REQUIRE_MESSAGE(r->wait_for("TASK_RUNNING", 60s), r->output());
  c.crash_and_restart_agent();
  namespace fs = std::filesystem;
  for (auto& fw : fs::directory_iterator(c.dir.path + "/agent/sandboxes"))
    for (auto& ex : fs::directory_iterator(fw.path()))
      std::ofstream{ex.path() / "go"} << "\n";
  CHECK_MESSAGE(r->wait_exit(60s) != 0, r->output());
  auto both = r->output() + c.agent->output();
  CHECK_MESSAGE(r->output().find("REASON_CONTAINER_LIMITATION_MEMORY") != std::string::npos, both);
}

namespace {

// What a task leaves running when its shell ends is killed with it: found
// through its cgroups (cgroups/), or its session in /proc (posix/); a process
// in a session of its own escapes only the second.
void leftover_is_killed(const std::string& isolators, bool own_session) {
  iso_cluster c{{"--isolation", isolators}};
  auto pidfile = c.dir.path + "/leftover.pid";
  std::string start = own_session ? "setsid sleep 300" : "set -m; sleep 300";
  auto r = c.run({"/bin/sh", "-c", start + " </dev/null >/dev/null 2>&1 & echo $! > " + pidfile},
                 "cpus:0.1;mem:32");
  REQUIRE_MESSAGE(r->wait_exit(60s) == 0, r->output());
  long pid = 0;
  std::ifstream{pidfile} >> pid;
  REQUIRE(pid > 1);
  // Killed when the task ended: gone (or a zombie of init) within moments.
  auto alive = [pid] {
    std::ifstream st{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text;
    std::getline(st, text);
    auto close = text.rfind(')');
    return close != std::string::npos && text.size() > close + 2 && text[close + 2] != 'Z';
  };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (alive() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms); // polls its end; bounded
  CHECK_FALSE(alive());
  if (alive())
    ::kill(static_cast<pid_t>(pid), SIGKILL);
}

} // namespace

TEST_CASE("posix/: a process the task left in its session ends with the task") {
  leftover_is_killed("posix/cpu,posix/mem", false);
}

TEST_CASE("cgroups/: a process the task left, even in a session of its own, ends with it") {
  if (!cgroups_usable()) {
    MESSAGE("skipped: no writable cgroup hierarchy with the memory controller here");
    return;
  }
  leftover_is_killed("cgroups/cpu,cgroups/mem", true);
}

TEST_CASE("cgroups of a killed agent's containers are removed by the next agent") {
  if (!cgroups_usable()) {
    MESSAGE("skipped: no writable cgroup hierarchy with the memory controller here");
    return;
  }
  iso_cluster c{{"--isolation", "cgroups/cpu,cgroups/mem"}};
  auto r = c.run({"/bin/sh", "-c", "sleep 60"}, "cpus:0.1;mem:32");
  REQUIRE_MESSAGE(r->wait_for("TASK_RUNNING", 60s), r->output());
  c.agent_argv.push_back("--recover");
  c.agent_argv.push_back("cleanup");
  c.agent->signal(SIGKILL);
  c.agent->wait_exit(20s);
  c.agent = std::make_unique<child>(c.agent_argv);
  CHECK_MESSAGE(c.agent->wait_for("stale_cgroups_removed count=1", 30s), c.agent->output());
  CHECK_MESSAGE(r->wait_exit(60s) != 0, r->output());
}

TEST_CASE("an agent stopped by SIGTERM leaves no container cgroup behind") {
  namespace fs = std::filesystem;
  if (!cgroups_usable()) {
    MESSAGE("skipped: no writable cgroup hierarchy with the memory controller here");
    return;
  }
  // The memory controller's hierarchy (v1) or the unified one (v2), and
  // this process's place in it: the agent, a child, starts there.
  std::ifstream self{"/proc/self/cgroup"};
  std::string line, base;
  while (std::getline(self, line)) {
    auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    auto controllers = line.substr(c1 + 1, c2 - c1 - 1);
    auto path = line.substr(c2 + 1);
    if (controllers == "memory" || controllers.find("memory,") == 0)
      base = "/sys/fs/cgroup/memory" + (path == "/" ? std::string{} : path);
    else if (controllers.empty() && base.empty() && fs::exists("/sys/fs/cgroup/cgroup.controllers"))
      base = "/sys/fs/cgroup" + (path == "/" ? std::string{} : path);
  }
  REQUIRE(!base.empty());
  iso_cluster c{{"--isolation", "cgroups/cpu,cgroups/mem"}};
  // Where the agent (a child of this process, in its cgroup) puts containers.
  char ns[17];
  auto wd = fs::absolute(c.dir.path + "/agent").lexically_normal().string();
  std::snprintf(ns, sizeof(ns), "%016zx", std::hash<std::string>{}(wd));
  fs::path root = base + "/caldera/" + ns;
  auto r = c.run({"/bin/sh", "-c", "sleep 60"}, "cpus:0.1;mem:32");
  REQUIRE_MESSAGE(r->wait_for("TASK_RUNNING", 60s), r->output());
  auto containers = [&] {
    size_t n = 0;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(root, ec))
      n += e.is_directory(ec) ? 1 : 0;
    return n;
  };
  REQUIRE(containers() == 1);
  c.agent->signal(SIGTERM);
  CHECK(c.agent->wait_exit(20s) == 0);
  CHECK(containers() == 0);
  c.agent = std::make_unique<child>(c.agent_argv); // for the cluster's own stop
  REQUIRE(c.agent->wait_for("agent_reregistered"));
}
