# The master's durable records (RocksDB, through storage/).
@0xf8d19845dc8e9ece;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::schema");
using Common = import "common.capnp";

struct AgentRecord {
  agentId @0 :Text;
  hostname @1 :Text;
  resources @2 :List(Common.Resource);
  attributes @3 :List(Common.Attribute);
  endpoint @4 :Text;
  registeredAt @5 :Float64;
  unreachableAt @6 :Float64;   # 0: reachable; else when it was marked unreachable
  # Tasks on this agent whose frameworks were told TASK_LOST when it became
  # unreachable: if it comes back they are killed, never reported again.
  lostTasks @7 :List(TaskRef);
}

struct TaskRef {
  frameworkId @0 :Text;
  taskId @1 :Text;
}

struct FrameworkRecord {
  framework @0 :Common.FrameworkInfo;
  registeredAt @1 :Float64;
}

# Standby masters: the cluster this registry belongs to (written by the
# cluster's first leader, copied with the registry to every master).
struct ClusterRecord {
  id @0 :Text;
}

struct MasterRecord {
  masterId @0 :Text;
  startedAt @1 :Float64;
}

# A role's weight and quota, as the operator set them.
struct RoleRecord {
  role @0 :Text;
  weight @1 :Float64 = 1.0;
  guarantee @2 :List(Common.Resource);
  limit @3 :List(Common.Resource);
}
