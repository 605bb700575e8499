#include "actors/metrics.hpp"

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace caldera::metrics {

namespace {

using cell = std::atomic<uint64_t>;

// Every counter of the process: one cell per (family, type), never freed, so
// a thread may keep pointers to them.
struct all_counters {
  std::mutex mu;
  std::array<std::map<std::string, std::unique_ptr<cell>, std::less<>>, family_count> cells;
};

all_counters& all() {
  static all_counters a;
  return a;
}

struct sv_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

cell& find_or_add(family fam, std::string_view type) {
  auto& a = all();
  std::lock_guard<std::mutex> lock{a.mu};
  auto& m = a.cells[static_cast<int>(fam)];
  auto i = m.find(type);
  if (i == m.end())
    i = m.emplace(std::string{type}, std::make_unique<cell>(0)).first;
  return *i->second;
}

void count(family fam, std::string_view type) {
  // Per thread, the cell of each type is looked up once under the lock;
  // after that a message costs one hash lookup without allocating.
  using by_type_map = std::unordered_map<std::string, cell*, sv_hash, std::equal_to<>>;
  thread_local std::array<by_type_map, family_count> cache;
  auto& by_type = cache[static_cast<int>(fam)];
  auto i = by_type.find(type);
  if (i == by_type.end())
    i = by_type.emplace(std::string{type}, &find_or_add(fam, type)).first;
  i->second->fetch_add(1, std::memory_order_relaxed);
}

} // namespace

void message_received(std::string_view type) {
  count(family::received, type);
}

void message_dropped(std::string_view type) {
  count(family::dropped, type);
}

void refused(std::string_view type) {
  count(family::refusals, type);
}

void http_connection(std::string_view type) {
  count(family::http, type);
}

void election(std::string_view type) {
  count(family::elections, type);
}

void for_each_counter(const std::function<void(family, const std::string&, uint64_t)>& f) {
  auto& a = all();
  std::lock_guard<std::mutex> lock{a.mu};
  for (int fam = 0; fam < family_count; ++fam)
    for (auto& [type, c] : a.cells[fam])
      f(static_cast<family>(fam), type, c->load(std::memory_order_relaxed));
}

} // namespace caldera::metrics
