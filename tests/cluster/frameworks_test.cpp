// The sample frameworks on an in-process cluster: exact MapReduce results,
// delay scheduling raising locality, gangs launched whole or not at all,
// both frameworks sharing the agents, and an agent crashing mid-job.
#include "tests/cluster/fixture.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "frameworks/hadoop_like/executor.hpp"
#include "frameworks/hadoop_like/scheduler.hpp"
#include "frameworks/mpi_like/executor.hpp"
#include "frameworks/mpi_like/scheduler.hpp"

using namespace caldera;
using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// Executors of both frameworks, by executor id; remembers which agent
// started each, so that a test can crash an agent with its executors.
struct executors {
  struct rec {
    caf::actor_addr agent;
    caf::actor_addr exec;
    std::string id;
  };
  std::shared_ptr<std::vector<rec>> spawned = std::make_shared<std::vector<rec>>();

  executor_factory factory() {
    return [s = spawned](caf::actor_system& sys, executor_options o) {
      auto agent = o.agent.address();
      auto id = o.executor_id;
      caf::actor a;
      if (o.executor_id.rfind("tasktracker-", 0) == 0)
        a = sys.spawn<hadoop::hadoop_executor>(std::move(o), true);
      else
        a = sys.spawn<mpi::mpi_executor>(std::move(o), true);
      s->push_back({agent, a.address(), id});
      return a;
    };
  }

  /// Whether agent `a` started an executor whose id starts with `prefix`.
  bool started(const caf::actor& a, const std::string& prefix) const {
    for (auto& r : *spawned)
      if (r.agent == a.address() && r.id.rfind(prefix, 0) == 0)
        return true;
    return false;
  }

  /// Kills every executor agent `a` started (a machine failure, with the
  /// agent itself killed by the caller).
  void kill_of(const caf::actor& a) {
    for (auto& r : *spawned)
      if (r.agent == a.address())
        if (auto h = caf::actor_cast<caf::actor>(r.exec))
          caf::anon_send_exit(h, caf::exit_reason::kill);
  }
};

// `files` text files of `lines` lines of words, and a placement file putting
// file k on host (k % hosts) -- or on the hosts listed in `only`.
struct input_set {
  std::filesystem::path dir;
  std::string input, output, placement;

  input_set(const std::filesystem::path& base, int files, int lines, uint64_t seed,
            const std::vector<std::string>& hosts) {
    dir = base;
    input = (base / "in").string();
    output = (base / "out").string();
    placement = (base / "placement").string();
    std::filesystem::create_directories(input);
    std::mt19937_64 rng{seed};
    const char* words[] = {"mesos", "caldera", "offer", "agent", "framework", "task",
                           "drf", "share", "actor", "capnp", "rocks", "gang"};
    std::ofstream place{placement};
    for (int f = 0; f < files; ++f) {
      auto name = "part" + std::to_string(f) + ".txt";
      std::ofstream out{std::filesystem::path{input} / name};
      for (int l = 0; l < lines; ++l) {
        for (int w = 0; w < 10; ++w)
          out << (w ? " " : "") << words[rng() % 12] << (rng() % 7 == 0 ? "," : "");
        out << "\n";
      }
      place << name << " " << hosts[static_cast<size_t>(f) % hosts.size()] << "\n";
    }
  }
};

template <class Pred>
void advance_until(cluster& c, Pred done, int max_seconds = 600) {
  for (int i = 0; i < max_seconds && !done(); ++i)
    c.advance(1s);
  REQUIRE(done());
}

hadoop::hadoop_options job(const input_set& in, hadoop::job_kind kind = hadoop::job_kind::wordcount) {
  hadoop::hadoop_options ho;
  ho.kind = kind;
  ho.pattern = "[a-z]*e[a-z]*";
  ho.input = in.input;
  ho.output = in.output;
  ho.placement = in.placement;
  ho.reducers = 3;
  ho.split_bytes = 2048;
  return ho;
}

