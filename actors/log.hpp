// Structured event logs: one line per event, key=value fields, strings quoted.
//
//   2026-11-25T04:40:30.123Z INFO master agent_registered agent_id="m1-S0" cpus=4
//
// Thread-safe; writes to stderr. The component is set once per process.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace caldera::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };

void set_component(std::string name);
/// The node that speaks on this thread from now on ("" : none); printed
/// after the component (the simulator sets it before each actor runs).
void set_node(std::string_view node);
/// Where timestamps come from (seconds since the epoch; null: the wall
/// clock). The simulator gives its virtual time.
void set_clock(double (*now)());
/// Where lines go (null: stderr). The simulator keeps them in its trace.
void set_sink(void (*sink)(std::string_view line));
void set_level(level lvl);
/// Parses "debug" / "info" / "warn" / "error"; false if unknown.
bool parse_level(std::string_view text, level& out);
bool enabled(level lvl);

struct field {
  field(std::string_view k, std::string_view v) : key(k), text(v), quoted(true) {}
  field(std::string_view k, const std::string& v) : key(k), text(v), quoted(true) {}
  field(std::string_view k, const char* v) : key(k), text(v), quoted(true) {}
  field(std::string_view k, int64_t v) : key(k), text(std::to_string(v)) {}
  field(std::string_view k, int v) : key(k), text(std::to_string(v)) {}
  field(std::string_view k, unsigned v) : key(k), text(std::to_string(v)) {}
  field(std::string_view k, uint64_t v) : key(k), text(std::to_string(v)) {}
  field(std::string_view k, double v);
  field(std::string_view k, bool v) : key(k), text(v ? "true" : "false") {}
  std::string_view key;
  std::string text;
  bool quoted = false;
};

void write(level lvl, std::string_view event, std::initializer_list<field> fields);

inline void debug(std::string_view ev, std::initializer_list<field> f = {}) {
  if (enabled(level::debug))
    write(level::debug, ev, f);
}
inline void info(std::string_view ev, std::initializer_list<field> f = {}) {
  write(level::info, ev, f);
}
inline void warn(std::string_view ev, std::initializer_list<field> f = {}) {
  write(level::warn, ev, f);
}
inline void error(std::string_view ev, std::initializer_list<field> f = {}) {
  write(level::error, ev, f);
}

} // namespace caldera::log
