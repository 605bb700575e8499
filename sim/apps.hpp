// The sample frameworks in the simulation: a hadoop-like word count whose
// output is checked against a direct count, and an mpi-like gang whose pi is
// checked. Their executors are the frameworks' own, in-process.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/executor.hpp"
#include "actors/scheduler.hpp"

namespace caldera::sim {

class sample_apps {
public:
  /// Input files for the word count go under `dir`, placed on `hosts`.
  sample_apps(std::filesystem::path dir, uint64_t seed);
  ~sample_apps();

  /// The executor of a sample framework for `o` (by its executor id), or
  /// nothing when it is not one of theirs.
  caf::actor spawn_executor(caf::actor_system& sys, executor_options o);

  /// Starts the word count (`files` inputs) / the gang (`ranks`).
  caf::actor start_hadoop(caf::actor_system& sys, scheduler_options so, size_t files,
                          size_t hosts);
  caf::actor start_mpi(caf::actor_system& sys, scheduler_options so, uint32_t ranks);

  bool done() const;
  /// Empty when both (those started) ended with an exact result; else why not.
  std::string problem() const;
  std::string summary() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace caldera::sim
