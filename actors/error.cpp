#include "actors/error.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace caldera {

const char* to_string(errc x) {
  switch (x) {
    case errc::none: return "none";
    case errc::invalid_resources: return "invalid_resources";
    case errc::invalid_config: return "invalid_config";
    case errc::invalid_message: return "invalid_message";
    case errc::unknown_framework: return "unknown_framework";
    case errc::unknown_agent: return "unknown_agent";
    case errc::unknown_offer: return "unknown_offer";
    case errc::unknown_task: return "unknown_task";
    case errc::duplicate_task: return "duplicate_task";
    case errc::insufficient_resources: return "insufficient_resources";
    case errc::storage_error: return "storage_error";
    case errc::not_connected: return "not_connected";
    case errc::timeout: return "timeout";
    case errc::unauthenticated: return "unauthenticated";
    case errc::unauthorized: return "unauthorized";
  }
  return "unknown_error";
}

bool is_error(const caf::error& err, errc code) {
  return err && err.category() == caf::atom("caldera") && err.code() == static_cast<uint8_t>(code);
}

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), caf::atom("caldera"),
                    caf::make_message(std::move(message))};
}

std::string error_message(const caf::error& err) {
  if (err.category() == caf::atom("caldera") && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return describe(err);
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  std::string ctx;
  if (err.context().match_elements<std::string>())
    ctx = err.context().get_as<std::string>(0);
  if (err.category() == caf::atom("caldera")) {
    std::string out = to_string(static_cast<errc>(err.code()));
    if (!ctx.empty())
      out += ": " + ctx;
    return out;
  }
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::unexpected_message)
      return "the peer does not understand this request (is it the right kind of "
             "daemon: a master, an agent?)";
    std::string out = caf::to_string(code);
    if (!ctx.empty())
      out += ": " + ctx;
    return out;
  }
  return caf::to_string(err);
}

} // namespace caldera
