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
thread_local std::string node_name;
std::atomic<double (*)()> clock_fn{nullptr};
std::atomic<void (*)(std::string_view)> sink_fn{nullptr};

double wall_now() {
  if (auto f = clock_fn.load())
    return f();
  // The log is an I/O edge: without a clock given, it reads the machine's.
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

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

void set_node(std::string_view node) {
  node_name = node;
}

void set_clock(double (*now)()) {
  clock_fn = now;
}

void set_sink(void (*sink)(std::string_view line)) {
  sink_fn = sink;
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
  double now = wall_now();
  auto secs = static_cast<std::time_t>(now);
  auto ms = static_cast<int64_t>((now - static_cast<double>(secs)) * 1000) % 1000;
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
  if (!node_name.empty()) {
    line += ' ';
    line += node_name;
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
  if (auto sink = sink_fn.load()) {
    sink(line);
    return;
  }
  line += '\n';
  std::lock_guard<std::mutex> g{mtx};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace caldera::log
