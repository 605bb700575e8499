// The simulated world's runtime environment: time is the actor system's
// virtual clock (CAF's test coordinator), wall time a fixed epoch plus that
// clock plus any jumps the simulation injected, seeds derive from the run's
// seed, blocking work runs inline, and every cross-node message passes the
// link table. One per simulated run; single-threaded like the coordinator.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>

#include <caf/fwd.hpp>

#include "actors/link_table.hpp"
#include "actors/runtime_env.hpp"

namespace caldera::sim {

class sim_env : public runtime_env {
public:
  /// `sys` must run on the test coordinator and outlive this environment.
  sim_env(caf::actor_system& sys, uint64_t seed);

  double wall_seconds() const override;
  std::chrono::steady_clock::time_point now() const override;
  uint64_t seed_for(std::string_view purpose) override;
  void run_blocking(std::function<void()> work) override;
  link_table* links() override { return &links_; }
  bool buggify(std::string_view point) override;
  std::string secure_random(size_t n) override;

  /// Turns BUGGIFY on for this run; `on_first` hears each point the first
  /// time it is asked for and found on (for the trace).
  void enable_buggify(std::function<void(const std::string&)> on_first);
  /// The points asked for so far, and whether each is on.
  const std::map<std::string, bool>& buggify_points() const { return points_; }

  /// Moves the wall clock by `seconds` (forward or back); monotonic time
  /// and timers are not affected, as on a machine whose clock is set.
  void jump_wall(double seconds) { jump_ += seconds; }
  /// Seconds of virtual time since the run began.
  double elapsed() const;
  link_table& table() { return links_; }

private:
  caf::actor_system& sys_;
  uint64_t seed_;
  std::chrono::steady_clock::time_point t0_;
  double jump_ = 0;
  std::map<std::string, uint64_t> drawn_;
  link_table links_;
  bool buggify_ = false;
  std::map<std::string, bool> points_;
  std::mt19937_64 fire_;
  std::mt19937_64 random_; // secure_random: the seed's stream, for replay
  std::function<void(const std::string&)> on_point_;
};

/// The wall time a simulated run starts at (2027-01-15T08:00:00Z).
inline constexpr double sim_epoch = 1'800'000'000.0;

} // namespace caldera::sim
