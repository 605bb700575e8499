// Handlers read Cap'n Proto messages lazily, so a malformed message throws
// kj::Exception from whichever getter first touches the bad bytes. Every
// long-lived actor runs its handlers through `guarded`: the message is logged
// and dropped, the actor keeps serving.
#pragma once

#include <exception>
#include <string_view>

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

} // namespace caldera