void check_exact(const hadoop::hadoop_options& ho) {
  auto got = hadoop::read_output(ho.output);
  auto want = hadoop::count_directly(ho.kind, ho.pattern, ho.input);
  REQUIRE(got);
  REQUIRE(want);
  CHECK(want->size() > 3);
  CHECK(*got == *want);
  CHECK(std::filesystem::exists(std::filesystem::path{ho.output} / "_SUCCESS"));
}

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("hadoop_like word count and grep on three agents give exact results") {
  for (auto kind : {hadoop::job_kind::wordcount, hadoop::job_kind::grep}) {
    CAPTURE(static_cast<int>(kind));
    executors ex;
    cluster c{3, "cpus:2;mem:1024", ex.factory()};
    input_set in{c.dir / "job", 6, 400, 7, {"host0", "host1", "host2"}};
    auto ho = job(in, kind);
    auto report = std::make_shared<hadoop::hadoop_report>();
    scheduler_options so;
    so.master = c.master;
    c.spawn<hadoop::hadoop_scheduler>(so, ho, report);
    advance_until(c, [&] { return report->done; });
    REQUIRE_MESSAGE(report->succeeded, report->message);
    check_exact(ho);
    CHECK(report->maps > 6);
    CHECK(report->failed == 0);
    // Every agent holds some splits and has free slots: all maps local.
    CHECK(report->locality() == 1.0);
  }
}

TEST_CASE("delay scheduling raises the share of node-local maps") {
  auto locality = [](caf::timespan wait) {
    executors ex;
    // Few slots; the input lives on host0 and host1 only.
    cluster c{3, "cpus:1;mem:1024", ex.factory()};
    input_set in{c.dir / "job", 8, 300, 11, {"host0", "host1"}};
    auto ho = job(in);
    ho.locality_wait = wait;
    auto report = std::make_shared<hadoop::hadoop_report>();
    scheduler_options so;
    so.master = c.master;
    c.spawn<hadoop::hadoop_scheduler>(so, ho, report);
    advance_until(c, [&] { return report->done; });
    REQUIRE_MESSAGE(report->succeeded, report->message);
    check_exact(ho);
    return report->locality();
  };
  auto without = locality(0s);
  auto with = locality(3s);
  MESSAGE("node-local maps: " << without << " without delay scheduling, " << with
                              << " with a 3 s locality wait");
  CHECK(with >= 0.9);
  CHECK(with > without);
}

TEST_CASE("mpi_like: a gang of 6 ranks on 3 agents computes pi, launched whole") {
  executors ex;
  cluster c{3, "cpus:2;mem:1024", ex.factory()};
  mpi::mpi_options mo;
  mo.ranks = 6;
  mo.rank_resources = "cpus:1;mem:64";
  auto report = std::make_shared<mpi::mpi_report>();
  scheduler_options so;
  so.master = c.master;
  c.spawn<mpi::mpi_scheduler>(so, mo, report);
  advance_until(c, [&] { return report->done; });
  REQUIRE_MESSAGE(report->succeeded, report->message);
  CHECK(std::fabs(report->result - M_PI) < 1e-8);
  CHECK(report->attempts == 1);
  CHECK(report->partial == 0);
  CHECK(report->finished == 6);
}

TEST_CASE("a gang that cannot be placed backs off; the other framework is not starved") {
  executors ex;
  cluster c{3, "cpus:2;mem:1024", ex.factory()};
  // 8 ranks of one cpu never fit in 6 cpus.
  mpi::mpi_options mo;
  mo.ranks = 8;
  mo.rank_resources = "cpus:1;mem:64";
  mo.gang_timeout = 5s;
  auto mreport = std::make_shared<mpi::mpi_report>();
  scheduler_options so;
  so.master = c.master;
  so.name = "mpi";
  auto mpi_sched = c.spawn<mpi::mpi_scheduler>(so, mo, mreport);
  input_set in{c.dir / "job", 6, 300, 3, {"host0", "host1", "host2"}};
  auto ho = job(in);
  auto hreport = std::make_shared<hadoop::hadoop_report>();
  so.name = "hadoop";
  c.spawn<hadoop::hadoop_scheduler>(so, ho, hreport);
  advance_until(c, [&] { return hreport->done; });
  REQUIRE_MESSAGE(hreport->succeeded, hreport->message);
  check_exact(ho);
  advance_until(c, [&] { return mreport->gang_timeouts >= 2; }, 60);
  CHECK(mreport->launched == 0);
  CHECK(mreport->partial == 0);
  CHECK_FALSE(mreport->done);
  // Nothing of the gang ever ran.
  auto st = c.state();
  auto v = st.read();
  for (auto t : v->getTasks())
    CHECK(std::string{t.getId()}.rfind("rank-", 0) != 0);
}

