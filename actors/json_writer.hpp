// A streaming JSON writer: appends compact JSON to a std::string with no
// intermediate tree. Used where documents are large and hot (the master's
// /master/state at 100k tasks), where building an nlohmann::json tree first
// costs more than the bytes themselves. The caller keeps the structure valid
// (keys inside objects, commas are placed by the writer).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace caldera {

class json_writer {
public:
  explicit json_writer(std::string& out) : out_(out) {
  }

  json_writer& begin_object() {
    sep();
    out_ += '{';
    first_ = true;
    return *this;
  }
  json_writer& end_object() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  json_writer& begin_array() {
    sep();
    out_ += '[';
    first_ = true;
    return *this;
  }
  json_writer& end_array() {
    out_ += ']';
    first_ = false;
    return *this;
  }
  /// `"k":`; the value written next needs no comma.
  json_writer& key(std::string_view k) {
    sep();
    quote(k);
    out_ += ':';
    first_ = true;
    return *this;
  }
  json_writer& value(std::string_view s) {
    sep();
    quote(s);
    return *this;
  }
  json_writer& value(const char* s) {
    return value(std::string_view{s});
  }
  json_writer& value(const std::string& s) {
    return value(std::string_view{s});
  }
  json_writer& value(bool b) {
    sep();
    out_ += b ? "true" : "false";
    return *this;
  }
  json_writer& value(double d) {
    sep();
    if (!std::isfinite(d)) {
      out_ += "null";
      return *this;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), d);
    out_.append(buf, r.ptr);
    return *this;
  }
  json_writer& value(int64_t i) {
    return integer(i);
  }
  json_writer& value(uint64_t i) {
    return integer(i);
  }
  json_writer& value(int i) {
    return value(static_cast<int64_t>(i));
  }
  json_writer& value(unsigned i) {
    return value(static_cast<uint64_t>(i));
  }
  json_writer& null() {
    sep();
    out_ += "null";
    return *this;
  }
  /// Already rendered JSON (a cached fragment) as the next value.
  json_writer& raw(std::string_view json) {
    sep();
    out_.append(json);
    return *this;
  }
  template <class T>
  json_writer& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  std::string& out() {
    return out_;
  }

private:
  template <class T>
  json_writer& integer(T i) {
    sep();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), i);
    out_.append(buf, r.ptr);
    return *this;
  }

  void sep() {
    if (!first_)
      out_ += ',';
    first_ = false;
  }

  // Quotes and escapes `s`; bytes that are not UTF-8 become U+FFFD.
  void quote(std::string_view s) {
    out_ += '"';
    size_t i = 0, n = s.size();
    while (i < n) {
      // Fast path: a run of plain ASCII.
      size_t j = i;
      while (j < n) {
        auto c = static_cast<unsigned char>(s[j]);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
          break;
        ++j;
      }
      out_.append(s.data() + i, j - i);
      if (j == n)
        break;
      i = j;
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        escape(c);
        ++i;
        continue;
      }
      size_t len = utf8_len(s, i);
      if (len == 0) {
        out_ += "\xEF\xBF\xBD";
        ++i;
      } else {
        out_.append(s.data() + i, len);
        i += len;
      }
    }
    out_ += '"';
  }

  void escape(unsigned char c) {
    switch (c) {
      case '"': out_ += "\\\""; return;
      case '\\': out_ += "\\\\"; return;
      case '\n': out_ += "\\n"; return;
      case '\r': out_ += "\\r"; return;
      case '\t': out_ += "\\t"; return;
      case '\b': out_ += "\\b"; return;
      case '\f': out_ += "\\f"; return;
      default: {
        static const char hex[] = "0123456789abcdef";
        out_ += "\\u00";
        out_ += hex[c >> 4];
        out_ += hex[c & 15];
      }
    }
  }

  // Length of the well-formed UTF-8 sequence at s[i], 0 if it is not one.
  static size_t utf8_len(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
    unsigned char c = b(0);
    if (c >= 0xC2 && c <= 0xDF)
      return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      if (!cont(1) || !cont(2))
        return 0;
      if (c == 0xE0 && b(1) < 0xA0)
        return 0; // overlong
      if (c == 0xED && b(1) >= 0xA0)
        return 0; // surrogate
      return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3))
        return 0;
      if (c == 0xF0 && b(1) < 0x90)
        return 0;
      if (c == 0xF4 && b(1) >= 0x90)
        return 0;
      return 4;
    }
    return 0;
  }

  std::string& out_;
  bool first_ = true;
};

} // namespace caldera
