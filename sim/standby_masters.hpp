// Standby masters in the simulated world (issue 16; `caldera-sim --masters
// N`): N master processes on one in-memory coordinator whose leases run on
// virtual time. Each process joins with a lease and campaigns
// (sim/ha_driver.hpp); the elected one loads the coordinator's registry
// into its own store and starts the real master actors (through the
// world's hook), with every registry write fenced on its epoch. Faults: a
// process killed (kill -9: no revoke) and a process's link to the
// coordinator cut. Checks: at most one master makes offers at any virtual
// instant (an offer sent by a master after one of a newer epoch was elected
// breaks the run), and the leader's store equals the coordinator's copy.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/coordinator.hpp"
#include "master/ha.hpp"
#include "storage/kv.hpp"
#include "storage/registry_store.hpp"

namespace caldera::sim {

class sim_env;

class standby_masters {
public:
  struct hooks {
    /// A trace line.
    std::function<void(const std::string&)> line;
    /// Master `slot` was elected: start its actors on `store` (loaded from
    /// the coordinator), recovering `snapshot`, with `epoch`.
    std::function<caf::error(size_t slot, std::unique_ptr<registry_store> store,
                             registry_snapshot snapshot, uint64_t epoch)>
      start_leader;
    /// Master `slot`'s process ended: its actors go.
    std::function<void(size_t slot)> stop_leader;
    /// A broken invariant.
    std::function<void(const std::string&)> violation;
  };

  standby_masters(caf::actor_system& sys, std::shared_ptr<sim_env> env, std::string dir,
                  store_opener opener, size_t n, hooks h);
  ~standby_masters();

  size_t size() const { return slots_.size(); }
  const std::string& name(size_t i) const { return slots_.at(i).name; }
  /// Where master `i` keeps its registry.
  std::string store_dir(size_t i) const;
  bool up(size_t i) const { return slots_.at(i).up; }
  /// The slot that leads now, if any.
  std::optional<size_t> leader() const;
  bool coordinator_cut(size_t i) const { return slots_.at(i).cut; }

  /// Master `i`'s process starts: joins as a standby (stays down when the
  /// coordinator cannot be reached, as caldera-master exits then).
  void start(size_t i);
  /// kill -9 of master `i`'s process: its lease lapses on its own.
  void kill(size_t i);
  /// Cuts or heals master `i`'s link to the coordinator (both clients).
  void set_cut(size_t i, bool cut);

  /// Called for every message master `from` sends that makes offers.
  void offered(const std::string& from);
  /// The leader's store against the coordinator's registry; "" when equal.
  std::string compare_registry(registry_store& leader_store);

private:
  struct slot {
    std::string name;
    std::shared_ptr<master_ha> ha;
    std::unique_ptr<registry_store> store; // a standby's copy, kept warm
    caf::actor driver;
    bool up = false, leading = false, cut = false;
    int64_t epoch = 0;
    uint64_t starts = 0;
  };
  caf::error elected(size_t i);
  void ended(size_t i, const std::string& why);

  caf::actor_system& sys_;
  std::shared_ptr<sim_env> env_;
  std::string dir_;
  store_opener opener_;
  hooks hooks_;
  std::shared_ptr<memory_coordination> coord_;
  std::vector<slot> slots_;
  std::map<int64_t, double> elected_at_; // epoch -> virtual seconds
};

} // namespace caldera::sim
