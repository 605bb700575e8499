// HTTP/1.1 on the wire as caldera's server reads and writes it: a request
// parser fed bytes as they arrive, with limits on the head and the body, and
// the head of a response. Plain code: unit tests and the fuzzer drive it
// without a socket (actors/http.cpp owns the sockets).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <httplib.h>

namespace caldera {

struct http_parse_limits {
  /// Request line and headers together.
  size_t max_head = 16 * 1024;
  size_t max_headers = 100;
  /// A body (Content-Length, or the sum of a chunked body's chunks).
  size_t max_body = 64 * 1024;
};

/// One request at a time: `feed` the bytes read so far; once `complete`,
/// take `request()`, then `reset()` for the next one on the connection.
class http_request_parser {
public:
  enum class state { need_more, complete, failed };

  explicit http_request_parser(http_parse_limits lim = {});

  /// Consumes from `data` what belongs to this request and returns how many
  /// bytes that was (the rest is the next, pipelined request).
  size_t feed(std::string_view data);

  state status() const { return state_; }
  /// Whether a byte of this request arrived (an idle keep-alive connection
  /// has none).
  bool started() const { return started_; }

  /// When complete: method, path (decoded), target, version, headers,
  /// params (from the query), body.
  httplib::Request& request() { return req_; }
  /// Whether the connection stays open after the reply (HTTP/1.1 unless
  /// "Connection: close"; HTTP/1.0 with "Connection: keep-alive").
  bool keep_alive() const { return keep_alive_; }

  /// Whether the head is in, the body is not, and the client waits for
  /// "100 Continue" before sending it (curl does for bodies over 1 KiB).
  bool awaits_continue() const;

  /// When failed: the status to answer (400, 413, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_; }

  void reset();

private:
  size_t feed_head(std::string_view data);
  size_t feed_body(std::string_view data);
  size_t feed_chunked(std::string_view data);
  /// One line of chunked framing (size, the CRLF after data, a trailer)
  /// is in `chunk_line_`: acts on it.
  void chunk_line_done();
  void parse_head();
  bool parse_request_line(std::string_view line);
  bool parse_header_line(std::string_view line);
  bool check_framing();
  void fail(int status, std::string why);

  http_parse_limits lim_;
  state state_ = state::need_more;
  bool started_ = false;
  bool in_body_ = false;
  std::string head_;
  size_t scanned_ = 0; // head_ bytes searched for the blank line
  size_t body_left_ = 0;
  // Transfer-Encoding: chunked (RFC 9112 7.1): where in the framing we are.
  bool chunked_ = false;
  enum class chunk_phase { size, data, data_end, trailer } phase_ = chunk_phase::size;
  std::string chunk_line_;
  size_t trailers_ = 0;
  httplib::Request req_;
  bool keep_alive_ = true;
  int error_status_ = 0;
  std::string error_;
};

/// `in` with %XX decoded (and '+' as a space when `plus_is_space`) into
/// `out`; false on a bad escape or a NUL byte.
bool http_decode(std::string_view in, bool plus_is_space, std::string& out);

/// The query string's parameters, decoded; false on a bad escape.
bool http_parse_query(std::string_view query, httplib::Params& out);

/// "200 OK", "404 Not Found", ...
std::string http_status_line(int status);

/// The head of a reply (status line, `res`'s headers without CR or LF in
/// names and values, Content-Length `body_length`, Connection) up to and
/// including the blank line.
std::string http_response_head(const httplib::Response& res, size_t body_length,
                               bool keep_alive);

/// The head of a streamed reply: as `http_response_head` with
/// "Transfer-Encoding: chunked" instead of a Content-Length.
std::string http_chunked_head(const httplib::Response& res, bool keep_alive);

} // namespace caldera
