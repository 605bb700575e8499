// The HTTP request parser and reply head of caldera's server
// (actors/http_wire.hpp): requests split anywhere, pipelined requests, the
// limits on heads and bodies, and the refusals a malformed request gets.
#include <doctest/doctest.h>

#include "actors/http_wire.hpp"

using namespace caldera;
using state = http_request_parser::state;

namespace {

// Feeds `text` in pieces of `step` bytes; returns the bytes used.
size_t feed_in_steps(http_request_parser& p, std::string_view text, size_t step) {
  size_t used = 0;
  while (used < text.size() && p.status() == state::need_more) {
    auto n = p.feed(text.substr(used, std::min(step, text.size() - used)));
    if (n == 0)
      break;
    used += n;
  }
  return used;
}

http_request_parser parsed(std::string_view text, http_parse_limits lim = {}) {
  http_request_parser p{lim};
  p.feed(text);
  return p;
}

} // namespace

TEST_SUITE("unit") {

TEST_CASE("http parser: a request split at every byte parses as a whole one") {
  std::string text = "GET /files/read?path=%2Fa%20b&offset=10&q=x+y HTTP/1.1\r\n"
                     "Host: localhost\r\nAuthorization:  Basic b3BzOnNlY3JldA== \r\n\r\n";
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, text.size()}) {
    http_request_parser p;
    CHECK(feed_in_steps(p, text, step) == text.size());
    REQUIRE(p.status() == state::complete);
    auto& r = p.request();
    CHECK(r.method == "GET");
    CHECK(r.path == "/files/read");
    CHECK(r.get_param_value("path") == "/a b");
    CHECK(r.get_param_value("offset") == "10");
    CHECK(r.get_param_value("q") == "x y");
    CHECK(r.get_header_value("host") == "localhost");
    CHECK(r.get_header_value("Authorization") == "Basic b3BzOnNlY3JldA==");
    CHECK(p.keep_alive());
  }
}

TEST_CASE("http parser: a body by Content-Length, and the next request stays unread") {
  std::string two = "POST /api/v1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /health "
                    "HTTP/1.1\r\nConnection: close\r\n\r\n";
  http_request_parser p;
  auto used = p.feed(two);
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().body == "hello");
  CHECK(two.substr(used, 4) == "GET ");
  p.reset();
  CHECK_FALSE(p.started());
  CHECK(p.feed(std::string_view{two}.substr(used)) == two.size() - used);
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().path == "/health");
  CHECK_FALSE(p.keep_alive());
}

TEST_CASE("http parser: a chunked body, split anywhere, with extensions and trailers") {
  // As clients that stream a request body send it (no Content-Length).
  std::string text = "POST /api/v1/scheduler HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                     "5;name=value\r\nhello\r\n"
                     "1\r\n \r\n"
                     "A\r\n0123456789\r\n"
                     "0\r\nX-Trailer: 1\r\n\r\n"
                     "GET /health HTTP/1.1\r\n\r\n";
  auto first = text.find("GET /health");
  for (size_t step : {size_t{1}, size_t{3}, text.size()}) {
    http_request_parser p;
    CHECK(feed_in_steps(p, text, step) == first);
    REQUIRE(p.status() == state::complete);
    CHECK(p.request().body == "hello 0123456789");
    CHECK(p.keep_alive());
  }
  // Bare LF line ends, and an empty body.
  auto p = parsed("POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n");
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().body == "abc");
  p = parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().body.empty());
  // Not complete until the last chunk and the blank line after the trailers.
  p = parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n");
  CHECK(p.status() == state::need_more);
}

TEST_CASE("http parser: bare LF line ends, leading blank lines, HTTP/1.0") {
  auto p = parsed("\r\n\r\nGET / HTTP/1.0\nHost: x\n\n");
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().path == "/");
  CHECK_FALSE(p.keep_alive());
  auto k = parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  CHECK(k.keep_alive());
  http_request_parser blank;
  blank.feed("\r\n");
  CHECK_FALSE(blank.started());
}

TEST_CASE("http parser: a head that does not end is refused at the limit, not buffered") {
  http_parse_limits lim;
  lim.max_head = 1024;
  http_request_parser p{lim};
  p.feed("GET / HTTP/1.1\r\n");
  std::string line = "X-Slow: " + std::string(100, 'a') + "\r\n";
  for (int i = 0; i < 20 && p.status() == state::need_more; ++i)
    p.feed(line);
  REQUIRE(p.status() == state::failed);
  CHECK(p.error_status() == 431);
  http_parse_limits few;
  few.max_headers = 3;
  auto many = parsed("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n", few);
  CHECK(many.error_status() == 431);
}

TEST_CASE("http parser: refusals of malformed requests name the fault") {
  struct bad {
    const char* text;
    int status;
  };
  http_parse_limits lim;
  lim.max_body = 10;
  for (auto [text, status] : std::initializer_list<bad>{
         {"GET /\r\n\r\n", 400},
         {"GET  / HTTP/1.1\r\n\r\n", 400},
         {"GET / HTTP/2.0\r\n\r\n", 505},
         {"G(T / HTTP/1.1\r\n\r\n", 400},
         {"GET nopath HTTP/1.1\r\n\r\n", 400},
         {"GET /%zz HTTP/1.1\r\n\r\n", 400},
         {"GET /a%00b HTTP/1.1\r\n\r\n", 400},
         {"GET /?x=%4 HTTP/1.1\r\n\r\n", 400},
         {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
         {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
         {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
         {"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413},
         {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
         {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
         {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", 413},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", 413},
         {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400},
       }) {
    auto p = parsed(text, lim);
    CHECK_MESSAGE(p.status() == state::failed, text);
    CHECK_MESSAGE(p.error_status() == status, text);
    CHECK_FALSE(p.error_message().empty());
    CHECK_FALSE(p.keep_alive());
  }
}

TEST_CASE("http parser: a client that expects 100-continue is waiting for it") {
  http_request_parser p;
  p.feed("POST /api/v1 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  CHECK(p.awaits_continue());
  p.feed("ab");
  CHECK_FALSE(p.awaits_continue());
  p.feed("cd");
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().body == "abcd");
  auto none = parsed("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n");
  CHECK_FALSE(none.awaits_continue());
}

TEST_CASE("http parser: an absolute target is served by its path") {
  auto p = parsed("GET http://127.0.0.1:8050/state?x=1 HTTP/1.1\r\n\r\n");
  REQUIRE(p.status() == state::complete);
  CHECK(p.request().path == "/state");
  CHECK(p.request().get_param_value("x") == "1");
}

TEST_CASE("http reply head: status, headers without CR or LF, length, connection") {
  httplib::Response res;
  res.status = 404;
  res.set_header("Content-Type", "application/json");
  res.headers.emplace("X-Evil", "a\r\nSet-Cookie: b");
  res.headers.emplace("Content-Length", "999");
  auto head = http_response_head(res, 12, false);
  CHECK(head.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(head.find("X-Evil: aSet-Cookie: b\r\n") != std::string::npos);
  CHECK(head.find("Content-Length: 12\r\n") != std::string::npos);
  CHECK(head.find("999") == std::string::npos);
  CHECK(head.find("Connection: close\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
}

} // TEST_SUITE
