// libFuzzer target: what the HTTP APIs read from a request: the server's
// request parser (bytes as a client sends them, split where the second byte
// says), a sandbox path (never outside the sandboxes' root), Basic
// credentials, integer query parameters, and HOST:PORT endpoints. The first
// byte picks which.
#include <cstddef>
#include <cstdint>
#include <string>

#include <httplib.h>

#include "actors/http.hpp"
#include "actors/http_auth.hpp"
#include "actors/http_wire.hpp"
#include "actors/node.hpp"
#include "agent/sandbox_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  std::string text{reinterpret_cast<const char*>(data + 1), size - 1};
  switch (data[0] % 5) {
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
    case 4: {
      // Requests (pipelined) fed in pieces: every byte is used once, a
      // complete request has a path, a body within the limit.
      caldera::http_parse_limits lim;
      lim.max_head = 512;
      lim.max_body = 256;
      caldera::http_request_parser p{lim};
      size_t step = text.empty() ? 1 : static_cast<unsigned char>(text[0]) % 32 + 1;
      std::string_view rest{text};
      while (!rest.empty()) {
        auto used = p.feed(rest.substr(0, std::min(step, rest.size())));
        if (used > std::min(step, rest.size()))
          __builtin_trap();
        rest.remove_prefix(used);
        auto st = p.status();
        if (st == caldera::http_request_parser::state::complete) {
          auto& r = p.request();
          if (r.path.empty() || r.body.size() > lim.max_body)
            __builtin_trap();
          p.reset();
        } else if (st == caldera::http_request_parser::state::failed) {
          if (p.error_status() < 400 || p.error_message().empty())
            __builtin_trap();
          break;
        } else if (used == 0) {
          __builtin_trap(); // need_more must take what it is given
        }
      }
      break;
    }
    default:
      (void)caldera::parse_endpoint(text);
  }
  return 0;
}
