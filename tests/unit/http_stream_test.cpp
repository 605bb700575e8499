// Streamed replies of caldera's HTTP server (issue 18's event streams): the
// head goes at once, each write as one chunk in order, `finish` ends the body
// and the connection serves the next request; a client that hangs up or
// stops reading ends the stream and its producer learns it.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include "actors/http.hpp"
#include "support/process_util.hpp"

using namespace caldera;
using namespace std::chrono_literals;

namespace {

// The stream the route made and whether its producer was told it closed.
struct stream_slot {
  std::mutex m;
  std::condition_variable cv;
  std::shared_ptr<http_stream> stream;
  bool closed = false;

  std::shared_ptr<http_stream> wait_stream() {
    std::unique_lock<std::mutex> g{m};
    cv.wait_for(g, 10s, [&] { return stream != nullptr; });
    return stream;
  }
  bool wait_closed() {
    std::unique_lock<std::mutex> g{m};
    return cv.wait_for(g, 10s, [&] { return closed; });
  }
};

struct stream_server {
  stream_slot slot;
  http_server srv;
  uint16_t port = 0;

  explicit stream_server(size_t max_buffered) {
    srv.routes().Post("/stream", [this, max_buffered](const httplib::Request&,
                                                       httplib::Response& res) {
      res.set_header("Mesos-Stream-Id", "s-1");
      auto s = http_stream_reply(res, "application/json", max_buffered);
      s->on_close([this] {
        std::lock_guard<std::mutex> g{slot.m};
        slot.closed = true;
        slot.cv.notify_all();
      });
      s->write("first");
      std::lock_guard<std::mutex> g{slot.m};
      slot.stream = s;
      slot.cv.notify_all();
    });
    srv.routes().Get("/plain", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("plain", "text/plain");
    });
    auto p = srv.start("127.0.0.1", 0);
    REQUIRE(p);
    port = *p;
  }
};

// Reads from `fd` until `out` holds `want` (or 10 s pass).
bool read_until(int fd, std::string& out, const std::string& want) {
  auto until = std::chrono::steady_clock::now() + 10s;
  char buf[4096];
  while (out.find(want) == std::string::npos) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      return false;
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

void send_all(int fd, const std::string& s) {
  REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

const std::string post_stream = "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";

} // namespace

TEST_CASE("a streamed reply sends its head, then each write as a chunk, and ends with finish") {
  stream_server s{1 << 20};
  int fd = caldera::test::connect_loopback(s.port);
  REQUIRE(fd >= 0);
  send_all(fd, post_stream);
  std::string got;
  REQUIRE(read_until(fd, got, "5\r\nfirst\r\n"));
  CHECK(got.find("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(got.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(got.find("Mesos-Stream-Id: s-1\r\n") != std::string::npos);
  CHECK(got.find("Content-Length") == std::string::npos);
  auto stream = s.slot.wait_stream();
  REQUIRE(stream);
  got.clear();
  CHECK(stream->write("second record"));
  CHECK(stream->write("")); // nothing: an empty chunk would end the body
  CHECK(stream->write("third"));
  REQUIRE(read_until(fd, got, "5\r\nthird\r\n"));
  CHECK(got == "d\r\nsecond record\r\n5\r\nthird\r\n");
  stream->finish();
  CHECK_FALSE(stream->write("late"));
  got.clear();
  REQUIRE(read_until(fd, got, "0\r\n\r\n"));
  // The connection serves the next request.
  send_all(fd, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  got.clear();
  REQUIRE(read_until(fd, got, "plain"));
  CHECK(got.find("Content-Length: 5") != std::string::npos);
  ::close(fd);
  CHECK_FALSE(s.slot.closed); // finished, not closed: no on_close
}

TEST_CASE("a client that hangs up ends its stream and the producer is told") {
  stream_server s{1 << 20};
  int fd = caldera::test::connect_loopback(s.port);
  REQUIRE(fd >= 0);
  send_all(fd, post_stream);
  std::string got;
  REQUIRE(read_until(fd, got, "first"));
  auto stream = s.slot.wait_stream();
  REQUIRE(stream);
  ::close(fd);
  CHECK(s.slot.wait_closed());
  CHECK_FALSE(stream->write("nobody reads this"));
  CHECK(stream->closed());
}

TEST_CASE("a client that stops reading is closed at the stream's bound; others are served") {
  stream_server s{64 * 1024};
  int fd = caldera::test::connect_loopback(s.port);
  REQUIRE(fd >= 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  send_all(fd, post_stream);
  auto stream = s.slot.wait_stream();
  REQUIRE(stream);
  // The client reads nothing: the socket buffers fill, then the stream's.
  std::string record(8 * 1024, 'x');
  bool refused = false;
  for (int i = 0; i < 100000 && !refused; ++i)
    refused = !stream->write(record);
  CHECK(refused);
  CHECK(s.slot.wait_closed());
  // The server still answers others.
  int other = caldera::test::connect_loopback(s.port);
  REQUIRE(other >= 0);
  send_all(other, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  CHECK(read_until(other, got, "plain"));
  ::close(other);
  ::close(fd);
}

TEST_CASE("a stream whose client left before the handler returned is ended at once") {
  auto s = std::make_shared<http_stream>(1024);
  bool told = false;
  s->on_close([&] { told = true; });
  s->end();
  CHECK(told);
  CHECK_FALSE(s->write("x"));
  bool late = false;
  s->on_close([&] { late = true; }); // set after the end: runs at once
  CHECK(late);
}

TEST_CASE("a deferred reply holds its connection until completed, from any thread") {
  std::mutex m;
  std::condition_variable cv;
  std::shared_ptr<http_deferred> later;
  http_server srv;
  srv.routes().Post("/later", [&](const httplib::Request&, httplib::Response& res) {
    auto d = http_defer_reply(res);
    std::lock_guard<std::mutex> g{m};
    later = d;
    cv.notify_all();
  });
  srv.routes().Post("/now", [](const httplib::Request&, httplib::Response& res) {
    // Completed before the handler even returns.
    http_defer_reply(res)->complete([](httplib::Response& r) { r.set_content("now", "text/plain"); });
  });
  auto port = srv.start("127.0.0.1", 0);
  REQUIRE(port);
  int fd = caldera::test::connect_loopback(*port);
  REQUIRE(fd >= 0);
  send_all(fd, "POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  {
    std::unique_lock<std::mutex> g{m};
    REQUIRE(cv.wait_for(g, 10s, [&] { return later != nullptr; }));
  }
  pollfd p{fd, POLLIN, 0};
  CHECK(::poll(&p, 1, 0) == 0); // nothing can be there before `complete`
  std::thread([d = later] {
    d->complete([](httplib::Response& r) { r.status = 201; r.set_content("done", "text/plain"); });
  }).join();
  later->complete([](httplib::Response& r) { r.status = 500; }); // a second one: nothing
  std::string got;
  REQUIRE(read_until(fd, got, "done"));
  CHECK(got.find("HTTP/1.1 201") == 0);
  got.clear();
  send_all(fd, "POST /now HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(read_until(fd, got, "now"));
  CHECK(got.find("HTTP/1.1 200") == 0);
  ::close(fd);
}
