// Addresses for framework actors that must find each other (a reducer its
// mappers, an MPI rank its neighbours), whether they run as processes on
// several hosts or as actors of one test process.
//
// An address is a string a framework can pass around in task data or
// framework messages: "tcp:HOST:PORT" for an actor published through the
// middleman, "local:N" for one in this process's directory.
#pragma once

#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

namespace caldera {

/// Makes `whom` reachable: `in_process` registers it in this process's
/// directory (until it ends); otherwise it is published on a free port of
/// `host` (blocks briefly on the middleman). Returns its address.
caf::expected<std::string> advertise(caf::actor_system& sys, const caf::actor& whom,
                                     const std::string& host, bool in_process);

/// Finds the actor at `address` without blocking `self`; calls `on_ok` or
/// `on_err` in `self`'s context.
void resolve(caf::event_based_actor* self, const std::string& address,
             std::function<void(caf::actor)> on_ok,
             std::function<void(const caf::error&)> on_err);

} // namespace caldera
