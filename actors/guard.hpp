// Handlers read Cap'n Proto messages lazily, so a malformed message throws
// kj::Exception from whichever getter first touches the bad bytes. Every
// long-lived actor runs its handlers through `guarded`: the message is logged
// and dropped, the actor keeps serving.
#pragma once

#include <exception>
#include <string_view>

#include <caf/delegated.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>
#include <kj/exception.h>

#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

/// Runs `f`; returns false (and logs `message_dropped`) if it threw.
template <class F>
bool guarded(std::string_view what, F&& f) {
  metrics::message_received(what);
  try {
    f();
    return true;
  } catch (const kj::Exception& e) {
    metrics::message_dropped(what);
    log::warn("message_dropped", {{"type", what},
                                  {"reason", e.getDescription().cStr()}});
  } catch (const std::exception& e) {
    metrics::message_dropped(what);
    log::warn("message_dropped", {{"type", what}, {"reason", e.what()}});
  }
  return false;
}

/// True if the message at hand was sent by `self` itself: its timers, and
/// threads of its process that send as it (`caf::send_as(a, a, ...)`). Any
/// peer that reaches an actor can send it any message, with any sender or
/// none: a message that only the process may send (a timer, a shutdown, a
/// new master) is checked with this and dropped otherwise (logged).
template <class Self>
bool from_itself(Self* self, std::string_view what) {
  if (self->current_sender().get() == self->ctrl())
    return true;
  metrics::message_dropped(what);
  log::warn("foreign_message_dropped", {{"type", what}});
  return false;
}

/// A message no handler takes: a request is answered `unexpected_message`
/// (a CLI pointed at the wrong daemon says so); anything else is dropped
/// without an answer (CAF's default sends an error back even then, and an
/// error message could end its receiver, see `harden`).
inline caf::result<caf::message> drop_unexpected(caf::scheduled_actor* self, caf::message_view&) {
  auto* e = self->current_mailbox_element();
  metrics::message_dropped("unexpected");
  if (e != nullptr && e->mid.is_request())
    return caf::sec::unexpected_message;
  return caf::delegated<caf::message>{};
}

/// Makes a long-lived actor keep serving whatever a peer sends: CAF 0.17
/// ends an actor that receives an error message it did not ask for (its
/// default error handler quits with it), so one stray error from any peer
/// ended the master (sim seed 4713: a stopping scheduler bounced an offer).
template <class Actor>
void harden(Actor* self) {
  self->set_default_handler(drop_unexpected);
  self->set_error_handler([](caf::error& err) {
    metrics::message_dropped("error");
    log::warn("stray_error_dropped", {{"reason", caf::to_string(err)}});
  });
}

} // namespace caldera
