// caldera masters: who leads the standby masters of a coordinator, since
// when, in which epoch, and which masters stand by.
#include <cstdio>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "actors/leader_json.hpp"

#include "actors/cli/cli.hpp"
#include "actors/coordinator.hpp"
#include "actors/error.hpp"
#include "actors/master_address.hpp"

namespace caldera::cli {

namespace {

std::string when(double secs) {
  auto t = static_cast<std::time_t>(secs);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

nlohmann::json to_json(const leader_record& r, const char* role) {
  return {{"id", r.id},       {"address", r.address}, {"http", r.http},
          {"hostname", r.hostname}, {"role", role}, {"since", r.since}};
}

void print_table(const std::optional<leader_record>& leader,
                 const std::vector<leader_record>& all) {
  if (leader)
    std::cout << "leader: " << leader->id << " at " << leader->address << ", epoch "
              << leader->epoch << ", elected " << when(leader->since) << "\n";
  else
    std::cout << "leader: none (no master leads now)\n";
  std::printf("%-22s %-22s %-22s %s\n", "ID", "ADDRESS", "HTTP", "ROLE");
  for (auto& m : all)
    std::printf("%-22s %-22s %-22s %s\n", m.id.c_str(), m.address.c_str(),
                m.http.empty() ? "-" : m.http.c_str(),
                leader && leader->id == m.id ? "leader" : "standby");
}

} // namespace

int cmd_masters(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"master"}, args)) {
    std::fprintf(stderr, "caldera masters: %s\n", err->c_str());
    return 2;
  }
  auto a = parse_master_address(args.opts.count("master") ? args.opts["master"] : "");
  if (!a || !a->coordinator) {
    std::fprintf(stderr, "caldera masters: --master etcd://HOST:PORT[,...]/PREFIX (the "
                         "coordinator of standby masters)%s%s\n",
                 a ? "" : ": ", a ? "" : describe(a.error()).c_str());
    return 2;
  }
  auto c = make_etcd_coordinator(*a->coordinator);
  auto leader = c->leader();
  auto all = leader ? c->masters() : caf::expected<std::vector<leader_record>>{leader.error()};
  if (!leader || !all) {
    std::fprintf(stderr, "caldera masters: %s\n",
                 describe(leader ? all.error() : leader.error()).c_str());
    return 1;
  }
  if (args.opts.count("json") == 0) {
    print_table(*leader, *all);
    return 0;
  }
  nlohmann::json out{{"coordinator", a->to_string()}, {"leader", nullptr},
                     {"masters", nlohmann::json::array()}};
  out["leader"] = leader_json(*leader);
  for (auto& m : *all)
    out["masters"].push_back(
      to_json(m, *leader && (*leader)->id == m.id ? "leader" : "standby"));
  std::cout << out.dump(2) << "\n";
  return 0;
}

} // namespace caldera::cli
