// The one seam between caldera's actors and the world outside them: time,
// randomness, blocking work and the network. Every daemon and SDK actor gets
// one in its options (`runtime`); the real environment reads the machine's
// clocks and starts threads, the simulator's (sim/sim_env.hpp) answers from
// the actor system's virtual clock and the run's seed, runs blocking work
// inline and passes every cross-node message through a link table.
//
// Nothing else in the daemons or the SDK reads a clock, draws from a random
// device or starts a thread; I/O edges (the posix containerizer's reapers,
// HTTP servers, process mains) are the exceptions and say so.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace caldera {

class link_table;
class coordinator;
struct coordinator_url;

class runtime_env {
public:
  virtual ~runtime_env() = default;

  /// Seconds since the epoch: status timestamps, unreachable times, sandbox
  /// ages. Shown to people and compared across restarts; never use it for
  /// intervals (it may jump).
  virtual double wall_seconds() const = 0;

  /// Monotonic time, for intervals and rate limits. Timers go through the
  /// actor clock (`delayed_send`), which the simulation also drives.
  virtual std::chrono::steady_clock::time_point now() const = 0;

  /// A seed for one generator (ids, choices) of `purpose` ("agent/host1",
  /// "executor/...", "master"). Derived from the run's seed and how often
  /// `purpose` asked before (a restarted agent draws new uuids), so that a
  /// run replays; an unseeded real run derives them from a seed drawn once
  /// from the machine's CSPRNG at its start. Never 0.
  virtual uint64_t seed_for(std::string_view purpose) = 0;

  /// Runs `work` away from the calling actor (it may block on disk or the
  /// kernel); `work` reports its result with a message. Real: a thread of
  /// its own. Simulated: at once, inline, so its message lands at a
  /// deterministic point.
  virtual void run_blocking(std::function<void()> work) = 0;

  /// `n` bytes no peer can predict (challenges, tokens). Real: the
  /// machine's CSPRNG (OpenSSL's RAND_bytes), whatever the seed. Simulated:
  /// the run's seed, so that a run replays.
  virtual std::string secure_random(size_t n) = 0;

  /// The links between nodes that cross-node messages pass (null: the real
  /// network, which CAF's middleman carries).
  virtual link_table* links() { return nullptr; }

  /// A client of the coordination service `url` names (standby masters):
  /// real, etcd over the network; simulated, the run's memory coordinator.
  virtual std::unique_ptr<coordinator> coordinator_for(const coordinator_url& url);

  /// FoundationDB's BUGGIFY: whether the rare path named `point` (a retry
  /// taken early, an offer rescinded, a timeout cut short) is taken this
  /// time. Real: never. Simulated: the seed turns a few points on for a run,
  /// and each point on then fires on a share of its calls. Points are named
  /// "<component>/<what>" and listed in docs/simulation.md.
  virtual bool buggify(std::string_view point) {
    (void)point;
    return false;
  }
};

/// The machine's clocks and threads. `seed` 0: ids are random; otherwise
/// every `seed_for` derives from it (`--seed` of the daemons).
std::shared_ptr<runtime_env> make_real_env(uint64_t seed = 0);

/// The shared unseeded real environment: the default of every options struct.
const std::shared_ptr<runtime_env>& real_env();

/// A 64-bit mix of a seed and a name (FNV-1a, then splitmix64): the same on
/// every machine, unlike std::hash.
uint64_t derive_seed(uint64_t seed, std::string_view name);

} // namespace caldera
