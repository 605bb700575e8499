#include "actors/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace caldera::log {

namespace {
std::mutex mtx;
std::string component = "caldera";
std::atomic<int> min_level{static_cast<int>(level::info)};

const char* name(level l) {
  switch (l) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warn: return "WARN";
    case level::error: return "ERROR";
  }
  return "?";
}
} // namespace

field::field(std::string_view k, double v) : key(k) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  text = buf;
}

void set_component(std::string n) {
  std::lock_guard<std::mutex> g{mtx};
  component = std::move(n);
}

void set_level(level lvl) {
  min_level = static_cast<int>(lvl);
}

bool parse_level(std::string_view text, level& out) {
  if (text == "debug") out = level::debug;
  else if (text == "info") out = level::info;
  else if (text == "warn" || text == "warning") out = level::warn;
  else if (text == "error") out = level::error;
  else return false;
  return true;
}

bool enabled(level lvl) {
  return static_cast<int>(lvl) >= min_level.load();
}

void write(level lvl, std::string_view event, std::initializer_list<field> fields) {
  if (!enabled(lvl))
    return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line = ts;
  line += ' ';
  line += name(lvl);
  line += ' ';
  {
    std::lock_guard<std::mutex> g{mtx};
    line += component;
  }
  line += ' ';
  line += event;
  for (auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    if (f.quoted) {
      line += '"';
      for (char c : f.text) {
        if (c == '"' || c == '\\')
          line += '\\';
        if (c == '\n') {
          line += "\\n";
          continue;
        }
        line += c;
      }
      line += '"';
    } else {
      line += f.text;
    }
  }
  line += '\n';
  std::lock_guard<std::mutex> g{mtx};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace caldera::log
