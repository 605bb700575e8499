# The conversation between an agent and the master.
@0xd00664439794a8d8;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::schema");
using Common = import "common.capnp";

# agent -> master. A non-empty agentId asks to re-register under that id.
struct RegisterAgent {
  agentId @0 :Text;
  hostname @1 :Text;
  resources @2 :List(Common.Resource);
  attributes @3 :List(Common.Attribute);
  endpoint @4 :Text;         # host:port the agent's executors connect to
  version @5 :Text;
  # On re-registration: what the agent runs, so a restarted master (or one
  # that lost the agent for a while) knows its tasks again.
  tasks @6 :List(AgentTask);
  frameworks @7 :List(Common.FrameworkInfo);
  httpEndpoint @8 :Text;     # host:port of the agent's HTTP API ("" if none)
}

struct AgentTask {
  frameworkId @0 :Text;
  taskId @1 :Text;
  name @2 :Text;
  executorId @3 :Text;
  state @4 :Common.TaskState;
  resources @5 :List(Common.Resource);
  role @6 :Text;
  executorResources @7 :List(Common.Resource); # its executor's own (ExecutorInfo.resources)
}

# agent -> master, when it changes: whether the agent can take tasks. One
# whose checkpoint cannot be written (a full disk) would lose what it
# launched on a restart: the master offers it to nobody until it can again.
struct AgentHealth {
  agentId @0 :Text;
  healthy @1 :Bool;
  reason @2 :Text;
}

# master -> agent.
struct AgentRegistered {
  agentId @0 :Text;
  masterId @1 :Text;
  epoch @2 :UInt64;          # the leader's epoch with standby masters (0: a master alone)
}

# master -> agent, agent -> executor.
struct RunTask {
  framework @0 :Common.FrameworkInfo;
  task @1 :Common.TaskInfo;
  role @2 :Text;             # the role the task's resources are charged to
}

# master -> agent: shut down every executor of the framework, or only
# `executorId` when set. scheduler -> master with `executorId` and
# `agentId`: shut that executor down (Mesos' SHUTDOWN call); its tasks end.
struct ShutdownFramework {
  frameworkId @0 :Text;
  executorId @1 :Text;
  agentId @2 :Text;
}

# The agent's checkpoint, kept in RocksDB under <work-dir>/meta (see
# storage/agent_store.hpp) so that a restarted agent recovers what it ran.

# key "agent/info"
struct CheckpointedAgent {
  agentId @0 :Text;
  # The newest leader epoch this agent registered with (standby masters): a
  # restarted agent still refuses masters of older epochs.
  masterEpoch @1 :UInt64;
}

# key "executor/<framework-id>\x1f<executor-id>"
struct CheckpointedExecutor {
  frameworkId @0 :Text;
  executorId @1 :Text;
  containerId @2 :Text;      # the containerizer's id (posix: the session's pid)
  sandbox @3 :Text;
  token @4 :Text;            # what the executor proves it was launched with
  commandTask @5 :Bool;      # no executor: the agent runs one command task's shell itself
}

# key "task/<framework-id>\x1f<task-id>": a task and its status updates not
# yet acknowledged by the master, oldest first.
struct CheckpointedTask {
  frameworkId @0 :Text;
  taskId @1 :Text;
  executorId @2 :Text;
  state @3 :Common.TaskState;
  launch @4 :RunTask;        # absent for updates about tasks never launched here
  pending @5 :List(PendingUpdate);
}

struct PendingUpdate {
  uuid @0 :Text;
  status @1 :Common.TaskStatus;
}
