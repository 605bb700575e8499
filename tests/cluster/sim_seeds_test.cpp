// Seeds of caldera-sim that found bugs, kept as regressions (docs/simulation.md
// says what each found). Each runs the whole simulated cluster on that seed
// and must pass every invariant; one checks that a run replays bit for bit.
#include <doctest/doctest.h>

#include "sim/world.hpp"

using namespace caldera::sim;

namespace {

run_result run_seed(uint64_t seed, size_t steps = 200, size_t agents_max = 20,
                    size_t masters = 1) {
  run_options o;
  o.seed = seed;
  o.steps = steps;
  o.agents_max = agents_max;
  o.masters = masters;
  return run(o);
}

void check_passes(uint64_t seed, size_t steps = 200, size_t agents_max = 20) {
  auto r = run_seed(seed, steps, agents_max);
  CHECK_MESSAGE(r.ok(), "seed " << seed << " step " << r.violation_step << ": " << r.violation);
}

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("sim seed 1 (50 steps, 5 agents): reconnection retries do not double while the master is down") {
  check_passes(1, 50, 5);
}

TEST_CASE("sim seed 3 (50 steps, 5 agents): teardown reaches idle executors") {
  check_passes(3, 50, 5);
}

TEST_CASE("sim seed 9: an agent that ends by itself on a full disk is restarted and re-registers") {
  check_passes(9);
}

TEST_CASE("sim seed 407: a framework recovered from its agents keeps its failover timeout") {
  check_passes(407);
}

TEST_CASE("sim seed 1271: an update the agent could not checkpoint is not forwarded") {
  check_passes(1271);
}

TEST_CASE("sim seed 136: unreachable is written before frameworks hear TASK_LOST") {
  check_passes(136);
}

TEST_CASE("sim seed 177: unreachable tasks an agent comes back without are TASK_GONE") {
  check_passes(177);
}

TEST_CASE("sim seed 2: an agent that answers a ping while it is written unreachable is unreachable in "
          "the master too (the registry agrees)") {
  check_passes(2);
}

TEST_CASE("sim seed 1630: the word count reconciles an attempt whose launch a restarted master forgot") {
  check_passes(1630);
}

TEST_CASE("sim seed 3681: the gang reconciles a rank whose launch a restarted master forgot") {
  check_passes(3681);
}

TEST_CASE("sim seed 4713: a lost launch is resent; a bounced error does not end the master") {
  check_passes(4713);
}

TEST_CASE("sim seed 6381: an executor whose registration was lost registers again") {
  check_passes(6381);
}

TEST_CASE("sim seed 9201: a launch queued before an agent restart reaches the executor") {
  check_passes(9201);
}

TEST_CASE("sim seed 3444: a lost teardown is asked again; no executor of it stays") {
  check_passes(3444);
}

TEST_CASE("sim seed 1023: a lost offer is rescinded and its resources offered again") {
  check_passes(1023);
}

TEST_CASE("sim seeds 2137, 3397: a reconciliation TASK_LOST is written to the unreachable agents' "
          "records; a restarted master kills the task they come back with") {
  check_passes(2137);
  check_passes(3397);
}

TEST_CASE("sim seed 1992: an executor resends an update lost on a silent link to its agent") {
  check_passes(1992);
}

TEST_CASE("sim --masters 3, seeds 89 and 218: a registry write the coordinator committed but the "
          "leader's full disk refused ends its leadership (its state would lag the commit point)") {
  for (uint64_t seed : {89, 218}) {
    auto r = run_seed(seed, 200, 20, 3);
    CHECK_MESSAGE(r.ok(), "seed " << seed << " step " << r.violation_step << ": " << r.violation);
  }
}

TEST_CASE("sim --masters 3: elections happen, and a run replays bit for bit") {
  auto a = run_seed(5, 100, 8, 3);
  auto b = run_seed(5, 100, 8, 3);
  CHECK(a.ok());
  CHECK(a.hash == b.hash);
  CHECK(a.faults["kill-process"] > 0);
  CHECK(a.faults["partition"] > 0);
}

TEST_CASE("sim seed 42 replays bit for bit") {
  auto a = run_seed(42, 100, 8);
  auto b = run_seed(42, 100, 8);
  CHECK(a.hash == b.hash);
  CHECK(a.trace_lines == b.trace_lines);
  CHECK(a.trace_lines > 1000);
}

}
