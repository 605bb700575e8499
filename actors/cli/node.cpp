// `caldera actors` and `caldera kill-actor`: fault injection in a running
// cluster through the node actor of a master or agent process.
//
//   caldera actors     --node HOST:PORT [--json]
//   caldera kill-actor --node HOST:PORT NAME
#include <cstdio>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/cli/cli.hpp"
#include "actors/error.hpp"
#include "actors/types.hpp"

namespace caldera::cli {

namespace {

template <class Msg>
int ask(const char* what, parsed_args& args, const Msg& request) {
  if (args.opts.count("node") == 0) {
    std::fprintf(stderr, "caldera %s: --node HOST:PORT is required\n", what);
    return 2;
  }
  return with_remote(what, args, "node", "", "node", [&](caf::scoped_actor& self, const caf::actor& node) {
    int rc = 0;
    self->request(node, std::chrono::seconds(30), request)
      .receive(
        [&](const actor_list_msg& m) {
          auto v = m.read();
          if (args.opts.count("json")) {
            auto names = nlohmann::json::array();
            for (auto a : v->getActors())
              names.push_back(std::string{a});
            std::cout << nlohmann::json{{"node", std::string{v->getNode()}},
                                        {"actors", names}}.dump(2)
                      << std::endl;
            return;
          }
          std::cout << "node " << v->getNode().cStr() << "\n";
          for (auto a : v->getActors())
            std::cout << "  " << a.cStr() << "\n";
        },
        [&](caf::error& err) {
          std::fprintf(stderr, "caldera %s: %s\n", what, describe(err).c_str());
          rc = 1;
        });
    return rc;
  });
}

} // namespace

int cmd_actors(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"node"}, args)) {
    std::fprintf(stderr, "caldera actors: %s\n", err->c_str());
    return 2;
  }
  return ask("actors", args, list_actors_msg{});
}

int cmd_kill_actor(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"node"}, args)) {
    std::fprintf(stderr, "caldera kill-actor: %s\n", err->c_str());
    return 2;
  }
  if (args.positional.size() != 1) {
    std::fprintf(stderr, "usage: caldera kill-actor --node HOST:PORT NAME\n");
    return 2;
  }
  auto name = args.positional[0];
  return ask("kill-actor", args,
             make<schema::KillActor>([&](auto b) { b.setName(name); }));
}

} // namespace caldera::cli
