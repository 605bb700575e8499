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
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

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

/// The body of a response that stays open (Mesos' v1 event streams): the
/// handler makes it with `http_stream_reply`, hands it to whoever produces
/// the events (an actor) and returns; the server sends the head at once and
/// then every `write` as one HTTP/1.1 chunk, in order, as the client reads.
/// Thread-safe. A client that does not keep up costs at most `max_buffered`
/// bytes (a single larger write still goes when nothing waits before it):
/// past that the server closes the connection.
class http_stream {
public:
  explicit http_stream(size_t max_buffered) : max_(max_buffered) {}

  /// Queues `data` as one chunk (empty data: nothing). false when the
  /// stream is closed: the client went, it fell `max_buffered` behind, the
  /// server stopped, or `finish` was called.
  bool write(std::string_view data);
  /// Ends the body; the connection then serves the client's next request.
  void finish();
  /// Whether `write` would refuse.
  bool closed() const;
  /// `fn` runs once when the stream ends other than by `finish` (the
  /// client went, overflow, the server stopped), on the server's I/O thread
  /// (at once, here, when that already happened): keep it short (send a
  /// message). Set it before handing the stream out.
  void on_close(std::function<void()> fn);

  struct taken {
    std::string bytes; // framed chunks, the last chunk after `finish`
    bool finished = false;
    bool overflow = false;
  };
  // -- the server's side ----------------------------------------------------
  /// From now on every write calls `wake` (never while the server calls in).
  void attach(std::function<void()> wake);
  /// What was written since the last call.
  taken take();
  /// The connection is gone: writes are refused and on_close runs (once).
  void end();

private:
  mutable std::mutex m_;
  std::string pending_;
  size_t max_;
  bool finished_ = false, closed_ = false, overflow_ = false, ended_ = false;
  std::function<void()> wake_, on_close_;
};

/// Makes `res` a streamed reply (200, `content_type`, chunked) and returns
/// its stream.
std::shared_ptr<http_stream> http_stream_reply(httplib::Response& res,
                                               const std::string& content_type,
                                               size_t max_buffered = 4 << 20);
/// The stream `res` was made into (null: an ordinary reply).
std::shared_ptr<http_stream> stream_of(const httplib::Response& res);

/// A reply an actor gives later (a write the master must make first): the
/// handler makes it with `http_defer_reply`, hands it on and returns; the
/// connection waits, holding no thread, until `complete` fills the response
/// (from any thread, once; later calls do nothing). Whoever takes it must
/// complete it, on failure too (with an error reply).
class http_deferred {
public:
  void complete(const std::function<void(httplib::Response&)>& fill);

  // -- the server's side ----------------------------------------------------
  /// `ready(response)` runs once the reply is complete (at once when it is).
  void attach(std::function<void(std::unique_ptr<httplib::Response>)> ready);

private:
  std::mutex m_;
  std::unique_ptr<httplib::Response> res_;
  std::function<void(std::unique_ptr<httplib::Response>)> ready_;
  bool done_ = false;
};

std::shared_ptr<http_deferred> http_defer_reply(httplib::Response& res);
/// The deferred reply `res` stands for (null: an ordinary reply).
std::shared_ptr<http_deferred> deferred_of(const httplib::Response& res);

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
