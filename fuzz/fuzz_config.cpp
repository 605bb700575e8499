// libFuzzer target: what caldera itself makes of a daemon's configuration
// before and after CAF's INI parser: the file's text (operators' '#'
// comments, the implied [global] section: `config_file_text`), and the values
// options carry as text: endpoints ("master=HOST:PORT") and resource
// alternatives ("min-allocatable-resources=cpus:0.01|mem:32"). The first byte
// picks which.
//
// CAF's own parser of files and flags is not run here: options set from this
// clang-built binary call a null check inside Debian's g++-built CAF (mixed
// toolchains); the daemons' handling of bad files and flags is tested on the
// real binaries by tests/process/bad_config_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/node.hpp"
#include "actors/resources.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  std::string text{reinterpret_cast<const char*>(data + 1), size - 1};
  switch (data[0] % 3) {
    case 0: {
      auto out = caldera::config_file_text(text);
      auto bracket = out.find('[');
      // Options are never left outside a section.
      if (out.substr(0, bracket).find('=') != std::string::npos)
        __builtin_trap();
      break;
    }
    case 1:
      if (auto ep = caldera::parse_endpoint(text); ep && ep->port == 0)
        __builtin_trap();
      break;
    default: {
      size_t at = 0;
      while (at <= text.size()) {
        auto bar = text.find('|', at);
        (void)caldera::resources::parse(text.substr(at, bar == std::string::npos ? bar : bar - at));
        if (bar == std::string::npos)
          break;
        at = bar + 1;
      }
    }
  }
  return 0;
}
