// The inside of caldera's HTTP server (actors/http.hpp), shared by its two
// files: http_server.cpp (sockets, the I/O thread, connections) and
// http_server_replies.cpp (replies, streams, deferred replies, the handler
// threads). Nothing else includes it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <httplib.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>

#include "actors/http.hpp"
#include "actors/http_wire.hpp"

namespace caldera {

namespace http_detail {

using steady = std::chrono::steady_clock;

constexpr uint64_t listen_id = 0;
constexpr uint64_t wake_id = 1;
constexpr size_t read_chunk = 16 * 1024;
constexpr size_t provider_chunk = 256 * 1024;

// What a read or write on a connection came to.
enum class io { ok, want_read, want_write, closed };

struct conn {
  enum class phase { handshake, reading, handling, writing, streaming, closed };
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  phase ph = phase::reading;
  uint32_t want = EPOLLIN; // what the last I/O call waits for
  uint32_t events = 0;     // the interest registered with epoll
  bool registered = false;
  http_request_parser parser;
  std::string in; // read, not yet parsed (a pipelined request)
  std::string out;
  size_t out_off = 0;
  std::unique_ptr<httplib::Response> res; // a body its provider streams
  size_t body_off = 0, body_len = 0;
  std::shared_ptr<http_stream> stream; // while streaming
  bool stream_done = false;            // its last chunk is in `out`
  bool keep_alive = false;
  bool continued = false; // "100 Continue" sent for this request
  steady::time_point deadline;
  steady::time_point waiting_since; // for displacing at max_connections
  std::string peer;

  explicit conn(http_parse_limits lim) : parser(lim) {}
};

struct job {
  uint64_t id;
  httplib::Request req;
  bool keep_alive;
};

struct reply {
  uint64_t id;
  std::unique_ptr<httplib::Response> res;
  std::shared_ptr<http_stream> stream;
  std::string head;
  size_t body_len;
  bool keep_alive;
  bool head_only;
};

/// A request that needs a principal and carries none (or a wrong one): 401.
bool refuse_unauthenticated(const http_security& sec, const httplib::Request& req,
                            httplib::Response& res);
/// Reads up to `n` bytes into `buf`; `got` says how many.
io read_some(conn& c, char* buf, size_t n, size_t& got);
io write_some(conn& c, const char* buf, size_t n, size_t& put);

} // namespace http_detail

using namespace http_detail;

struct http_server::loop {
  const http_router& router;
  const http_security& sec;
  http_limits lim;
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1, ep = -1, wake_fd = -1;
  std::unordered_map<uint64_t, std::unique_ptr<conn>> conns;
  std::vector<uint64_t> graveyard; // closed, freed between events
  uint64_t next_id = 2;
  std::thread io_thread;
  std::vector<std::thread> workers;
  std::mutex m;
  std::condition_variable cv;
  std::deque<job> jobs;
  std::deque<reply> replies;
  std::vector<uint64_t> stream_wakes; // streams with something to send
  // What a deferred reply completing on another thread reaches the loop by
  // (null once the loop stops).
  struct waker {
    std::mutex m;
    loop* l = nullptr;
  };
  std::shared_ptr<waker> deferred_waker = std::make_shared<waker>();
  bool stopping = false;
  std::atomic<bool> io_stop{false};

  loop(const http_router& r, const http_security& s, http_limits l)
    : router(r), sec(s), lim(l) {}
  ~loop();

  http_parse_limits parse_limits() const {
    http_parse_limits p;
    p.max_body = lim.max_body;
    return p;
  }

  // --- set-up -----------------------------------------------------------------
  caf::expected<uint16_t> open(const std::string& ip, uint16_t port);
  void start_threads(size_t threads);
  void stop();

  // --- the I/O thread ---------------------------------------------------------
  void run();
  void on_event(uint64_t id, uint32_t events);
  void accept_all();
  void make_room();
  void set_interest(conn& c);
  void handshake(conn& c);
  void read(conn& c);
  void parse(conn& c);
  void submit(conn& c);
  void take_replies();
  void start_reply(conn& c, reply r);
  void start_stream(conn& c, reply& r);
  void wake_stream(uint64_t id);
  void pump(conn& c);
  bool refill(conn& c);
  void on_stream_event(conn& c);
  void drain_input(conn& c);
  void end_streams();
  void write(conn& c);
  bool fill_body(conn& c);
  void after_reply(conn& c);
  void refuse(conn& c, int status, const std::string& why);
  void expire(steady::time_point now);
  void close(conn& c, const char* why);
  void reap();

  // --- the handler threads ----------------------------------------------------
  void work();
  reply answer(job& j);
  reply make_reply(const job& j, std::unique_ptr<httplib::Response> res);
  void push_reply(reply r);
  void defer(const job& j, const std::shared_ptr<http_deferred>& d);
};

} // namespace caldera
