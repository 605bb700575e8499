#include "sim/sim_env.hpp"

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>

namespace caldera::sim {

sim_env::sim_env(caf::actor_system& sys, uint64_t seed)
  : sys_(sys), seed_(seed), t0_(sys.clock().now()), links_(derive_seed(seed, "links")) {
}

double sim_env::elapsed() const {
  return std::chrono::duration<double>(sys_.clock().now() - t0_).count();
}

double sim_env::wall_seconds() const {
  return sim_epoch + elapsed() + jump_;
}

std::chrono::steady_clock::time_point sim_env::now() const {
  return sys_.clock().now();
}

uint64_t sim_env::seed_for(std::string_view purpose) {
  auto n = ++drawn_[std::string{purpose}];
  return derive_seed(seed_, std::string{purpose} + "#" + std::to_string(n));
}

void sim_env::run_blocking(std::function<void()> work) {
  work();
}

} // namespace caldera::sim
