// The SDK as a framework author outside this repository gets it (issue 19):
// `cmake --install` into a prefix, the example in examples/external-framework
// configured with find_package(caldera) from there, built, and run on a local
// cluster; then what its bootstrap does with a wrong endpoint, no master and
// bad options, and what find_package says when a dependency is missing.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

std::string build_dir() {
  return fs::path{CALDERA_BIN_DIR}.parent_path().string();
}

// Configures the example against `prefix`; `extra` more -D options.
std::unique_ptr<child> configure_example(const std::string& prefix, const std::string& out,
                                         std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"/usr/bin/cmake", "-S", source("examples/external-framework"),
                                "-B", out, "-G", "Ninja", "-DCMAKE_PREFIX_PATH=" + prefix,
                                "-DCMAKE_BUILD_TYPE=Release"};
  if (fs::exists("/usr/bin/ccache"))
    argv.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=/usr/bin/ccache");
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<child>(argv);
}

// The installed SDK and the example built from it (once per test run).
struct installed_example {
  temp_dir dir;
  std::string prefix = dir.path + "/prefix";
  std::string binary = dir.path + "/example/hello-framework";

  installed_example() {
    child install{{"/usr/bin/cmake", "--install", build_dir(), "--component", "dev", "--prefix",
                   prefix}};
    REQUIRE_MESSAGE(install.wait_exit(120s) == 0, install.output());
    auto cfg = configure_example(prefix, dir.path + "/example");
    REQUIRE_MESSAGE(cfg->wait_exit(120s) == 0, cfg->output());
    child build{{"/usr/bin/cmake", "--build", dir.path + "/example"}};
    REQUIRE_MESSAGE(build.wait_exit(600s) == 0, build.output());
  }
};

// Built once for all the subcases below.
installed_example& example() {
  static installed_example ex;
  return ex;
}

} // namespace

TEST_CASE("an external framework builds against the installed SDK and runs on a cluster"
          * doctest::test_suite("process")) {
  auto& ex = example();
  // What is installed: headers under include/caldera, the library, the
  // CMake package and the pkg-config file (its Requires resolved).
  CHECK(fs::exists(ex.prefix + "/include/caldera/actors/scheduler.hpp"));
  CHECK(fs::exists(ex.prefix + "/include/caldera/schemas/common.capnp.h"));
  CHECK(fs::exists(ex.prefix + "/lib/libcaldera_sdk.a"));
  CHECK_FALSE(fs::exists(ex.prefix + "/include/caldera/actors/http_server.hpp"));
  // Every caldera header the sample frameworks include (they reach only
  // the SDK) is installed.
  std::set<std::string> used;
  std::regex inc{R"re(#include "(actors/[a-z_]+\.hpp)")re"};
  for (auto dir : {"frameworks/hadoop_like", "frameworks/mpi_like"})
    for (auto& f : fs::directory_iterator{source(dir)}) {
      std::ifstream in{f.path()};
      for (std::string line; std::getline(in, line);)
        if (std::smatch m; std::regex_search(line, m, inc))
          used.insert(m[1]);
    }
  CHECK(used.size() > 3);
  for (auto& h : used)
    CHECK_MESSAGE(fs::exists(ex.prefix + "/include/caldera/" + h), h << " is not installed");
  child pc{{"/usr/bin/env", "PKG_CONFIG_PATH=" + ex.prefix + "/lib/pkgconfig", "pkg-config",
            "--cflags", "--libs", "caldera-sdk"}};
  REQUIRE_MESSAGE(pc.wait_exit(30s) == 0, pc.output());
  CHECK(pc.output().find("include/caldera") != std::string::npos);
  CHECK(pc.output().find("-lcaldera_sdk") != std::string::npos);
  CHECK(pc.output().find("-lcapnp") != std::string::npos);
  CHECK(pc.output().find("prometheus") == std::string::npos);

  temp_dir run;
  auto master_port = free_port();
  auto master_ep = "127.0.0.1:" + std::to_string(master_port);
  child master{{bin("caldera-master"), "--config", source("conf/master.conf"), "--port",
                std::to_string(master_port), "--work-dir", run.path + "/master"}};
  REQUIRE_MESSAGE(master.wait_for("master_listening"), master.output());
  auto agent_port = free_port();
  child agent{{bin("caldera-agent"), "--config", source("conf/agent.conf"), "--master", master_ep,
               "--port", std::to_string(agent_port), "--work-dir", run.path + "/agent",
               "--resources", "cpus:2;mem:512"}};
  REQUIRE_MESSAGE(agent.wait_for("agent_registered"), agent.output());

  SUBCASE("the framework runs its command tasks and its own executor's task") {
    child fw{{ex.binary, "--master", master_ep, "--tasks", "3"}};
    auto rc = fw.wait_exit(120s);
    REQUIRE_MESSAGE(rc == 0, (fw.output() + agent.output()));
    auto out = fw.output();
    CHECK(out.find("registered as") != std::string::npos);
    for (auto id : {"hello-0", "hello-1", "hello-2", "compute"})
      CHECK_MESSAGE(out.find(std::string{id} + " TASK_FINISHED") != std::string::npos, out);
    CHECK(out.find("executor says: sum of 1..1000000 is 500000500000") != std::string::npos);
  }
  SUBCASE("pointed at an agent's port, it says that is not a master, at once") {
    child fw{{ex.binary, "--master", "127.0.0.1:" + std::to_string(agent_port)}};
    CHECK(fw.wait_exit(60s) == 1);
    CHECK_MESSAGE(fw.output().find("is not a caldera master") != std::string::npos, fw.output());
  }
  SUBCASE("with no master, it gives up after --connect-timeout") {
    child fw{{ex.binary, "--master", "127.0.0.1:" + std::to_string(free_port()),
              "--connect-timeout", "1s"}};
    CHECK(fw.wait_exit(60s) == 1);
    CHECK_MESSAGE(fw.output().find("no master reached at") != std::string::npos, fw.output());
  }
  SUBCASE("bad options exit 2 naming the option") {
    child bad{{ex.binary, "--tasks", "-4"}};
    CHECK(bad.wait_exit(30s) == 2);
    CHECK_MESSAGE(bad.output().find("option 'tasks'") != std::string::npos, bad.output());
    child bad_master{{ex.binary, "--master", "nowhere"}};
    CHECK(bad_master.wait_exit(30s) == 2);
    CHECK_MESSAGE(bad_master.output().find("option 'master'") != std::string::npos,
                  bad_master.output());
  }
  agent.signal(SIGTERM);
  CHECK(agent.wait_exit(20s) == 0);
  master.signal(SIGTERM);
  CHECK(master.wait_exit(20s) == 0);
}

TEST_CASE("find_package(caldera) names a dependency that is missing"
          * doctest::test_suite("process")) {
  temp_dir dir;
  auto prefix = dir.path + "/prefix";
  child install{{"/usr/bin/cmake", "--install", build_dir(), "--component", "dev", "--prefix",
                 prefix}};
  REQUIRE_MESSAGE(install.wait_exit(120s) == 0, install.output());
  // As on a machine without Cap'n Proto's development package.
  auto cfg = configure_example(prefix, dir.path + "/example",
                               {"-DCMAKE_DISABLE_FIND_PACKAGE_CapnProto=TRUE"});
  CHECK(cfg->wait_exit(120s) != 0);
  CHECK_MESSAGE(cfg->output().find("caldera needs Cap'n Proto") != std::string::npos,
                cfg->output());
  CHECK(cfg->output().find("libcapnp-dev") != std::string::npos);
}
