#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/types.hpp"

using namespace caldera;

TEST_SUITE("unit") {

TEST_CASE("msg shares its bytes on copy and keeps them immutable") {
  auto m = make<schema::RegisterAgent>([](auto b) { b.setHostname("node-1"); });
  auto copy = m;
  CHECK(copy.same_buffer(m));
  CHECK(copy.read()->getHostname() == "node-1");
  msg<schema::RegisterAgent> empty;
  CHECK(empty.read()->getHostname() == "");
}

TEST_CASE("msg round trips through CAF's binary serializer") {
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  auto m = make<schema::RegisterAgent>([](auto b) {
    b.setHostname("node-7");
    b.setAgentId("a-1");
    auto rs = b.initResources(1);
    rs[0].setName("cpus");
    rs[0].setRole("*");
    rs[0].setScalar(2.5);
  });
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(m));
  CHECK(buf.size() >= m.size_bytes());
  register_agent_msg back;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(back));
  CHECK_FALSE(back.same_buffer(m));
  auto v = back.read();
  CHECK(v->getHostname() == "node-7");
  CHECK(v->getAgentId() == "a-1");
  CHECK(v->getResources()[0].getScalar() == 2.5);
  // A whole CAF message carrying the wrapper serializes too (what BASP does).
  auto cm = caf::make_message(m);
  std::vector<char> buf2;
  caf::binary_serializer sink2{sys, buf2};
  REQUIRE_FALSE(cm.save(sink2));
  caf::message cm2;
  caf::binary_deserializer source2{sys, buf2};
  REQUIRE_FALSE(cm2.load(source2));
  REQUIRE(cm2.match_elements<register_agent_msg>());
  CHECK(cm2.get_as<register_agent_msg>(0).read()->getHostname() == "node-7");
}

TEST_CASE("msg deserialization rejects sizes that are not whole words") {
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  size_t n = 13;
  REQUIRE_FALSE(sink.begin_sequence(n));
  std::vector<char> junk(13, 'x');
  REQUIRE_FALSE(sink.apply_raw(junk.size(), junk.data()));
  register_agent_msg back;
  caf::binary_deserializer source{sys, buf};
  CHECK(source(back));
}

TEST_CASE("garbage bytes decode lazily into a kj::Exception, not a crash") {
  auto words = kj::heapArray<capnp::word>(4);
  std::memset(words.begin(), 0xff, words.size() * sizeof(capnp::word));
  register_agent_msg bad{
    std::make_shared<const kj::Array<capnp::word>>(std::move(words))};
  bool threw = false;
  try {
    auto v = bad.read();
    std::string h = v->getHostname();
  } catch (const kj::Exception&) {
    threw = true;
  }
  CHECK(threw);
}

}
