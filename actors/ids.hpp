// Identifier generation from a seeded generator (never from hidden globals or
// a random device: seeds come from the runtime), so a deterministic run can
// replay the same ids.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace caldera {

class id_generator {
public:
  /// A generator to be replaced by one seeded from the runtime
  /// (`runtime_env::seed_for`) before use: a fixed seed, no random draw (an
  /// actor's member costs nothing to construct).
  id_generator() : id_generator(1) {}
  explicit id_generator(uint64_t seed);

  /// A random 8-hex-digit token, e.g. "3f9a01c2".
  std::string token();

  /// A UUID-shaped random string (for status update uuids).
  std::string uuid();

  uint64_t seed() const { return seed_; }

private:
  uint64_t seed_;
  std::mt19937_64 rng_;
};

/// Seconds since the epoch, from the wall clock (for timestamps shown to
/// people; never for scheduling decisions).
double wall_seconds();

} // namespace caldera
