// libFuzzer target: what the HTTP APIs read from a request: a sandbox path
// (never outside the sandboxes' root), Basic credentials, integer query
// parameters, and HOST:PORT endpoints. The first byte picks which.
#include <cstddef>
#include <cstdint>
#include <string>

#include <httplib.h>

#include "actors/http.hpp"
#include "actors/http_auth.hpp"
#include "actors/node.hpp"
#include "agent/sandbox_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  std::string text{reinterpret_cast<const char*>(data + 1), size - 1};
  switch (data[0] % 4) {
    case 0: {
      caldera::sandbox_refusal why;
      auto parts = caldera::sandbox_components("/var/lib/caldera/sandboxes", text, why);
      for (auto& p : parts)
        if (p.empty() || p == "." || p == ".." || p.find('/') != std::string::npos)
          __builtin_trap(); // a component that could leave the root
      break;
    }
    case 1: {
      static caldera::http_security sec = [] {
        caldera::http_security s;
        s.creds = std::make_shared<const caldera::credentials>(
          *caldera::credentials::parse("ops 0ps\n", "fuzz"));
        return s;
      }();
      httplib::Request req;
      req.headers.emplace("Authorization", text);
      auto p = caldera::http_principal(req, sec);
      if (!p.empty() && p != "ops")
        __builtin_trap();
      break;
    }
    case 2: {
      httplib::Request req;
      httplib::Response res;
      req.params.emplace("limit", text);
      (void)caldera::query_int(req, res, "limit", 100, 0, 1'000'000);
      break;
    }
    default:
      (void)caldera::parse_endpoint(text);
  }
  return 0;
}