TEST_CASE("an agent crashes mid-job: both jobs still finish with exact results") {
  executors ex;
  cluster c{3, "cpus:2;mem:1024", ex.factory()};
  MESSAGE("seed=" << c.seed);
  input_set in{c.dir / "job", 9, 400, 5, {"host0", "host1", "host2"}};
  auto ho = job(in);
  ho.task_resources = "cpus:0.5;mem:64";
  auto hreport = std::make_shared<hadoop::hadoop_report>();
  mpi::mpi_options mo;
  mo.ranks = 4;
  mo.rank_resources = "cpus:0.5;mem:64";
  auto mreport = std::make_shared<mpi::mpi_report>();
  scheduler_options so;
  so.master = c.master;
  so.failover_timeout = 3600;
  // Message by message: the word count gets going (map outputs on every
  // agent), the gang is launched, then an agent running both crashes with
  // everything it runs.
  auto step_until = [&](auto pred) {
    for (int i = 0; i < 2'000'000 && !pred(); ++i)
      if (!c.sched->try_run_once())
        c.sched->advance_time(100ms);
    REQUIRE(pred());
  };
  c.others.push_back(c.sys->spawn<hadoop::hadoop_scheduler>(so, ho, hreport));
  step_until([&] { return hreport->finished >= 30; });
  c.others.push_back(c.sys->spawn<mpi::mpi_scheduler>(so, mo, mreport));
  size_t victim = 0;
  step_until([&] {
    for (size_t i = 0; i < c.agents.size(); ++i)
      if (ex.started(c.agents[i], "rank-") && ex.started(c.agents[i], "tasktracker-")) {
        victim = i;
        return true;
      }
    return false;
  });
  MESSAGE("crashing agent " << victim);
  ex.kill_of(c.agents[victim]);
  c.stop_agent(victim);
  CHECK_FALSE(hreport->done);
  CHECK_FALSE(mreport->done);
  advance_until(c, [&] { return hreport->done && mreport->done; });
  REQUIRE_MESSAGE(hreport->succeeded, hreport->message);
  REQUIRE_MESSAGE(mreport->succeeded, mreport->message);
  check_exact(ho);
  CHECK(std::fabs(mreport->result - M_PI) < 1e-8);
  CHECK(mreport->partial == 0);
  // The crash cost both something.
  CHECK(hreport->failed + hreport->recomputed > 0);
  CHECK(mreport->attempts >= 2);
  MESSAGE("hadoop: failed attempts " << hreport->failed << ", recomputed maps "
                                     << hreport->recomputed << "; mpi: gang attempts "
                                     << mreport->attempts);
}

}

TEST_SUITE("cluster") {

TEST_CASE("hadoop_like retries a failing map on other agents, then fails the job at the limit") {
  executors ex;
  cluster c{3, "cpus:2;mem:1024", ex.factory()};
  input_set in{c.dir / "job", 2, 50, 1, {"host0", "host1", "host2"}};
  auto ho = job(in);
  ho.split_bytes = 1 << 20; // one map per file
  ho.max_attempts = 3;
  auto report = std::make_shared<hadoop::hadoop_report>();
  scheduler_options so;
  so.master = c.master;
  so.name = "retry";
  // Splits are made at registration; the file then disappears, so its map
  // fails wherever it runs.
  auto h = c.sys->spawn<hadoop::hadoop_scheduler>(so, ho, report);
  c.others.push_back(h);
  for (int i = 0; i < 1000 && report->maps == 0; ++i)
    c.sched->try_run_once();
  REQUIRE(report->maps == 2);
  std::filesystem::remove(std::filesystem::path{in.input} / "part1.txt");
  advance_until(c, [&] { return report->done; });
  CHECK_FALSE(report->succeeded);
  CHECK(report->message.find("failed 3 times") != std::string::npos);
  CHECK(report->failed == 3);
  // The three attempts ran on three different agents.
  std::set<std::string> agents;
  auto st = c.state();
  auto v = st.read();
  for (auto t : v->getTasks())
    if (t.getState() == schema::TaskState::FAILED)
      agents.insert(t.getAgentId());
  CHECK(agents.size() == 3);
}

}
