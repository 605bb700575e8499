// A standby master's process in the simulated world (issue 16): what
// caldera-master's main does with --etcd (master/standby.cpp), as an actor
// on virtual time. While a standby it campaigns every `poll`; elected, it
// asks the world to load the registry and start the master, then renews
// the lease every TTL/3 and never later than the moment its leadership can
// no longer be counted on (master_ha::valid_until); once a renewal fails
// for good the process "exits" (the world kills its actors). Decisions stay
// in master_ha: this actor only times them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "master/ha.hpp"

namespace caldera::sim {

struct ha_hooks {
  /// Elected: load the registry and start the master; an error ends the process.
  std::function<caf::error()> elected;
  /// The process ends (leadership lost, or a standby's lease lapsed and
  /// the coordinator cannot be reached): why.
  std::function<void(const std::string&)> ended;
};

caf::actor spawn_ha_driver(caf::actor_system& sys, std::shared_ptr<master_ha> ha, ha_hooks hooks,
                           std::chrono::milliseconds poll, std::chrono::seconds ttl);

} // namespace caldera::sim
