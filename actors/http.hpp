// The HTTP side of master and agent: caldera's own event-driven HTTP/1.1
// server (one thread multiplexes every connection with epoll, plain or TLS;
// a small pool of idle-priority threads runs the handlers), JSON replies and
// errors; HTTPS and Basic authentication as actors/http_auth.hpp says.
// Slow or idle clients cost a bounded share (http_limits): a request's head
// and body must arrive within `request_timeout`, an idle keep-alive
// connection closes after `idle_timeout`, and at `max_connections` a new
// client displaces the one that has waited longest for its request.
// Handlers run on the pool's threads and must never wait on an actor: they
// read published, immutable snapshots.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <caf/config_option_adder.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>
#include <nlohmann/json.hpp>

#include "actors/http_auth.hpp"
#include "actors/resources.hpp"

namespace httplib {
struct Request;
struct Response;
} // namespace httplib

namespace caldera {

/// Handlers as cpp-httplib's: read the request, fill the response.
using http_handler = std::function<void(const httplib::Request&, httplib::Response&)>;

/// Exact paths to handlers, per method (HEAD answers as GET without the
/// body). Unknown paths answer 404 and known paths with another method 405,
/// with JSON errors; a handler that throws answers 500.
class http_router {
public:
  http_router& Get(const std::string& path, http_handler h);
  http_router& Post(const std::string& path, http_handler h);
  http_router& Put(const std::string& path, http_handler h);
  http_router& Delete(const std::string& path, http_handler h);
  /// Runs after every routed handler (the view ACLs filter replies).
  void set_post_routing_handler(http_handler h) { post_ = std::move(h); }
  /// Answers paths no route names (instead of 404).
  void set_fallback(http_handler h) { fallback_ = std::move(h); }

  void route(const httplib::Request& req, httplib::Response& res) const;

private:
  void dispatch(const httplib::Request& req, httplib::Response& res) const;

  std::map<std::string, std::map<std::string, http_handler>> by_path_; // path -> method
  http_handler post_;
  http_handler fallback_;
};

/// What a client may make the server spend (options `http-*`).
struct http_limits {
  /// Open connections; at the limit a new one displaces the connection
  /// that has waited longest for (the rest of) its request.
  size_t max_connections = 1024;
  /// A request's head and body (and a TLS handshake) must be in by then.
  caf::timespan request_timeout = std::chrono::seconds(10);
  /// A keep-alive connection with no request closes after this.
  caf::timespan idle_timeout = std::chrono::seconds(30);
  /// The largest request body (bytes).
  size_t max_body = 64 * 1024;
};

/// Registers the `http-max-connections`, `http-request-timeout`,
/// `http-idle-timeout` options; `check_http_limits` names a bad one.
void add_http_limit_options(caf::config_option_adder& opts, http_limits& lim);
std::optional<std::string> check_http_limits(const http_limits& lim);

class http_server {
public:
  /// At most `threads` handlers run at once; connections wait for one
  /// without holding a thread. `sec`: HTTPS, Basic authentication (a request
  /// that needs a principal and has none gets 401, counted and logged).
  explicit http_server(size_t threads = 4, http_security sec = {}, http_limits lim = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Where routes are added (before `start`).
  http_router& routes() { return router_; }

  /// Listens on ip:port (0: any free port) and serves in threads of its
  /// own; returns the port.
  caf::expected<uint16_t> start(const std::string& ip, uint16_t port);

  void stop();

  const http_security& security() const { return sec_; }

  struct loop;

private:
  http_security sec_;
  http_limits lim_;
  size_t threads_;
  http_router router_;
  std::unique_ptr<loop> loop_;
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
