// The HTTP side of master and agent: cpp-httplib with a bounded thread pool,
// read/write timeouts and a request size limit, JSON replies and errors;
// HTTPS and Basic authentication as actors/http_auth.hpp says.
// Handlers run on the pool's threads and must never wait on an actor: they
// read published, immutable snapshots.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "actors/http_auth.hpp"
#include "actors/resources.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace caldera {

class http_server {
public:
  /// At most `threads` requests are served at once; others wait in the
  /// listen backlog. `sec`: HTTPS, Basic authentication (a request that
  /// needs a principal and has none gets 401, counted and logged).
  explicit http_server(size_t threads = 4, http_security sec = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Where routes are added (before `start`).
  httplib::Server& routes();

  /// Listens on ip:port (0: any free port) in a thread of its own; returns
  /// the port. Unknown paths answer 404 with a JSON error.
  caf::expected<uint16_t> start(const std::string& ip, uint16_t port);

  void stop();

  const http_security& security() const { return sec_; }

private:
  http_security sec_;
  std::unique_ptr<httplib::Server> srv_;
  std::thread thread_;
};

/// Moves the calling thread to the idle scheduling class (nice +10 where
/// that is refused), once: threads that serve readers must never slow
/// scheduling.
void lower_thread_priority();

/// Resources as Mesos' JSON object: {"cpus": 4, "mem": 1024, "ports":
/// "[31000-32000]"}; reserved ones as "cpus(role)".
nlohmann::json resources_json(const resources& r);

/// Replies `j` as JSON (compact) with `status`.
void reply_json(httplib::Response& res, const nlohmann::json& j, int status = 200);
/// Replies already rendered JSON text.
void reply_json_text(httplib::Response& res, const std::string& text, int status = 200);
/// {"error": message} with `status`.
void reply_error(httplib::Response& res, int status, const std::string& message);

/// Query parameter `name` as an integer in [min, max]; `dflt` when absent.
/// nullopt (and a 400 reply naming the parameter) when malformed.
std::optional<long long> query_int(const httplib::Request& req, httplib::Response& res,
                                   const std::string& name, long long dflt, long long min,
                                   long long max);

} // namespace caldera
