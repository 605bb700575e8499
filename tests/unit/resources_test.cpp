#include <doctest/doctest.h>

#include <capnp/message.h>

#include "actors/error.hpp"
#include "actors/resources.hpp"

using caldera::resources;

TEST_SUITE("unit") {

TEST_CASE("resources parse Mesos syntax with scalars, ranges and roles") {
  auto r = resources::parse("cpus:4;mem:8192;disk:100000;ports:[31000-32000]");
  REQUIRE(r);
  CHECK(r->scalar("cpus") == 4.0);
  CHECK(r->scalar("mem") == 8192.0);
  CHECK(r->scalar("disk") == 100000.0);
  CHECK(r->to_string() == "cpus:4;disk:100000;mem:8192;ports:[31000-32000]");
  auto reserved = resources::parse("cpus(ml):2;cpus:1.5; mem(ml) : 1024 ");
  REQUIRE(reserved);
  CHECK(reserved->scalar("cpus") == 3.5);
  CHECK(reserved->of_role("ml").to_string() == "cpus(ml):2;mem(ml):1024");
  CHECK(reserved->of_role("*").to_string() == "cpus:1.5");
  CHECK(reserved->allocatable_to({"other"}).to_string() == "cpus:1.5");
  CHECK(reserved->allocatable_to({"ml"}) == *reserved);
}

TEST_CASE("resources parse rejects bad input with a reason") {
  auto expect_bad = [](const char* text, const char* fragment) {
    auto r = resources::parse(text);
    REQUIRE_FALSE(r);
    auto msg = caldera::describe(r.error());
    INFO(msg);
    CHECK(msg.find("invalid_resources") != std::string::npos);
    CHECK(msg.find(fragment) != std::string::npos);
  };
  expect_bad("cpus:-1", "negative");
  expect_bad("cpus:abc", "not a number");
  expect_bad("cpus", "expected NAME:VALUE");
  expect_bad("cpus:", "missing value");
  expect_bad("ports:[32000-31000]", "begin after its end");
  expect_bad("ports:[1-2", "must end with");
  expect_bad("cpus(ml:2", "parenthesis");
  expect_bad("cp us:2", "invalid resource name");
  expect_bad("mem:inf", "not finite");
  // Amounts that would overflow or vanish are refused, not dropped.
  expect_bad("cpus:1e300", "too large");
  expect_bad("cpus:1e300;mem:64", "too large");
  expect_bad("cpus:0.0001", "smallest amount");
  expect_bad("ports:[0-70000]", "beyond port 65535");
  // Found by bench/fuzz (resources): a name both as ranges and as a number
  // printed differently than it parsed.
  expect_bad("cpus:4;mem:1024;ports:[31000-32000];c:1024;ports:2",
             "both as ranges and as a number");
  CHECK(resources::parse("cpus:0.001;mem:1e9;ports:[1-65535]"));
}

TEST_CASE("resources arithmetic is exact and merges ranges") {
  auto a = *resources::parse("cpus:0.1;mem:64;ports:[100-110]");
  auto total = *resources::parse("cpus:1;mem:1024;ports:[100-200]");
  auto used = resources{};
  for (int i = 0; i < 10; ++i)
    used += *resources::parse("cpus:0.1");
  CHECK(used.scalar("cpus") == 1.0);
  CHECK(total.contains(a));
  CHECK_FALSE(a.contains(total));
  auto left = total - a;
  CHECK(left.to_string() == "cpus:0.9;mem:960;ports:[111-200]");
  CHECK((left + a) == total);
  auto mid = *resources::parse("ports:[150-160]");
  auto holes = total - mid;
  CHECK(holes.to_string() == "cpus:1;mem:1024;ports:[100-149,161-200]");
  CHECK_FALSE(holes.contains(mid));
  CHECK((holes + mid) == total);
  // Subtracting everything leaves nothing, never negatives.
  CHECK((a - total).empty());
}

TEST_CASE("resources round trip through Cap'n Proto") {
  auto r = *resources::parse("cpus(ml):2;mem:512;ports:[1-5,7-9]");
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<caldera::schema::Offer>();
  r.to_capnp(root.initResources(static_cast<unsigned>(r.entry_count())));
  auto back = resources::from_capnp(root.asReader().getResources());
  REQUIRE(back);
  CHECK(*back == r);
  root.getResources()[0].setScalar(-3);
  CHECK_FALSE(resources::from_capnp(root.asReader().getResources()));
}

}

TEST_SUITE("unit") {
TEST_CASE("resources: a NUL inside a value, and amounts that add up beyond 1e12, are refused "
          "(fuzz find: they printed to a string that did not parse)") {
  std::string with_nul{"s:0555555555555\0\0\0\xffucvc:[ ]", 29};
  CHECK_FALSE(caldera::resources::parse(with_nul));
  auto two = caldera::resources::parse("s:600000000000;s:600000000000");
  REQUIRE_FALSE(two);
  CHECK(caldera::describe(two.error()).find("add up to more than 1e12") != std::string::npos);
  auto fine = caldera::resources::parse("s:500000000000;s:500000000000");
  REQUIRE(fine);
  CHECK(caldera::resources::parse(fine->to_string()));
}
}
