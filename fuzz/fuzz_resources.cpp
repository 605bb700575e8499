// libFuzzer target: resource strings as frameworks, operators and config files
// write them ("cpus:4;mem:1024;ports:[31000-32000];cpus(role):2"). A string
// that parses prints to one that parses to the same resources.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/resources.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto r = caldera::resources::parse(text);
  if (!r)
    return 0;
  auto again = caldera::resources::parse(r->to_string());
  if (!again || !(*again == *r))
    std::abort(); // printing and parsing must agree
  return 0;
}
