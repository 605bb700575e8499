// `caldera usage --agent HOST:PORT [--json]`: what each executor on an agent
// uses and may use (Mesos' ResourceStatistics), as the agent's isolators
// measure it.
#include <cstdio>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/cli/cli.hpp"
#include "actors/error.hpp"
#include "actors/types.hpp"
#include "agent/usage.hpp"

namespace caldera::cli {

namespace {

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

std::string num(double x, const char* fmt = "%.2f") {
  char buf[32];
  std::snprintf(buf, sizeof(buf), fmt, x);
  return buf;
}

void print_usage(const usage_msg& m, bool as_json) {
  auto v = m.read();
  auto list = v->getExecutors();
  if (as_json) {
    auto out = nlohmann::json::array();
    for (auto e : list)
      out.push_back({{"framework_id", std::string{e.getFrameworkId()}},
                     {"executor_id", std::string{e.getExecutorId()}},
                     {"container_id", std::string{e.getContainerId()}},
                     {"source", std::string{e.getDirectory()}},
                     {"statistics", usage_json(usage_from_capnp(e.getStatistics()))}});
    std::cout << out.dump(2) << std::endl;
    return;
  }
  std::printf("agent %s, isolation %s\n", v->getAgentId().cStr(),
              v->getIsolators().size() > 0 ? v->getIsolators().cStr() : "none");
  std::printf("%-16s %-24s %8s %8s %6s %9s %9s %9s %10s %10s %5s\n", "FRAMEWORK", "EXECUTOR",
              "USER_S", "SYS_S", "CPUS", "THROTTLED", "RSS_MIB", "MEM_MIB", "DISK_MIB", "DISKLIM",
              "PROCS");
  for (auto e : list) {
    auto u = usage_from_capnp(e.getStatistics());
    std::printf("%-16s %-24s %8s %8s %6s %9llu %9s %9s %10s %10s %5u\n",
                e.getFrameworkId().cStr(), e.getExecutorId().cStr(),
                num(u.cpus_user_time_secs).c_str(), num(u.cpus_system_time_secs).c_str(),
                num(u.cpus_limit).c_str(), static_cast<unsigned long long>(u.cpus_nr_throttled),
                mib(u.mem_rss_bytes).c_str(), mib(u.mem_limit_bytes).c_str(),
                mib(u.disk_used_bytes).c_str(), mib(u.disk_limit_bytes).c_str(), u.processes);
  }
  if (list.size() == 0)
    std::printf("(no executors running)\n");
}

} // namespace

int cmd_usage(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"agent", "timeout"}, args)) {
    std::fprintf(stderr, "caldera usage: %s\n", err->c_str());
    return 2;
  }
  return with_remote("usage", args, "agent", "127.0.0.1:5051", "agent",
                     [&](caf::scoped_actor& self, const caf::actor& agent) {
                       int rc = 0;
                       self->request(agent, std::chrono::seconds(10), get_usage_msg{})
                         .receive(
                           [&](const usage_msg& m) {
                             print_usage(m, args.opts.count("json") > 0);
                           },
                           [&](caf::error& err) {
                             std::fprintf(stderr, "caldera usage: %s\n", describe(err).c_str());
                             rc = 1;
                           });
                       return rc;
                     });
}

} // namespace caldera::cli
