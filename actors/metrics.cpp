#include "actors/metrics.hpp"

#include <mutex>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace caldera::metrics {

namespace {

struct process_metrics {
  prometheus::Registry reg;
  prometheus::Family<prometheus::Counter>& received =
    prometheus::BuildCounter()
      .Name("caldera_messages_received_total")
      .Help("Messages handled by this process's actors, by type")
      .Register(reg);
  prometheus::Family<prometheus::Counter>& dropped =
    prometheus::BuildCounter()
      .Name("caldera_messages_dropped_total")
      .Help("Messages dropped because they did not decode or were refused, by type")
      .Register(reg);
  prometheus::Family<prometheus::Counter>& refusals =
    prometheus::BuildCounter()
      .Name("caldera_refusals_total")
      .Help("Requests refused for who asked (unauthenticated) or what (the ACL action)")
      .Register(reg);
  prometheus::Family<prometheus::Counter>& http =
    prometheus::BuildCounter()
      .Name("caldera_http_connections_total")
      .Help("HTTP connections accepted and closed, and why some were closed early, by type")
      .Register(reg);
  prometheus::Family<prometheus::Counter>& elections =
    prometheus::BuildCounter()
      .Name("caldera_master_elections_total")
      .Help("Elections this master won, and leaderships it lost, by type")
      .Register(reg);
  prometheus::Histogram& allocation =
    prometheus::BuildHistogram()
      .Name("caldera_allocation_cycle_seconds")
      .Help("Duration of the allocator's cycles")
      .Register(reg)
      .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01,
                                                       0.05, 0.1, 0.5, 1, 5});
  prometheus::Histogram& registry_write =
    prometheus::BuildHistogram()
      .Name("caldera_registry_write_seconds")
      .Help("Latency of the master's registry writes (RocksDB, synced)")
      .Register(reg)
      .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01,
                                                       0.05, 0.1, 0.5, 1});
  prometheus::Family<prometheus::Gauge>& build =
    prometheus::BuildGauge()
      .Name("caldera_build_info")
      .Help("Always 1; the labels say which caldera this is")
      .Register(reg);
  process_metrics() {
    build.Add({{"version", "0.1.0"}}).Set(1);
  }
};

process_metrics& pm() {
  static process_metrics m;
  return m;
}

struct sv_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

prometheus::Counter& counter(prometheus::Family<prometheus::Counter>& fam,
                             std::string_view type) {
  // Per thread, the counter of each type is looked up once; after that a
  // message costs one hash lookup without allocating.
  using by_type_map =
    std::unordered_map<std::string, prometheus::Counter*, sv_hash, std::equal_to<>>;
  thread_local std::unordered_map<const void*, by_type_map> cache;
  auto& by_type = cache[&fam];
  if (auto i = by_type.find(type); i != by_type.end())
    return *i->second;
  std::string key{type};
  auto& c = fam.Add({{"type", key}});
  by_type.emplace(std::move(key), &c);
  return c;
}

} // namespace

void message_received(std::string_view type) {
  counter(pm().received, type).Increment();
}

void message_dropped(std::string_view type) {
  counter(pm().dropped, type).Increment();
}

void refused(std::string_view type) {
  counter(pm().refusals, type).Increment();
}

void http_connection(std::string_view type) {
  counter(pm().http, type).Increment();
}

void election(std::string_view type) {
  counter(pm().elections, type).Increment();
}

void observe_allocation(double seconds) {
  pm().allocation.Observe(seconds);
}

void observe_registry_write(double seconds) {
  pm().registry_write.Observe(seconds);
}

std::string exposition(const std::function<void(prometheus::Registry&)>& add) {
  auto families = pm().reg.Collect();
  if (add) {
    prometheus::Registry scratch;
    add(scratch);
    auto more = scratch.Collect();
    families.insert(families.end(), more.begin(), more.end());
  }
  return prometheus::TextSerializer{}.Serialize(families);
}

std::string counters_json() {
  nlohmann::json j = nlohmann::json::object();
  for (auto& fam : pm().reg.Collect())
    for (auto& m : fam.metric) {
      std::string name = fam.name;
      for (auto& l : m.label)
        name += "/" + l.value;
      if (fam.type == prometheus::MetricType::Counter)
        j[name] = m.counter.value;
      else if (fam.type == prometheus::MetricType::Histogram)
        j[name + "/count"] = m.histogram.sample_count;
    }
  return j.dump();
}

} // namespace caldera::metrics
