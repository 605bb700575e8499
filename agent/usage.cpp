#include "agent/usage.hpp"

#include "actors/ids.hpp"

namespace caldera {

container_usage limits_only(const container_limits& lim) {
  container_usage u;
  u.timestamp = wall_seconds();
  u.cpus_limit = lim.cpus;
  u.mem_limit_bytes = lim.mem_bytes;
  u.disk_limit_bytes = lim.disk_bytes;
  return u;
}

void usage_to_capnp(const container_usage& u, schema::ResourceStatistics::Builder s) {
  s.setTimestamp(u.timestamp);
  s.setCpusUserTimeSecs(u.cpus_user_time_secs);
  s.setCpusSystemTimeSecs(u.cpus_system_time_secs);
  s.setCpusLimit(u.cpus_limit);
  s.setCpusNrThrottled(u.cpus_nr_throttled);
  s.setMemRssBytes(u.mem_rss_bytes);
  s.setMemLimitBytes(u.mem_limit_bytes);
  s.setDiskUsedBytes(u.disk_used_bytes);
  s.setDiskLimitBytes(u.disk_limit_bytes);
  s.setProcesses(u.processes);
}

container_usage usage_from_capnp(schema::ResourceStatistics::Reader s) {
  container_usage u;
  u.timestamp = s.getTimestamp();
  u.cpus_user_time_secs = s.getCpusUserTimeSecs();
  u.cpus_system_time_secs = s.getCpusSystemTimeSecs();
  u.cpus_limit = s.getCpusLimit();
  u.cpus_nr_throttled = s.getCpusNrThrottled();
  u.mem_rss_bytes = s.getMemRssBytes();
  u.mem_limit_bytes = s.getMemLimitBytes();
  u.disk_used_bytes = s.getDiskUsedBytes();
  u.disk_limit_bytes = s.getDiskLimitBytes();
  u.processes = s.getProcesses();
  return u;
}

nlohmann::json usage_json(const container_usage& u) {
  return {{"timestamp", u.timestamp},
          {"cpus_user_time_secs", u.cpus_user_time_secs},
          {"cpus_system_time_secs", u.cpus_system_time_secs},
          {"cpus_limit", u.cpus_limit},
          {"cpus_nr_throttled", u.cpus_nr_throttled},
          {"mem_rss_bytes", u.mem_rss_bytes},
          {"mem_limit_bytes", u.mem_limit_bytes},
          {"disk_used_bytes", u.disk_used_bytes},
          {"disk_limit_bytes", u.disk_limit_bytes},
          {"processes", u.processes}};
}

} // namespace caldera
