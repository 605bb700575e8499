#include "sim/sim_env.hpp"

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>

namespace caldera::sim {

sim_env::sim_env(caf::actor_system& sys, uint64_t seed)
  : sys_(sys),
    seed_(seed),
    t0_(sys.clock().now()),
    links_(derive_seed(seed, "links")),
    fire_(derive_seed(seed, "buggify")),
    random_(derive_seed(seed, "secure-random")) {
}

std::string sim_env::secure_random(size_t n) {
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(random_() & 0xff);
  return out;
}

void sim_env::enable_buggify(std::function<void(const std::string&)> on_first) {
  buggify_ = true;
  on_point_ = std::move(on_first);
}

// A point is on for the whole run with odds 1 in 4 (decided by the seed and
// its name, so adding a point elsewhere changes no other point), and an on
// point fires on 1 call in 4, as FoundationDB's defaults do.
bool sim_env::buggify(std::string_view point) {
  if (!buggify_)
    return false;
  auto [it, fresh] = points_.try_emplace(std::string{point}, false);
  if (fresh) {
    it->second = derive_seed(seed_, "buggify/" + it->first) % 4 == 0;
    if (it->second && on_point_)
      on_point_(it->first);
  }
  return it->second && fire_() % 4 == 0;
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
