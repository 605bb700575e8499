# The conversation between a framework's scheduler and the master.
@0xa520dfb6370b7c45;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::schema");
using Common = import "common.capnp";

# scheduler -> master. With framework.id set it is a re-registration.
struct RegisterFramework {
  framework @0 :Common.FrameworkInfo;
}

# Authentication (when the master runs with --authenticate): a scheduler
# asks for a challenge for its principal (answered AuthChallenge), then
# proves it knows the principal's secret (answered Authenticated); the
# secret never crosses the wire (actors/auth.hpp). Then it registers.
struct Authenticate {
  principal @0 :Text;
}

struct AuthChallenge {
  nonce @0 :Text;
}

struct AuthenticateProof {
  principal @0 :Text;
  nonce @1 :Text;
  proof @2 :Text;   # hex HMAC-SHA256(secret, nonce "\n" principal)
}

struct Authenticated {
  principal @0 :Text;
}

# master -> scheduler.
struct FrameworkRegistered {
  frameworkId @0 :Text;
  masterId @1 :Text;
  reregistered @2 :Bool;
  epoch @3 :UInt64;          # the leader's epoch with standby masters (0: a master alone)
}

# master -> scheduler: offers of many agents in one message.
struct ResourceOffers {
  offers @0 :List(Common.Offer);
}

# master -> scheduler.
struct RescindOffer {
  offerId @0 :Text;
}

struct Operation {
  union {
    launch @0 :List(Common.TaskInfo);
    # Every task of the group (one agent) is launched, or none is.
    launchGroup @1 :List(Common.TaskInfo);
    # A gang across agents: each task names its agent (agentId); the
    # accept's offers may come from several agents. Every task is launched,
    # or none is. Must be the accept's only operation.
    launchGang @2 :List(Common.TaskInfo);
  }
}

# scheduler -> master.
struct Accept {
  frameworkId @0 :Text;
  offerIds @1 :List(Text);
  operations @2 :List(Operation);
  filters @3 :Common.Filters;
}

# scheduler -> master.
struct Decline {
  frameworkId @0 :Text;
  offerIds @1 :List(Text);
  filters @2 :Common.Filters;
}

# scheduler -> master -> agent -> executor.
struct Kill {
  frameworkId @0 :Text;
  taskId @1 :Text;
  agentId @2 :Text;
  # master -> agent only: the framework was already told the task is lost
  # (its agent was unreachable): kill it and drop its pending updates.
  gone @3 :Bool;
}

# scheduler -> master -> agent, agent -> executor.
struct Acknowledge {
  frameworkId @0 :Text;
  agentId @1 :Text;
  taskId @2 :Text;
  uuid @3 :Text;
}

struct ReconcileTask {
  taskId @0 :Text;
  agentId @1 :Text;
}

# scheduler -> master. Empty `tasks`: implicit reconciliation (all tasks).
struct Reconcile {
  frameworkId @0 :Text;
  tasks @1 :List(ReconcileTask);
}

# scheduler -> master. Empty `roles`: all of the framework's roles.
struct Revive {
  frameworkId @0 :Text;
  roles @1 :List(Text);
}

# scheduler -> master. Empty `roles`: all of the framework's roles.
struct Suppress {
  frameworkId @0 :Text;
  roles @1 :List(Text);
}

# scheduler -> master: the framework is done; its tasks are killed.
struct Teardown {
  frameworkId @0 :Text;
}

# scheduler -> master -> agent -> executor.
struct SchedulerMessage {
  frameworkId @0 :Text;
  agentId @1 :Text;
  executorId @2 :Text;
  data @3 :Data;
}

# executor -> agent -> master -> scheduler.
struct ExecutorMessage {
  frameworkId @0 :Text;
  agentId @1 :Text;
  executorId @2 :Text;
  data @3 :Data;
}

# executor -> agent -> master -> scheduler (one hop at a time, each acknowledged).
struct StatusUpdate {
  status @0 :Common.TaskStatus;
}

# master -> scheduler.
struct AgentLost {
  agentId @0 :Text;
}

# master -> scheduler.
struct ExecutorLost {
  frameworkId @0 :Text;
  agentId @1 :Text;
  executorId @2 :Text;
  status @3 :Int32;
}

# master -> scheduler: something the scheduler sent was refused; or, with
# `removed`, the framework is gone (an operator tore it down): the scheduler
# ends after its error callback.
struct SchedulerError {
  message @0 :Text;
  removed @1 :Bool;
  failedOver @2 :Bool;   # another scheduler took the framework over
}
