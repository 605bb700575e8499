// Base64 (RFC 4648, with padding) for what JSON carries as bytes: Mesos' v1
// APIs (status uuids, task data, messages) and HTTP Basic credentials.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace caldera {

std::string base64_encode(std::string_view bytes);
/// nullopt when `text` is not base64 (a wrong length or character);
/// whitespace is not accepted.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace caldera
