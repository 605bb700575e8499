# The operator API: what the CLI and HTTP endpoints read from the master.
@0xc1e9721b2bc31129;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::schema");
using Common = import "common.capnp";

struct GetState {
}

struct AgentState {
  id @0 :Text;
  hostname @1 :Text;
  endpoint @2 :Text;
  active @3 :Bool;
  resources @4 :List(Common.Resource);
  usedResources @5 :List(Common.Resource);
  offeredResources @6 :List(Common.Resource);
  registeredAt @7 :Float64;
  unreachable @8 :Bool;
  httpEndpoint @9 :Text;          # host:port of the agent's HTTP API ("" if none)
  attributes @10 :List(Common.Attribute);
  unhealthy @11 :Text;            # why it takes no tasks now ("" : healthy)
}

struct FrameworkState {
  id @0 :Text;
  name @1 :Text;
  user @2 :Text;
  roles @3 :List(Text);
  active @4 :Bool;
  usedResources @5 :List(Common.Resource);
  offeredResources @6 :List(Common.Resource);
  registeredAt @7 :Float64;
  completed @8 :Bool;             # torn down
}

struct TaskEntry {
  id @0 :Text;
  name @1 :Text;
  frameworkId @2 :Text;
  agentId @3 :Text;
  executorId @4 :Text;
  state @5 :Common.TaskState;
  resources @6 :List(Common.Resource);
  statuses @7 :List(Common.TaskStatus);
}

# An executor whose own resources (ExecutorInfo.resources) the master charges
# to its framework: from the launch that starts it while any of its tasks is
# active.
struct ExecutorEntry {
  frameworkId @0 :Text;
  agentId @1 :Text;
  executorId @2 :Text;
  role @3 :Text;
  resources @4 :List(Common.Resource);
}

struct State {
  masterId @0 :Text;
  startedAt @1 :Float64;
  agents @2 :List(AgentState);
  frameworks @3 :List(FrameworkState);
  tasks @4 :List(TaskEntry);
  recoveredAgents @5 :UInt32;
  recoveredFrameworks @6 :UInt32;
  outstandingOffers @7 :UInt32;
  lastAllocationMs @8 :Float64;   # duration of the last allocation cycle
  executors @9 :List(ExecutorEntry);
}

struct RoleWeight {
  role @0 :Text;
  weight @1 :Float64;
}

# operator -> master; answered with Roles.
struct SetWeights {
  weights @0 :List(RoleWeight);
}

# operator -> master; answered with Roles. `remove` drops the role's quota.
struct SetQuota {
  role @0 :Text;
  guarantee @1 :List(Common.Resource);
  limit @2 :List(Common.Resource);
  remove @3 :Bool;
}

# operator -> master; answered with Roles.
struct GetRoles {
}

struct RoleInfo {
  role @0 :Text;
  weight @1 :Float64;
  guarantee @2 :List(Common.Resource);
  limit @3 :List(Common.Resource);
  allocated @4 :List(Common.Resource);   # offered + in use, sub-roles included
  share @5 :Float64;                     # weighted dominant share among siblings
  frameworks @6 :List(Text);
}

struct Roles {
  roles @0 :List(RoleInfo);
}

# operator -> any node (through its master or agent endpoint); answered with
# ActorList.
struct ListActors {
}

# operator -> any node: kill the named actor (fault injection); answered
# with the ActorList that remains.
struct KillActor {
  name @0 :Text;
}

struct ActorList {
  node @0 :Text;
  actors @1 :List(Text);
}

# operator -> master: tear a framework down (caldera teardown ID); answered
# with its FrameworkState (completed). ACL teardown_frameworks: the caller's
# principal against the framework's.
struct TeardownFramework {
  frameworkId @0 :Text;
}

# operator -> agent; answered with Usage.
struct GetUsage {
}

# Mesos' ResourceStatistics, for one executor's container.
struct ResourceStatistics {
  timestamp @0 :Float64;
  cpusUserTimeSecs @1 :Float64;
  cpusSystemTimeSecs @2 :Float64;
  cpusLimit @3 :Float64;
  cpusNrThrottled @4 :UInt64;
  memRssBytes @5 :UInt64;
  memLimitBytes @6 :UInt64;
  diskUsedBytes @7 :UInt64;
  diskLimitBytes @8 :UInt64;
  processes @9 :UInt32;
}

struct ExecutorUsage {
  frameworkId @0 :Text;
  executorId @1 :Text;
  containerId @2 :Text;
  directory @3 :Text;
  statistics @4 :ResourceStatistics;
}

struct Usage {
  agentId @0 :Text;
  isolators @1 :Text;            # e.g. "cgroups/cpu,cgroups/mem"
  executors @2 :List(ExecutorUsage);
}
