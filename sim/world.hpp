// One simulated run: the real master (allocator, registrar), agents with
// in-process executors and simulated frameworks on CAF's test coordinator,
// every choice drawn from one seed — the cluster's shape, the workload, the
// order in which ready actors run, and the faults. Invariants are checked
// after every step; a run ends at its first violation.
//
//   safety phase:   `steps` steps, each a fault (or none) and some virtual time
//   liveness phase: every fault heals; the cluster must converge (every job
//                   done, every task terminal, nothing charged, no executor
//                   of an ended framework left)
//
// The trace (every cross-node message, every fault) is hashed; the same seed
// gives the same hash.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace caldera::sim {

struct run_options {
  uint64_t seed = 1;
  size_t steps = 200;
  /// Clusters have 1..agents_max agents.
  size_t agents_max = 20;
  /// Chance that a safety step injects a fault.
  double fault_rate = 0.35;
  /// Masters: 1 runs one standalone master (restarted after a kill); more
  /// run standby masters elected on an in-memory coordinator (issue 16).
  size_t masters = 1;
  /// Fault kinds that may be drawn: kill-master, kill-agent, partition,
  /// drop, delay, duplicate, clock-jump, kill-executor, disk-full,
  /// kill-scheduler, coordinator-cut (with standby masters) (empty: all).
  std::set<std::string> faults;
  bool allows(const std::string& kind) const { return faults.empty() || faults.count(kind) > 0; }
  /// BUGGIFY: the seed may turn rare code paths on (runtime_env::buggify);
  /// false keeps every point off.
  bool buggify = true;
  /// Print every trace line to stdout.
  bool trace = false;
  /// Daemon log lines at or above this level go into the trace ("" : none).
  std::string log_level;
};

struct run_result {
  uint64_t seed = 0;
  uint64_t hash = 0;
  size_t steps = 0;          // steps taken (safety + liveness)
  size_t trace_lines = 0;
  double virtual_seconds = 0;
  size_t agents = 0, frameworks = 0, tasks = 0, attempts = 0, finished = 0;
  uint64_t delivered = 0, dropped = 0, duplicated = 0, delayed = 0;
  std::map<std::string, size_t> faults; // kind -> how many
  std::vector<std::string> buggified;   // BUGGIFY points the seed turned on
  /// Empty: the run passed. Otherwise what broke, at which step.
  std::string violation;
  size_t violation_step = 0;
  /// The last trace lines before the end (for a failing run's report).
  std::vector<std::string> tail;
  bool ok() const { return violation.empty(); }
};

/// Runs one seed to its end.
run_result run(const run_options& opts);

} // namespace caldera::sim
