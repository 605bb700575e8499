# The conversation between an executor and its agent. Tasks (RunTask), kills
# (Kill), status updates (StatusUpdate) and acknowledgements (Acknowledge) use
# the structs of agent.capnp and scheduler.capnp.
@0xc4d6c417666ed7e8;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::schema");
using Common = import "common.capnp";

# executor -> agent.
struct RegisterExecutor {
  frameworkId @0 :Text;
  executorId @1 :Text;
  token @2 :Text;      # CALDERA_EXECUTOR_TOKEN: proves the agent launched it
}

# agent -> executor.
struct ExecutorRegistered {
  agentId @0 :Text;
  hostname @1 :Text;
  framework @2 :Common.FrameworkInfo;
  executor @3 :Common.ExecutorInfo;
}

# agent -> executor: stop every task and exit.
struct ShutdownExecutor {
  reason @0 :Text;
}
