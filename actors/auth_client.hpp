// The client half of the challenge-response of actors/auth.hpp, for every
// peer that proves a principal over its link: schedulers (the SDK), agents
// (--credential) and the command line's operator calls.
#pragma once

#include <functional>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/auth.hpp"

namespace caldera {

/// Asks `server` for a challenge for `who.principal`, answers it with the
/// HMAC of `who.secret` and calls `done` in `self`'s context: with no error
/// once the server accepted the proof (or said with an empty challenge that
/// it checks none), else with its refusal.
void authenticate_to(caf::event_based_actor* self, const caf::actor& server,
                     const credential& who, std::function<void(const caf::error&)> done);

/// The same for command-line tools: waits (at most 30 s per step) and
/// returns the refusal, or none.
caf::error authenticate_blocking(caf::scoped_actor& self, const caf::actor& server,
                                 const credential& who);

} // namespace caldera
