#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "actors/error.hpp"
#include "storage/registry_store.hpp"

using namespace caldera;

TEST_SUITE("unit") {

TEST_CASE("a registry write that fails on a full disk changes nothing; the next one works") {
  auto disk = std::make_shared<memory_disk>();
  auto store = registry_store::open("/sim/master", disk->opener());
  REQUIRE(store);
  auto put = [&](const char* id) {
    registry_store::batch b;
    b.put_agent(id, make<schema::AgentRecord>([&](auto r) { r.setAgentId(id); }));
    return (*store)->apply(b);
  };
  disk->fail_writes("/sim/master", 1);
  auto err = put("S1");
  REQUIRE(err);
  CHECK(describe(err).find("No space left on device") != std::string::npos);
  CHECK_FALSE(put("S2"));
  // A master restarted on the same disk finds what was written, only that.
  auto again = registry_store::open("/sim/master", disk->opener());
  REQUIRE(again);
  auto snap = (*again)->load();
  REQUIRE(snap);
  REQUIRE(snap->agents.size() == 1);
  CHECK(snap->agents[0].read()->getAgentId() == "S2");
  CHECK(disk->failed_writes() == 1);
}

TEST_CASE("registry store keeps admitted agents and frameworks across reopen") {
  auto dir = std::filesystem::temp_directory_path()
             / ("caldera-registry-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto store = registry_store::open(dir.string());
    REQUIRE(store);
    registry_store::batch b;
    b.put_agent("S1", make<schema::AgentRecord>([](auto r) {
                  r.setAgentId("S1");
                  r.setHostname("h1");
                }));
    b.put_agent("S2", make<schema::AgentRecord>([](auto r) { r.setAgentId("S2"); }));
    b.put_framework("F1", make<schema::FrameworkRecord>([](auto r) {
                      r.initFramework().setId("F1");
                    }));
    REQUIRE_FALSE((*store)->apply(b));
    registry_store::batch rm;
    rm.remove_agent("S2");
    REQUIRE_FALSE((*store)->apply(rm));
  }
  auto store = registry_store::open(dir.string());
  REQUIRE(store);
  auto snap = (*store)->load();
  REQUIRE(snap);
  REQUIRE(snap->agents.size() == 1);
  CHECK(snap->agents[0].read()->getHostname() == "h1");
  REQUIRE(snap->frameworks.size() == 1);
  CHECK(snap->frameworks[0].read()->getFramework().getId() == "F1");
  std::filesystem::remove_all(dir);
}

TEST_CASE("registry store open fails with a clear error on an unusable path") {
  auto r = registry_store::open("/proc/caldera-cannot-create");
  REQUIRE_FALSE(r);
  CHECK(describe(r.error()).find("storage_error") != std::string::npos);
}

}
