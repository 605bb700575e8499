// Standby masters' election and fencing (master/ha.hpp) on the memory
// coordinator, with leases on a clock the test moves: one leader at a time,
// a new one only after the old lease expired, the old leader's writes
// refused by the epoch, the registry handed over through the coordinator.
#include <doctest/doctest.h>

#include <set>

#include "actors/coordinator.hpp"
#include "actors/error.hpp"
#include "actors/master_address.hpp"
#include "master/ha.hpp"

using namespace caldera;
using namespace std::chrono_literals;

namespace {

struct fixture {
  std::chrono::steady_clock::time_point t{};
  std::shared_ptr<memory_coordination> coord =
    std::make_shared<memory_coordination>([this] { return t; });

  std::unique_ptr<master_ha> master(const std::string& id) {
    leader_record me;
    me.id = id;
    me.address = "127.0.0.1:" + std::to_string(5050 + id.back() - 'a');
    return std::make_unique<master_ha>(coord->client(id), coord->client(id + "/writer"), me, 2s,
                                       [this] { return t; }, [] { return 1000.0; });
  }
};

// The registry at `dir` on `disk`.
std::unique_ptr<registry_store> open_store(memory_disk& disk, const std::string& dir) {
  auto s = registry_store::open(dir, disk.opener());
  REQUIRE(s);
  return std::move(*s);
}

// `m` joins, is elected and loads (or, the cluster's first, seeds) the
// registry into `store`.
void lead(master_ha& m, registry_store& store) {
  REQUIRE_FALSE(m.join());
  REQUIRE(m.campaign() == true);
  REQUIRE_FALSE(m.sync_registry(store));
}

registry_store::batch agent_batch(const char* id) {
  registry_store::batch b;
  b.put_agent(id, make<schema::AgentRecord>([&](auto r) { r.setAgentId(id); }));
  return b;
}

} // namespace

