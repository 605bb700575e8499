#include "actors/runtime_env.hpp"

#include <map>
#include <stdexcept>
#include <mutex>
#include <thread>

#include "actors/coordinator.hpp"
#include "actors/ids.hpp"

#include <openssl/rand.h>

namespace caldera {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// A seed from the machine's CSPRNG (an unseeded run's base).
uint64_t random_seed() {
  uint64_t s = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof(s)) != 1)
    throw std::runtime_error("the machine's CSPRNG failed (RAND_bytes)");
  return s != 0 ? s : 1;
}

class real_runtime_env : public runtime_env {
public:
  explicit real_runtime_env(uint64_t seed) : seed_(seed != 0 ? seed : random_seed()) {
  }

  double wall_seconds() const override {
    return caldera::wall_seconds();
  }

  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }

  uint64_t seed_for(std::string_view purpose) override {
    std::lock_guard<std::mutex> g{mtx_};
    auto n = ++drawn_[std::string{purpose}];
    return derive_seed(seed_, std::string{purpose} + "#" + std::to_string(n));
  }

  void run_blocking(std::function<void()> work) override {
    std::thread(std::move(work)).detach();
  }

  std::string secure_random(size_t n) override {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
      throw std::runtime_error("the machine's CSPRNG failed (RAND_bytes)");
    return out;
  }

private:
  uint64_t seed_; // an unseeded run's is drawn once, at its start
  std::mutex mtx_;
  std::map<std::string, uint64_t> drawn_; // a restarted actor gets a new seed
};

} // namespace

uint64_t derive_seed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  auto out = splitmix64(seed ^ splitmix64(h));
  return out != 0 ? out : 1;
}

std::shared_ptr<runtime_env> make_real_env(uint64_t seed) {
  return std::make_shared<real_runtime_env>(seed);
}

std::unique_ptr<coordinator> runtime_env::coordinator_for(const coordinator_url& url) {
  return make_etcd_coordinator(url);
}

const std::shared_ptr<runtime_env>& real_env() {
  static const std::shared_ptr<runtime_env> env = make_real_env(0);
  return env;
}

} // namespace caldera
