#include "actors/http_wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace caldera {

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0
         || std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

// Whether the comma-separated header value lists `token` (any case).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token))
      return true;
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// A header value or name as it may go on the wire: no CR, LF or NUL.
std::string wire_safe(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '\r' && c != '\n' && c != '\0')
      out += c;
  return out;
}

} // namespace

http_request_parser::http_request_parser(http_parse_limits lim) : lim_(lim) {
}

void http_request_parser::reset() {
  state_ = state::need_more;
  started_ = false;
  in_body_ = false;
  head_.clear();
  scanned_ = 0;
  body_left_ = 0;
  chunked_ = false;
  phase_ = chunk_phase::size;
  chunk_line_.clear();
  trailers_ = 0;
  req_ = httplib::Request{};
  keep_alive_ = true;
  error_status_ = 0;
  error_.clear();
}

void http_request_parser::fail(int status, std::string why) {
  state_ = state::failed;
  error_status_ = status;
  error_ = std::move(why);
  keep_alive_ = false;
}

bool http_request_parser::awaits_continue() const {
  return state_ == state::need_more && in_body_ && req_.body.empty()
         && iequals(req_.get_header_value("Expect"), "100-continue");
}

size_t http_request_parser::feed(std::string_view data) {
  if (state_ != state::need_more || data.empty())
    return 0;
  started_ = true;
  size_t used = in_body_ ? 0 : feed_head(data);
  if (state_ == state::need_more && in_body_)
    used += feed_body(data.substr(used));
  return used;
}

size_t http_request_parser::feed_head(std::string_view data) {
  // Blank lines before a request line are skipped (RFC 9112 2.2).
  size_t skipped = 0;
  if (head_.empty()) {
    while (skipped < data.size() && (data[skipped] == '\r' || data[skipped] == '\n'))
      ++skipped;
    if (skipped == data.size()) {
      started_ = false;
      return skipped;
    }
    data.remove_prefix(skipped);
  }
  size_t before = head_.size();
  size_t take = std::min(data.size(), lim_.max_head + 1 - std::min(before, lim_.max_head));
  head_.append(data.substr(0, take));
  // The head ends at an empty line ("\n\n" or "\n\r\n").
  size_t from = scanned_ > 2 ? scanned_ - 2 : 0;
  for (size_t i = from; i + 1 < head_.size(); ++i) {
    if (head_[i] != '\n')
      continue;
    size_t end = 0;
    if (head_[i + 1] == '\n')
      end = i + 2;
    else if (head_[i + 1] == '\r' && i + 2 < head_.size() && head_[i + 2] == '\n')
      end = i + 3;
    if (end == 0)
      continue;
    size_t used = end - before;
    head_.resize(end);
    parse_head();
    return skipped + used;
  }
  scanned_ = head_.size();
  if (head_.size() > lim_.max_head)
    fail(431, "request head larger than " + std::to_string(lim_.max_head) + " bytes");
  return skipped + take;
}

size_t http_request_parser::feed_body(std::string_view data) {
  if (chunked_)
    return feed_chunked(data);
  size_t take = std::min(data.size(), body_left_);
  req_.body.append(data.substr(0, take));
  body_left_ -= take;
  if (body_left_ == 0)
    state_ = state::complete;
  return take;
}

namespace {

// The longest line of chunked framing: a size with its extensions, a trailer.
constexpr size_t max_chunk_line = 1024;

} // namespace

size_t http_request_parser::feed_chunked(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ == state::need_more) {
    if (phase_ == chunk_phase::data) {
      size_t take = std::min(data.size() - used, body_left_);
      req_.body.append(data.substr(used, take));
      used += take;
      body_left_ -= take;
      if (body_left_ == 0)
        phase_ = chunk_phase::data_end;
      continue;
    }
    char c = data[used++];
    if (c != '\n') {
      if (chunk_line_.size() >= max_chunk_line) {
        fail(400, "chunked body: a framing line longer than " + std::to_string(max_chunk_line)
                    + " bytes");
        return used;
      }
      chunk_line_ += c;
      continue;
    }
    if (!chunk_line_.empty() && chunk_line_.back() == '\r')
      chunk_line_.pop_back();
    chunk_line_done();
    chunk_line_.clear();
  }
  return used;
}

void http_request_parser::chunk_line_done() {
  const std::string& line = chunk_line_;
  if (phase_ == chunk_phase::data_end) {
    if (!line.empty())
      return fail(400, "chunked body: a chunk's data is longer than its size");
    phase_ = chunk_phase::size;
    return;
  }
  if (phase_ == chunk_phase::trailer) {
    if (line.empty()) {
      state_ = state::complete;
      return;
    }
    if (++trailers_ > lim_.max_headers)
      return fail(431, "more than " + std::to_string(lim_.max_headers) + " trailer fields");
    return; // trailer fields are read and dropped
  }
  auto hex = std::string_view{line}.substr(0, line.find(';')); // extensions dropped
  while (!hex.empty() && (hex.back() == ' ' || hex.back() == '\t'))
    hex.remove_suffix(1);
  unsigned long long size = 0;
  auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
  if (hex.empty() || ec != std::errc{} || p != hex.data() + hex.size())
    return fail(400, "chunked body: malformed chunk size");
  if (size > lim_.max_body || req_.body.size() + size > lim_.max_body)
    return fail(413, "request body larger than " + std::to_string(lim_.max_body) + " bytes");
  if (size == 0) {
    phase_ = chunk_phase::trailer;
    return;
  }
  body_left_ = static_cast<size_t>(size);
  phase_ = chunk_phase::data;
}

