// bench-allocator: the cost of one allocation cycle of the allocator core,
// on the workload of Mesos' HierarchicalAllocator_BENCHMARK_Test.DeclineOffers:
// N identical agents, M frameworks that each launch one task on every offer
// they get and decline the rest with a long filter.
//
//   build/bin/bench-allocator                         # agents {1k,10k,50k} x frameworks {100,1k}
//   build/bin/bench-allocator --agents 10000 --frameworks 1000 [--cycles 10]
//
// Prints one JSON line per configuration:
//   {"agents":N,"frameworks":M,"cycle_ms_first":F,"cycle_ms_median":X,
//    "cycle_ms_unchanged":U,"offers":K}
// cycle_ms_first: the full cycle (every agent free, no filters yet: the first
// cycle of a fresh allocator), median over 5 fresh allocators;
// cycle_ms_median: the median wall time of `allocate()` over the measured
// cycles (the first included); offers: offers made in the median cycle;
// cycle_ms_unchanged: a cycle after one where nothing changed (every agent
// still has the resources its last framework declined, every framework has
// suppressed offers), median of 5: allocation driven by what changed costs
// next to nothing here, a sweep over every agent and framework costs most.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "master/allocator.hpp"

using namespace caldera;

namespace {

const resources& agent_resources() {
  static const auto r = *resources::parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
  return r;
}

void populate(allocator& a, size_t n_agents, size_t n_frameworks) {
  for (size_t i = 0; i < n_agents; ++i)
    a.add_agent("agent-" + std::to_string(i), agent_resources());
  for (size_t i = 0; i < n_frameworks; ++i)
    a.add_framework("framework-" + std::to_string(i), {"*"});
}

/// The wall time of one `allocate(now)` in ms, with what it offered.
std::pair<double, std::vector<allocator::allocation>> timed_cycle(
  allocator& a, allocator::time_point now) {
  auto t0 = std::chrono::steady_clock::now();
  auto offers = a.allocate(now);
  auto t1 = std::chrono::steady_clock::now();
  return {std::chrono::duration<double, std::milli>(t1 - t0).count(), std::move(offers)};
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

/// The first cycle of a fresh allocator, median over `reps` allocators.
double first_cycle_ms(size_t n_agents, size_t n_frameworks, int reps) {
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    allocator a;
    populate(a, n_agents, n_frameworks);
    ms.push_back(timed_cycle(a, allocator::time_point{}).first);
  }
  return median(ms);
}

void run(size_t n_agents, size_t n_frameworks, int cycles) {
  auto first = first_cycle_ms(n_agents, n_frameworks, 5);
  allocator a;
  populate(a, n_agents, n_frameworks);
  auto task = *resources::parse("cpus:1;mem:128");
  allocator::time_point now{};
  std::vector<std::pair<double, size_t>> samples;
  for (int c = 0; c < cycles; ++c) {
    auto [ms, offers] = timed_cycle(a, now);
    samples.emplace_back(ms, offers.size());
    // Each framework launches one task per offer and declines the rest.
    for (auto& o : offers) {
      auto rest = o.offered;
      if (rest.contains(task))
        rest -= task;
      a.recover(o.agent_id, o.framework_id, o.role, rest, now + std::chrono::hours(1));
    }
    now += std::chrono::seconds(1);
  }
  std::sort(samples.begin(), samples.end());
  auto& med = samples[samples.size() / 2];
  // Every framework is done: it suppresses offers. One cycle sees that; the
  // next ones see nothing new.
  for (size_t i = 0; i < n_frameworks; ++i)
    a.suppress("framework-" + std::to_string(i));
  a.allocate(now);
  std::vector<double> unchanged;
  for (int r = 0; r < 5; ++r)
    unchanged.push_back(timed_cycle(a, now).first);
  std::printf("{\"agents\":%zu,\"frameworks\":%zu,\"cycle_ms_first\":%.2f,"
              "\"cycle_ms_median\":%.2f,\"cycle_ms_unchanged\":%.3f,\"offers\":%zu}\n",
              n_agents, n_frameworks, first, med.first, median(unchanged), med.second);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  std::vector<size_t> agents{1000, 10000, 50000};
  std::vector<size_t> frameworks{100, 1000};
  int cycles = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: bench-allocator [--agents N] [--frameworks M] [--cycles C]\n");
      return 2;
    }
    auto v = std::stoul(argv[++i]);
    if (a == "--agents")
      agents = {v};
    else if (a == "--frameworks")
      frameworks = {v};
    else if (a == "--cycles")
      cycles = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: bench-allocator [--agents N] [--frameworks M] [--cycles C]\n");
      return 2;
    }
  }
  for (auto n : agents)
    for (auto m : frameworks)
      run(n, m, cycles);
  return 0;
}
