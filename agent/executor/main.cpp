// caldera-executor: the default command executor, started by the agent for a
// command task. Everything it needs comes from CALDERA_* variables.
#include <caf/actor_system.hpp>

#include "agent/executor/command_executor.hpp"

int main(int argc, char** argv) {
  using namespace caldera;
  return run_executor_process("caldera-executor", argc - 1, argv + 1,
                              [](caf::actor_system& sys, executor_options o) {
                                sys.spawn<command_executor>(std::move(o));
                              });
}
