#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// Runs a daemon that must refuse to start; returns its output.
std::string refused(std::vector<std::string> argv) {
  child c{std::move(argv)};
  int rc = c.wait_exit(30s);
  INFO(c.output());
  CHECK(rc != 0);
  CHECK(rc != -1);
  return c.output();
}

bool has(const std::string& out, const std::string& text) {
  return out.find(text) != std::string::npos;
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("daemons refuse bad configuration with a message naming the option") {
  temp_dir dir;
  auto agent = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{bin("caldera-agent"), "--work-dir", dir.path + "/a",
                                  "--port", std::to_string(free_port())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return refused(argv);
  };
  auto out = agent({"--resources", "cpus:-1"});
  CHECK(has(out, "option 'resources'"));
  CHECK(has(out, "negative"));
  out = agent({"--resources", "cpus:abc"});
  CHECK(has(out, "option 'resources'"));
  CHECK(has(out, "not a number"));
  out = agent({"--bogus", "1"});
  CHECK(has(out, "unknown option '--bogus'"));
  out = agent({"--config", dir.path + "/missing.conf"});
  CHECK(has(out, "cannot read config file"));
  out = agent({"--master", "nohost"});
  CHECK(has(out, "option 'master'"));
  out = agent({"--port", "70000"});
  CHECK(has(out, "port"));

  std::string conf = dir.path + "/bad.conf";
  {
    std::ofstream f{conf};
    f << "# a comment\nresources=cpus:4;mem:x\n";
  }
  out = agent({"--config", conf});
  CHECK(has(out, "resources"));

  out = refused({bin("caldera-master"), "--work-dir", dir.path + "/m",
                 "--allocation-interval", "soon"});
  CHECK(has(out, "allocation-interval"));
  out = refused({bin("caldera-master"), "--work-dir", dir.path + "/m", "--port"});
  CHECK(has(out, "needs a value"));
  out = refused({bin("caldera-master"), "--work-dir", dir.path + "/m", "--role-weights",
                 "hadoop=0"});
  CHECK(has(out, "option 'role-weights'"));
  out = refused({bin("caldera-master"), "--work-dir", dir.path + "/m", "--role-weights",
                 "a b=1"});
  CHECK(has(out, "not a valid role"));
  out = refused({bin("caldera-master"), "--work-dir", dir.path + "/m", "--http-port", "70000"});
  CHECK(has(out, "option 'http-port'"));
  out = agent({"--recover", "sometimes"});
  CHECK(has(out, "option 'recover'"));
  out = agent({"--http-port", "-5"});
  CHECK(has(out, "option 'http-port'"));
  out = agent({"--isolation", "cgroups/cpu,foo/bar"});
  CHECK(has(out, "option 'isolation': unknown isolator 'foo/bar'"));
  CHECK(!has(out, "invalid_config"));
  out = agent({"--isolation", "posix/mem,cgroups/mem"});
  CHECK(has(out, "option 'isolation'"));
  out = agent({"--gc_disk_headroom", "2"});
  CHECK(has(out, "option 'gc_disk_headroom'"));
  out = agent({"--switch_user=maybe"});
  CHECK(has(out, "'maybe' is neither true nor false"));
}

}
