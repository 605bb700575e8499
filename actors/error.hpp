// caldera's error codes: one enum for the domain, carried in caf::error so
// that errors are values across actor boundaries and inside plain classes.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace caldera {

enum class errc : uint8_t {
  none = 0,
  invalid_resources,
  invalid_config,
  invalid_message,
  unknown_framework,
  unknown_agent,
  unknown_offer,
  unknown_task,
  duplicate_task,
  insufficient_resources,
  storage_error,
  not_connected,
  timeout,
  unauthenticated, // no principal proven, or the proof is wrong
  unauthorized,    // the principal may not do this (ACLs)
};

const char* to_string(errc x);

/// An error of category "caldera" whose context is a human-readable message.
caf::error make_error(errc code, std::string message);

/// Whether `err` is caldera's error `code`.
bool is_error(const caf::error& err, errc code);

/// "invalid_resources: cpus: value -1 is negative" for caldera errors, CAF's
/// rendering for others.
std::string describe(const caf::error& err);

/// Only the message of a caldera error (what a user reads in a task's
/// status); `describe` for others.
std::string error_message(const caf::error& err);

} // namespace caldera
