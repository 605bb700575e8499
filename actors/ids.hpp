// Identifier generation from a seeded generator (never from hidden globals), so
// a deterministic run can replay the same ids.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace caldera {

class id_generator {
public:
  /// `seed` 0 draws a seed from std::random_device.
  explicit id_generator(uint64_t seed = 0);

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
