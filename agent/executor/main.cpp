// caldera-executor: the default command executor, started by the agent for a
// command task. Everything it needs comes from CALDERA_* variables.
#include <cstdio>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "agent/executor/command_executor.hpp"

int main(int argc, char** argv) {
  using namespace caldera;
  node_config cfg{"executor"};
  if (auto err = cfg.configure(argc, argv)) {
    std::fprintf(stderr, "caldera-executor: %s\n", err->c_str());
    return 2;
  }
  if (cfg.help_printed())
    return 0;
  auto opts = executor_options::from_env();
  if (!opts) {
    std::fprintf(stderr, "caldera-executor: %s\n", describe(opts.error()).c_str());
    return 2;
  }
  caf::actor_system sys{cfg};
  sys.spawn<command_executor>(*opts);
  sys.await_all_actors_done();
  return 0;
}