TEST_SUITE("unit") {

TEST_CASE("ha: one leader; a standby takes over only after the leader's lease expired") {
  fixture f;
  auto a = f.master("a");
  auto b = f.master("b");
  REQUIRE_FALSE(a->join());
  REQUIRE_FALSE(b->join());
  REQUIRE(a->campaign() == true);
  CHECK(a->leading());
  auto e1 = a->me().epoch;
  CHECK(e1 > 0);
  REQUIRE(b->campaign() == false);
  REQUIRE(b->leader());
  CHECK(b->leader()->id == "a");
  CHECK(b->leader()->epoch == e1);
  // The leader renews; the standby keeps standing by.
  std::string why;
  for (int i = 0; i < 10; ++i) {
    f.t += 600ms;
    CHECK(a->renew(why));
    CHECK(b->renew(why));
    CHECK(b->campaign() == false);
  }
  // The leader stops renewing (dead, paused): 2 s later its key is gone.
  f.t += 1000ms;
  CHECK(b->renew(why));
  CHECK(b->campaign() == false);
  f.t += 900ms;
  CHECK(b->renew(why));
  CHECK(b->campaign() == false);
  f.t += 200ms;
  CHECK(b->renew(why));
  REQUIRE(b->campaign() == true);
  CHECK(b->me().epoch > e1);
  // The old leader learns it at its next renewal: from its own clock
  // (no renewal within the TTL), before it asks.
  CHECK_FALSE(a->renew(why));
  CHECK(why.find("no lease renewal within the 2 s TTL") == 0);
}

TEST_CASE("ha: a deposed leader's registry writes are refused by the epoch; the new leader "
          "loads what the old one committed") {
  fixture f;
  auto disk = std::make_shared<memory_disk>();
  auto a = f.master("a");
  auto b = f.master("b");
  REQUIRE_FALSE(a->join());
  REQUIRE_FALSE(b->join());
  REQUIRE(a->campaign() == true);
  auto store_a = registry_store::open("/sim/a", disk->opener());
  REQUIRE(store_a);
  REQUIRE_FALSE(a->sync_registry(**store_a)); // the first leader seeds the coordinator
  std::string lost;
  a->attach(**store_a, [&](const std::string& why) { lost = why; });
  REQUIRE_FALSE((*store_a)->apply(agent_batch("S1")));
  CHECK(lost.empty());
  // a is paused past its lease; b (renewing) is elected.
  std::string why;
  f.t += 1000ms;
  CHECK(b->renew(why));
  f.t += 1100ms;
  CHECK(b->renew(why));
  REQUIRE(b->campaign() == true);
  // a wakes and writes: refused, nothing written locally, told it lost.
  auto err = (*store_a)->apply(agent_batch("S2"));
  REQUIRE(err);
  CHECK(lost.find("no longer leads") != std::string::npos);
  CHECK((*store_a)->load()->agents.size() == 1);
  // b's registry is the coordinator's: S1 only.
  auto store_b = registry_store::open("/sim/b", disk->opener());
  REQUIRE(store_b);
  REQUIRE_FALSE(b->sync_registry(**store_b));
  auto snap = (*store_b)->load();
  REQUIRE(snap);
  REQUIRE(snap->agents.size() == 1);
  CHECK(snap->agents[0].read()->getAgentId() == "S1");
  // b's disk fills: the coordinator commits a write b's store cannot take;
  // b is told, as its state would lag the commit point (found by
  // caldera-sim --masters 3, seed 89).
  std::string b_lost;
  b->attach(**store_b, [&](const std::string& why) { b_lost = why; });
  disk->fail_writes("/sim/b", 1);
  CHECK((*store_b)->apply(agent_batch("S3")));
  CHECK(b_lost.find("failed on this master's disk") != std::string::npos);
  auto committed = f.coord->client("check")->read_registry();
  REQUIRE(committed);
  CHECK(committed->count("agent/S3") == 1);
}

TEST_CASE("ha: a leader cut off from the coordinator steps down before its lease can expire") {
  fixture f;
  auto a = f.master("a");
  auto b = f.master("b");
  REQUIRE_FALSE(a->join());
  REQUIRE(a->campaign() == true);
  REQUIRE_FALSE(b->join());
  f.coord->set_reachable("a", false);
  std::string why;
  f.t += 700ms;
  CHECK(a->renew(why)); // not yet: the lease may still hold
  CHECK(a->time_left() == 1100ms);
  f.t += 700ms;
  CHECK(a->renew(why));
  CHECK(b->renew(why));
  // valid_until: a tenth of the TTL before the coordinator may let the
  // lease go. No instant has two leaders.
  f.t += 400ms;
  CHECK(a->time_left() == 0ms);
  CHECK_FALSE(a->renew(why));
  CHECK(why.find("no lease renewal within the 2 s TTL") != std::string::npos);
  CHECK(b->campaign() == false);
  f.t += 200ms;
  CHECK(b->campaign() == true);
}

TEST_CASE("ha: a registry written by another cluster is refused, naming both") {
  fixture one, two;
  auto disk = std::make_shared<memory_disk>();
  auto a = one.master("a");
  REQUIRE_FALSE(a->join());
  REQUIRE(a->campaign() == true);
  auto store_a = registry_store::open("/sim/a", disk->opener());
  REQUIRE(store_a);
  REQUIRE_FALSE(a->sync_registry(**store_a)); // seeds cluster one, naming it
  auto b = two.master("b");
  REQUIRE_FALSE(b->join());
  REQUIRE(b->campaign() == true);
  auto store_b = registry_store::open("/sim/b", disk->opener());
  REQUIRE(store_b);
  REQUIRE_FALSE(b->sync_registry(**store_b)); // cluster two
  // a's work dir, elected in cluster two: refused, nothing replaced.
  auto c = two.master("c");
  REQUIRE_FALSE(c->join());
  b->resign();
  REQUIRE(c->campaign() == true);
  REQUIRE_FALSE((*store_a)->apply(agent_batch("S1")));
  auto err = c->sync_registry(**store_a);
  REQUIRE(err);
  CHECK(describe(err).find("belongs to cluster-a, not to memory coordinator") != std::string::npos);
  CHECK(describe(err).find("(cluster-b)") != std::string::npos);
  CHECK((*store_a)->load()->agents.size() == 1);
  // A fresh work dir joins cluster two.
  auto store_c = registry_store::open("/sim/c", disk->opener());
  REQUIRE(store_c);
  CHECK_FALSE(c->sync_registry(**store_c));
}

TEST_CASE("ha: a standby keeps its registry a copy of the coordinator's; elected, it reads "
          "only what changed since") {
  fixture f;
  auto disk = std::make_shared<memory_disk>();
  auto a = f.master("a");
  auto b = f.master("b");
  auto store_a = open_store(*disk, "/sim/a");
  lead(*a, *store_a);
  REQUIRE_FALSE(b->join());
  a->attach(*store_a, [](const std::string&) {});
  REQUIRE_FALSE(store_a->apply(agent_batch("S1")));
  REQUIRE_FALSE(store_a->apply(agent_batch("S2")));
  auto store_b = open_store(*disk, "/sim/b");
  b->keep_warm(*store_b, 1s);
  auto agents_of = [](registry_store& s) {
    std::set<std::string> ids;
    auto snap = s.load(); // alive while its records are read
    for (auto& r : snap->agents)
      ids.insert(r.read()->getAgentId());
    return ids;
  };
  // The first round reads it all; the store holds it.
  REQUIRE(b->stand_by() == false);
  CHECK(b->last_catch_up().full);
  CHECK(agents_of(*store_b) == std::set<std::string>{"S1", "S2"});
  CHECK(*store_b->raw() == *f.coord->client("check")->read_registry());
  // A write and a delete: the next round (a second on) reads only them.
  auto gone = registry_store::batch{};
  gone.remove_agent("S1");
  REQUIRE_FALSE(store_a->apply(gone));
  REQUIRE_FALSE(store_a->apply(agent_batch("S3")));
  std::string why;
  f.t += 500ms;
  REQUIRE(a->renew(why));
  REQUIRE(b->stand_by() == false);
  CHECK(agents_of(*store_b) == std::set<std::string>{"S1", "S2"}); // not yet a second
  f.t += 500ms;
  REQUIRE(a->renew(why));
  REQUIRE(b->stand_by() == false);
  CHECK_FALSE(b->last_catch_up().full);
  CHECK(b->last_catch_up().changed == 1);
  CHECK(b->last_catch_up().deleted == 1);
  CHECK(agents_of(*store_b) == std::set<std::string>{"S2", "S3"});
  // The leader dies, writing once more after b's last round (and before
  // its lease could end); b, elected, reads that write only.
  auto died = f.t;
  bool wrote = false;
  while (b->stand_by() != true) {
    f.t += 100ms;
    if (!wrote && f.t >= died + 1500ms) {
      REQUIRE_FALSE(store_a->apply(agent_batch("S4")));
      wrote = true;
    }
  }
  REQUIRE(wrote);
  REQUIRE_FALSE(b->sync_registry(*store_b));
  CHECK_FALSE(b->last_catch_up().full);
  CHECK(b->last_catch_up().changed == 1);
  CHECK(b->last_catch_up().deleted == 0);
  CHECK(agents_of(*store_b) == std::set<std::string>{"S2", "S3", "S4"});
  CHECK(*store_b->raw() == *f.coord->client("check")->read_registry());
}

TEST_CASE("ha: a standby on a work dir of another cluster stops at its first round") {
  fixture one, two;
  auto disk = std::make_shared<memory_disk>();
  auto a = one.master("a");
  auto store_a = open_store(*disk, "/sim/a");
  lead(*a, *store_a); // cluster one
  auto b = two.master("b");
  auto store_b = open_store(*disk, "/sim/b");
  lead(*b, *store_b); // cluster two
  REQUIRE_FALSE(store_a->apply(agent_batch("S1")));
  auto c = two.master("c");
  REQUIRE_FALSE(c->join());
  c->keep_warm(*store_a, 1s);
  auto r = c->stand_by();
  REQUIRE_FALSE(r);
  CHECK(describe(r.error()).find("belongs to cluster-a") != std::string::npos);
  CHECK(store_a->load()->agents.size() == 1); // nothing replaced
}

TEST_CASE("ha: etcd URLs and master addresses") {
  auto u = parse_coordinator_url("etcd://127.0.0.1:2379,127.0.0.1:22379/caldera/");
  REQUIRE(u);
  CHECK(u->members.size() == 2);
  CHECK(u->prefix == "/caldera");
  CHECK(u->to_string() == "etcd://127.0.0.1:2379,127.0.0.1:22379/caldera");
  for (auto bad : {"etcd://127.0.0.1:2379", "etcd:///caldera", "etcd://host/caldera",
                   "etcd://127.0.0.1:2379/", "http://127.0.0.1:2379/x"})
    CHECK_MESSAGE(!parse_coordinator_url(bad), bad);
  auto tls = parse_coordinator_url(
    "etcd://127.0.0.1:2379/caldera?cafile=/etc/hostname&certificate=/etc/hostname&key=/etc/hostname");
  REQUIRE(tls);
  CHECK(tls->tls());
  CHECK(tls->prefix == "/caldera");
  CHECK(tls->to_string() == "etcd://127.0.0.1:2379/caldera");
  for (auto bad : {"etcd://127.0.0.1:2379/caldera?cafile=/etc/hostname",
                   "etcd://127.0.0.1:2379/caldera?cafile=/nonexistent&certificate=/etc/hostname"
                   "&key=/etc/hostname",
                   "etcd://127.0.0.1:2379/caldera?user=x"})
    CHECK_MESSAGE(!parse_coordinator_url(bad), bad);
  auto list = parse_master_address("127.0.0.1:5050,127.0.0.1:5051");
  REQUIRE(list);
  CHECK(list->masters.size() == 2);
  CHECK_FALSE(list->coordinator);
  auto e = parse_master_address("etcd://127.0.0.1:2379/caldera");
  REQUIRE(e);
  CHECK(e->coordinator);
  CHECK_FALSE(parse_master_address("127.0.0.1:5050,"));
  CHECK_FALSE(parse_master_address(""));
  auto rec = leader_record::from_json(R"({"id":"m1","address":"127.0.0.1:5050"})");
  REQUIRE(rec);
  CHECK(rec->address == "127.0.0.1:5050");
  CHECK_FALSE(leader_record::from_json("{\"id\": 3}"));
}

} // TEST_SUITE
