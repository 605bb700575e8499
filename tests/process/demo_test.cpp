// The demo's scenario at a small size, as real processes: a master and three
// agents, hadoop-like and mpi-like at the same time, both results checked by
// caldera-demo itself, and its summary.json and shares.svg written.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

TEST_SUITE("process") {

TEST_CASE("the demo at a small size: both frameworks share the agents and their results check") {
  temp_dir dir;
  child demo{{bin("caldera-demo"), "--small", "--out", dir.path + "/out", "--port", "0"}};
  int rc = demo.wait_exit(170s);
  INFO(demo.output());
  REQUIRE(rc == 0);
  CHECK(demo.output().find("hadoop-like word count: VERIFIED") != std::string::npos);
  CHECK(demo.output().find("VERIFIED") != std::string::npos);
  std::ifstream in{dir.path + "/out/summary.json"};
  REQUIRE(in);
  auto j = nlohmann::json::parse(in);
  auto& h = j["frameworks"]["hadoop-like"];
  auto& m = j["frameworks"]["mpi-like"];
  CHECK(h["result_verified"] == true);
  CHECK(m["result_verified"] == true);
  CHECK(h["tasks_finished"].get<int>() > 0);
  CHECK(m["tasks_finished"] == 4);
  CHECK(h["tasks_launched"].get<int>() >= h["tasks_finished"].get<int>());
  CHECK(h["locality_share"].get<double>() >= 0.0);
  std::ifstream svg{dir.path + "/out/shares.svg"};
  std::stringstream ss;
  ss << svg.rdbuf();
  CHECK(ss.str().find("<polyline") != std::string::npos);
  CHECK(ss.str().find("mpi-like") != std::string::npos);
}

TEST_CASE("the demo with --secure: TLS links, authenticated frameworks and agents, ACLs") {
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755); // tasks run as nobody: executors read their TLS key in it
  child demo{{bin("caldera-demo"), "--small", "--secure", "--out", dir.path + "/out", "--port",
              "0"}};
  int rc = demo.wait_exit(170s);
  INFO(demo.output());
  REQUIRE(rc == 0);
  CHECK(demo.output().find("a client without TLS is refused by the master") != std::string::npos);
  CHECK(demo.output().find("hadoop-like word count: VERIFIED") != std::string::npos);
  CHECK(demo.output().find("3.14159") != std::string::npos);
  std::ifstream ca{dir.path + "/out/run/pki/ca.pem"};
  CHECK(ca);
}

}
