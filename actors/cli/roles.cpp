// `caldera weights` and `caldera quota`: role weights and quotas, stored in
// the master's registry.
//
//   caldera weights set [--master H:P] ROLE=WEIGHT [ROLE=WEIGHT ...]
//   caldera weights get [--master H:P] [--json]
//   caldera quota set   [--master H:P] ROLE 'cpus:4;mem:8192' [--limit 'cpus:8;mem:16384']
//   caldera quota remove [--master H:P] ROLE
//   caldera quota get   [--master H:P] [--json]
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/cli/cli.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/resources.hpp"
#include "actors/types.hpp"

namespace caldera::cli {

namespace {

std::string res_text(capnp::List<schema::Resource>::Reader xs) {
  auto r = resources::from_capnp(xs);
  return r ? r->to_string() : std::string{"?"};
}

void print_roles(const roles_msg& m, bool json) {
  auto v = m.read();
  if (json) {
    auto arr = nlohmann::json::array();
    for (auto r : v->getRoles()) {
      auto fws = nlohmann::json::array();
      for (auto f : r.getFrameworks())
        fws.push_back(std::string{f});
      arr.push_back({{"name", std::string{r.getRole()}},
                     {"weight", r.getWeight()},
                     {"quota", {{"guarantee", res_text(r.getGuarantee())},
                                {"limit", res_text(r.getLimit())}}},
                     {"allocated", res_text(r.getAllocated())},
                     {"share", r.getShare()},
                     {"frameworks", fws}});
    }
    std::cout << nlohmann::json{{"roles", arr}}.dump(2) << std::endl;
    return;
  }
  std::printf("%-16s %-7s %-22s %-22s %-7s %s\n", "ROLE", "WEIGHT", "GUARANTEE", "LIMIT",
              "SHARE", "ALLOCATED");
  for (auto r : v->getRoles())
    std::printf("%-16s %-7g %-22s %-22s %-7.3f %s\n", r.getRole().cStr(), r.getWeight(),
                res_text(r.getGuarantee()).c_str(), res_text(r.getLimit()).c_str(),
                r.getShare(), res_text(r.getAllocated()).c_str());
}

// Sends `request` to the master and prints the Roles answer.
template <class Msg>
int call(const char* what, parsed_args& args, const Msg& request) {
  return with_master(what, args, [&](caf::scoped_actor& self, const caf::actor& master) {
    int rc = 0;
    self->request(master, std::chrono::seconds(30), request)
      .receive([&](const roles_msg& r) { print_roles(r, args.opts.count("json") > 0); },
               [&](caf::error& err) {
                 std::fprintf(stderr, "caldera %s: %s\n", what, describe(err).c_str());
                 rc = 1;
               });
    return rc;
  });
}

} // namespace

int cmd_weights(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"master"}, args)) {
    std::fprintf(stderr, "caldera weights: %s\n", err->c_str());
    return 2;
  }
  auto& pos = args.positional;
  if (pos.empty() || (pos[0] != "set" && pos[0] != "get")) {
    std::fprintf(stderr, "usage: caldera weights set ROLE=WEIGHT... | caldera weights get\n");
    return 2;
  }
  if (pos[0] == "get")
    return call("weights", args, get_roles_msg{});
  std::vector<std::pair<std::string, double>> ws;
  for (size_t i = 1; i < pos.size(); ++i) {
    auto eq = pos[i].find('=');
    char* end = nullptr;
    double w = eq == std::string::npos ? 0 : std::strtod(pos[i].c_str() + eq + 1, &end);
    if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || !(w > 0)) {
      std::fprintf(stderr, "caldera weights: '%s' is not ROLE=WEIGHT with a positive weight\n",
                   pos[i].c_str());
      return 2;
    }
    ws.emplace_back(pos[i].substr(0, eq), w);
  }
  if (ws.empty()) {
    std::fprintf(stderr, "caldera weights set: no ROLE=WEIGHT given\n");
    return 2;
  }
  auto m = make<schema::SetWeights>([&](schema::SetWeights::Builder b) {
    auto l = b.initWeights(static_cast<unsigned>(ws.size()));
    for (unsigned i = 0; i < ws.size(); ++i) {
      l[i].setRole(ws[i].first);
      l[i].setWeight(ws[i].second);
    }
  });
  return call("weights", args, m);
}

int cmd_quota(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"master", "limit"}, args)) {
    std::fprintf(stderr, "caldera quota: %s\n", err->c_str());
    return 2;
  }
  auto& pos = args.positional;
  if (!pos.empty() && pos[0] == "get")
    return call("quota", args, get_roles_msg{});
  if (pos.size() == 2 && pos[0] == "remove") {
    auto m = make<schema::SetQuota>([&](auto b) {
      b.setRole(pos[1]);
      b.setRemove(true);
    });
    return call("quota", args, m);
  }
  if (pos.size() != 3 || pos[0] != "set") {
    std::fprintf(stderr, "usage: caldera quota set ROLE RESOURCES [--limit RESOURCES] | "
                         "caldera quota remove ROLE | caldera quota get\n");
    return 2;
  }
  auto g = resources::parse(pos[2]);
  if (!g) {
    std::fprintf(stderr, "caldera quota: %s\n", describe(g.error()).c_str());
    return 2;
  }
  // As in Mesos before separate limits: the quota is both guarantee and limit
  // unless --limit says otherwise.
  auto l = args.opts.count("limit") ? resources::parse(args.opts["limit"])
                                    : caf::expected<resources>{*g};
  if (!l) {
    std::fprintf(stderr, "caldera quota: --limit: %s\n", describe(l.error()).c_str());
    return 2;
  }
  auto m = make<schema::SetQuota>([&](schema::SetQuota::Builder b) {
    b.setRole(pos[1]);
    g->to_capnp(b.initGuarantee(static_cast<unsigned>(g->entry_count())));
    l->to_capnp(b.initLimit(static_cast<unsigned>(l->entry_count())));
  });
  return call("quota", args, m);
}

int cmd_teardown(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {}, {"master"}, args)) {
    std::fprintf(stderr, "caldera teardown: %s\n", err->c_str());
    return 2;
  }
  if (args.positional.size() != 1) {
    std::fprintf(stderr, "usage: caldera teardown FRAMEWORK_ID [--master HOST:PORT]\n");
    return 2;
  }
  auto fid = args.positional[0];
  return with_master("teardown", args, [&](caf::scoped_actor& self, const caf::actor& master) {
    int rc = 0;
    auto req = make<schema::TeardownFramework>([&](auto b) { b.setFrameworkId(fid); });
    self->request(master, std::chrono::seconds(30), req)
      .receive(
        [&](const framework_state_msg& f) {
          std::cout << "framework " << fid << " (" << f.read()->getName().cStr()
                    << ") torn down\n";
        },
        [&](caf::error& err) {
          std::fprintf(stderr, "caldera teardown: %s\n", describe(err).c_str());
          rc = 1;
        });
    return rc;
  });
}

} // namespace caldera::cli
