#include "actors/ids.hpp"

#include <chrono>
#include <cstdio>

namespace caldera {

id_generator::id_generator(uint64_t seed) : seed_(seed), rng_(seed_) {
}

std::string id_generator::token() {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(rng_() & 0xffffffffu));
  return buf;
}

std::string id_generator::uuid() {
  uint64_t a = rng_(), b = rng_();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

double wall_seconds() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

} // namespace caldera
