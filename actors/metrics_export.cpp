#include "actors/metrics_export.hpp"

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace caldera::metrics {

namespace {

struct family_info {
  const char* name;
  const char* help;
};

// In the order of `family`.
constexpr family_info counter_families[family_count] = {
  {"caldera_messages_received_total", "Messages handled by this process's actors, by type"},
  {"caldera_messages_dropped_total",
   "Messages dropped because they did not decode or were refused, by type"},
  {"caldera_refusals_total",
   "Requests refused for who asked (unauthenticated) or what (the ACL action)"},
  {"caldera_http_connections_total",
   "HTTP connections accepted and closed, and why some were closed early, by type"},
  {"caldera_master_elections_total", "Elections this master won, and leaderships it lost, by type"},
};

struct process_metrics {
  prometheus::Registry reg;
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

// The counters as they are now, as Prometheus families (every family, also
// those nothing touched yet: a scrape lists them at zero-length).
void add_counters(prometheus::Registry& reg) {
  std::vector<prometheus::Family<prometheus::Counter>*> fams;
  for (auto& f : counter_families)
    fams.push_back(&prometheus::BuildCounter().Name(f.name).Help(f.help).Register(reg));
  for_each_counter([&](family fam, const std::string& type, uint64_t value) {
    fams[static_cast<int>(fam)]->Add({{"type", type}}).Increment(static_cast<double>(value));
  });
}

} // namespace

void observe_allocation(double seconds) {
  pm().allocation.Observe(seconds);
}

void observe_registry_write(double seconds) {
  pm().registry_write.Observe(seconds);
}

std::string exposition(const std::function<void(prometheus::Registry&)>& add) {
  prometheus::Registry scratch;
  add_counters(scratch);
  if (add)
    add(scratch);
  auto families = scratch.Collect();
  auto own = pm().reg.Collect();
  families.insert(families.end(), own.begin(), own.end());
  return prometheus::TextSerializer{}.Serialize(families);
}

std::string counters_json() {
  nlohmann::json j = nlohmann::json::object();
  for_each_counter([&](family fam, const std::string& type, uint64_t value) {
    j[std::string{counter_families[static_cast<int>(fam)].name} + "/" + type] = value;
  });
  for (auto& fam : pm().reg.Collect())
    for (auto& m : fam.metric)
      if (fam.type == prometheus::MetricType::Histogram)
        j[fam.name + "/count"] = m.histogram.sample_count;
  return j.dump();
}

} // namespace caldera::metrics
