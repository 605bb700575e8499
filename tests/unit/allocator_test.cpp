#include <doctest/doctest.h>

#include "master/allocator.hpp"

using namespace caldera;
using namespace std::chrono_literals;

namespace {
resources R(const char* s) {
  return *resources::parse(s);
}
} // namespace

TEST_SUITE("unit") {

TEST_CASE("allocator offers each agent's free resources to one framework, round robin") {
  allocator a;
  allocator::time_point t0{};
  a.add_agent("a1", R("cpus:4;mem:1024"));
  a.add_agent("a2", R("cpus:2;mem:512"));
  a.add_framework("f1", {"*"});
  a.add_framework("f2", {"*"});
  auto out = a.allocate(t0);
  REQUIRE(out.size() == 2);
  CHECK(out[0].framework_id != out[1].framework_id);
  CHECK(out[0].offered == R("cpus:4;mem:1024"));
  // Everything is offered: nothing more until recovered.
  CHECK(a.allocate(t0).empty());
  a.recover("a1", R("cpus:4;mem:1024"));
  auto again = a.allocate(t0);
  REQUIRE(again.size() == 1);
  CHECK(again[0].agent_id == "a1");
}

TEST_CASE("allocator honours refuse filters until they expire or new resources free up") {
  allocator a;
  allocator::time_point t0{};
  a.add_agent("a1", R("cpus:4;mem:1024"));
  a.add_framework("f1", {"*"});
  auto out = a.allocate(t0);
  REQUIRE(out.size() == 1);
  a.recover("a1", R("cpus:3;mem:1000"), "f1", t0 + 5s);
  a.recover("a1", R("cpus:1;mem:24"));
  // The free set (everything) is not a subset of what was refused: offered.
  CHECK(a.allocate(t0 + 1s).size() == 1);
  a.recover("a1", R("cpus:4;mem:1024"), "f1", t0 + 5s);
  CHECK(a.allocate(t0 + 1s).empty());
  CHECK(a.allocate(t0 + 6s).size() == 1);
}

TEST_CASE("allocator: reserved resources go only to their role; suppress and revive") {
  allocator a;
  allocator::time_point t0{};
  a.add_agent("a1", R("cpus(ml):2;cpus:1"));
  a.add_framework("web", {"web"});
  auto out = a.allocate(t0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].offered == R("cpus:1"));
  a.add_framework("ml", {"ml"});
  auto ml = a.allocate(t0);
  REQUIRE(ml.size() == 1);
  CHECK(ml[0].framework_id == "ml");
  CHECK(ml[0].offered == R("cpus(ml):2"));
  a.recover("a1", ml[0].offered);
  a.suppress("ml");
  CHECK(a.allocate(t0).empty());
  a.revive("ml");
  CHECK(a.allocate(t0).size() == 1);
}

TEST_CASE("allocator never offers an agent beyond its resources") {
  allocator a;
  allocator::time_point t0{};
  a.add_agent("a1", R("cpus:2;mem:100"));
  a.add_framework("f1", {"*"});
  CHECK(a.use("a1", R("cpus:1;mem:50")));
  CHECK_FALSE(a.use("a1", R("cpus:2")));
  auto out = a.allocate(t0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].offered == R("cpus:1;mem:50"));
  // Recovering more than was taken cannot inflate the agent.
  a.recover("a1", R("cpus:5;mem:500"));
  CHECK(*a.free("a1") == R("cpus:2;mem:100"));
}

}