void http_request_parser::parse_head() {
  std::string_view rest{head_};
  bool first = true;
  size_t headers = 0;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      break;
    if (first) {
      if (!parse_request_line(line))
        return;
      first = false;
      continue;
    }
    if (++headers > lim_.max_headers)
      return fail(431, "more than " + std::to_string(lim_.max_headers) + " header fields");
    if (!parse_header_line(line))
      return;
  }
  if (!check_framing())
    return;
  in_body_ = true;
  if (body_left_ == 0 && !chunked_)
    state_ = state::complete;
}

bool http_request_parser::parse_request_line(std::string_view line) {
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) {
    fail(400, "malformed request line");
    return false;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    fail(505, "HTTP version not supported: " + std::string{version.substr(0, 16)});
    return false;
  }
  // An absolute form (a proxy's) names the path after the authority.
  if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
    auto slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view{"/"} : target.substr(slash);
  }
  if (target.front() != '/' && target != "*") {
    fail(400, "request target must be a path");
    return false;
  }
  req_.method = std::string{method};
  req_.version = std::string{version};
  req_.target = std::string{target};
  auto q = target.find('?');
  if (!http_decode(target.substr(0, q), false, req_.path)
      || (q != std::string_view::npos && !http_parse_query(target.substr(q + 1), req_.params))) {
    fail(400, "malformed %-escape in the request target");
    return false;
  }
  keep_alive_ = version == "HTTP/1.1";
  return true;
}

bool http_request_parser::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    fail(400, "folded header lines are not accepted");
    return false;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    fail(400, "malformed header field");
    return false;
  }
  req_.headers.emplace(std::string{line.substr(0, colon)},
                       std::string{trim(line.substr(colon + 1))});
  return true;
}

// Content-Length (one value) or Transfer-Encoding: chunked, not both; the
// connection's fate.
bool http_request_parser::check_framing() {
  if (req_.has_header("Transfer-Encoding")) {
    if (req_.has_header("Content-Length")) {
      fail(400, "both Transfer-Encoding and Content-Length");
      return false;
    }
    auto te = req_.get_header_value("Transfer-Encoding");
    if (req_.get_header_value_count("Transfer-Encoding") != 1 || !iequals(trim(te), "chunked")) {
      fail(501, "Transfer-Encoding '" + te.substr(0, 64) + "' is not supported: only chunked");
      return false;
    }
    chunked_ = true;
  }
  auto n = req_.get_header_value_count("Content-Length");
  if (n > 1) {
    fail(400, "more than one Content-Length");
    return false;
  }
  if (n == 1) {
    auto v = req_.get_header_value("Content-Length");
    unsigned long long len = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size()) {
      fail(400, "malformed Content-Length");
      return false;
    }
    if (len > lim_.max_body) {
      fail(413, "request body larger than " + std::to_string(lim_.max_body) + " bytes");
      return false;
    }
    body_left_ = static_cast<size_t>(len);
  }
  auto conn = req_.get_header_value("Connection");
  if (lists_token(conn, "close"))
    keep_alive_ = false;
  else if (lists_token(conn, "keep-alive"))
    keep_alive_ = true;
  return true;
}

bool http_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size())
        return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0')
      return false;
    out += c;
  }
  return true;
}

bool http_parse_query(std::string_view query, httplib::Params& out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    std::string key, value;
    if (!http_decode(pair.substr(0, eq), true, key))
      return false;
    if (eq != std::string_view::npos && !http_decode(pair.substr(eq + 1), true, value))
      return false;
    out.emplace(std::move(key), std::move(value));
  }
  return true;
}

std::string http_status_line(int status) {
  const char* reason = "Unknown";
  switch (status) {
    case 200: reason = "OK"; break;
    case 202: reason = "Accepted"; break;
    case 204: reason = "No Content"; break;
    case 206: reason = "Partial Content"; break;
    case 301: reason = "Moved Permanently"; break;
    case 302: reason = "Found"; break;
    case 304: reason = "Not Modified"; break;
    case 307: reason = "Temporary Redirect"; break;
    case 400: reason = "Bad Request"; break;
    case 401: reason = "Unauthorized"; break;
    case 403: reason = "Forbidden"; break;
    case 404: reason = "Not Found"; break;
    case 405: reason = "Method Not Allowed"; break;
    case 408: reason = "Request Timeout"; break;
    case 409: reason = "Conflict"; break;
    case 413: reason = "Payload Too Large"; break;
    case 415: reason = "Unsupported Media Type"; break;
    case 416: reason = "Range Not Satisfiable"; break;
    case 429: reason = "Too Many Requests"; break;
    case 431: reason = "Request Header Fields Too Large"; break;
    case 500: reason = "Internal Server Error"; break;
    case 501: reason = "Not Implemented"; break;
    case 503: reason = "Service Unavailable"; break;
    case 505: reason = "HTTP Version Not Supported"; break;
    default: break;
  }
  return std::to_string(status) + " " + reason;
}

namespace {

std::string head_lines(const httplib::Response& res) {
  std::string out = "HTTP/1.1 " + http_status_line(res.status) + "\r\n";
  for (auto& [k, v] : res.headers) {
    if (iequals(k, "Content-Length") || iequals(k, "Connection")
        || iequals(k, "Transfer-Encoding"))
      continue;
    out += wire_safe(k) + ": " + wire_safe(v) + "\r\n";
  }
  return out;
}

} // namespace

std::string http_chunked_head(const httplib::Response& res, bool keep_alive) {
  std::string out = head_lines(res);
  out += "Transfer-Encoding: chunked\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

std::string http_response_head(const httplib::Response& res, size_t body_length,
                               bool keep_alive) {
  std::string out = head_lines(res);
  out += "Content-Length: " + std::to_string(body_length) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

} // namespace caldera
