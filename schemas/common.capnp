# Shared vocabulary of the caldera protocol: ids, resources, attributes, tasks
# and their states. Field numbers are never reused; new fields go at the end.
@0x8989fb6790af4405;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::schema");

struct Range {
  begin @0 :UInt64;
  end @1 :UInt64;            # inclusive, as Mesos' [31000-32000]
}

# One named resource, Mesos style. `role` is "*" for unreserved resources.
struct Resource {
  name @0 :Text;
  role @1 :Text;
  union {
    scalar @2 :Float64;
    ranges @3 :List(Range);
  }
}

struct Attribute {
  name @0 :Text;
  value @1 :Text;
}

enum TaskState {
  staging @0;
  starting @1;
  running @2;
  finished @3;
  failed @4;
  killed @5;
  lost @6;
  error @7;
  killing @8;
  dropped @9;
  unreachable @10;
  gone @11;
  unknown @12;
}

enum StatusSource {
  master @0;
  agent @1;
  executor @2;
}

struct TaskStatus {
  taskId @0 :Text;
  state @1 :TaskState;
  message @2 :Text;
  reason @3 :Text;           # Mesos reason names, e.g. REASON_COMMAND_EXECUTOR_FAILED
  source @4 :StatusSource;
  frameworkId @5 :Text;
  agentId @6 :Text;
  executorId @7 :Text;
  timestamp @8 :Float64;     # seconds since the epoch
  uuid @9 :Text;             # non-empty: the update must be acknowledged
  hasExitCode @10 :Bool;
  exitCode @11 :Int32;       # the command's exit code, beyond Mesos
  data @12 :Data;
}

struct EnvVar {
  name @0 :Text;
  value @1 :Text;
}

struct CommandInfo {
  shell @0 :Text;            # run with /bin/sh -c
  environment @1 :List(EnvVar);
  user @2 :Text;
}

struct ExecutorInfo {
  executorId @0 :Text;
  frameworkId @1 :Text;
  name @2 :Text;
  command @3 :CommandInfo;   # empty shell: caldera-executor, the command executor
  resources @4 :List(Resource);
}

struct TaskInfo {
  taskId @0 :Text;
  name @1 :Text;
  agentId @2 :Text;
  resources @3 :List(Resource);
  command @4 :CommandInfo;
  executor @5 :ExecutorInfo; # empty executorId: one command executor for this task
  data @6 :Data;
  killGracePeriod @7 :Float64;  # seconds between SIGTERM and SIGKILL; 0 = default
}

struct FrameworkInfo {
  id @0 :Text;               # empty on first registration
  name @1 :Text;
  user @2 :Text;
  roles @3 :List(Text);
  failoverTimeout @4 :Float64;
  principal @5 :Text;
  hostname @6 :Text;
  checkpoint @7 :Bool;
  capabilities @8 :List(Text);
}

struct Offer {
  id @0 :Text;
  frameworkId @1 :Text;
  agentId @2 :Text;
  hostname @3 :Text;
  resources @4 :List(Resource);
  attributes @5 :List(Attribute);
  executorIds @6 :List(Text);  # the framework's executors charged on the agent
  allocationRole @7 :Text;     # the role the resources are offered to the framework in
  agentHttpEndpoint @8 :Text;  # host:port of the agent's HTTP API ("" if none)
}

struct Filters {
  refuseSeconds @0 :Float64 = 5.0;
}

# A framework's own message between its actors (schedulers, executors,
# workers), carried by caldera's one registered CAF type: `kind` names the
# payload's struct, which the framework defines in its own schema.
struct AppMessage {
  kind @0 :Text;
  payload @1 :AnyPointer;
}
