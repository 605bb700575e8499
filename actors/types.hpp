// Every message type caldera sends through CAF, registered once.
//
// Protocol messages are `msg<S>` wrappers of the Cap'n Proto structs in
// schemas/; the aliases below are their names in C++ and, through the type id
// block, on the wire (both nodes must register the same block).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/type_id.hpp>

#include "actors/message.hpp"
#include "schemas/agent.capnp.h"
#include "schemas/common.capnp.h"
#include "schemas/executor.capnp.h"
#include "schemas/operator.capnp.h"
#include "schemas/registry.capnp.h"
#include "schemas/scheduler.capnp.h"

namespace caldera {

namespace s = caldera::schema;

// scheduler <-> master
using register_framework_msg = msg<s::RegisterFramework>;
using framework_registered_msg = msg<s::FrameworkRegistered>;
using resource_offers_msg = msg<s::ResourceOffers>;
using rescind_offer_msg = msg<s::RescindOffer>;
using accept_msg = msg<s::Accept>;
using decline_msg = msg<s::Decline>;
using kill_msg = msg<s::Kill>;
using acknowledge_msg = msg<s::Acknowledge>;
using reconcile_msg = msg<s::Reconcile>;
using revive_msg = msg<s::Revive>;
using suppress_msg = msg<s::Suppress>;
using teardown_msg = msg<s::Teardown>;
using scheduler_message_msg = msg<s::SchedulerMessage>;
using executor_message_msg = msg<s::ExecutorMessage>;
using status_update_msg = msg<s::StatusUpdate>;
using agent_lost_msg = msg<s::AgentLost>;
using executor_lost_msg = msg<s::ExecutorLost>;
using scheduler_error_msg = msg<s::SchedulerError>;
// agent <-> master
using register_agent_msg = msg<s::RegisterAgent>;
using agent_registered_msg = msg<s::AgentRegistered>;
using agent_health_msg = msg<s::AgentHealth>;
// peer <-> master: authentication
using authenticate_msg = msg<s::Authenticate>;
using auth_challenge_msg = msg<s::AuthChallenge>;
using authenticate_proof_msg = msg<s::AuthenticateProof>;
using authenticated_msg = msg<s::Authenticated>;
using run_task_msg = msg<s::RunTask>;
using shutdown_framework_msg = msg<s::ShutdownFramework>;
// executor <-> agent
using register_executor_msg = msg<s::RegisterExecutor>;
using executor_registered_msg = msg<s::ExecutorRegistered>;
using shutdown_executor_msg = msg<s::ShutdownExecutor>;
// operator
using get_state_msg = msg<s::GetState>;
using state_msg = msg<s::State>;
using get_usage_msg = msg<s::GetUsage>;
using usage_msg = msg<s::Usage>;
using set_weights_msg = msg<s::SetWeights>;
using set_quota_msg = msg<s::SetQuota>;
using get_roles_msg = msg<s::GetRoles>;
using roles_msg = msg<s::Roles>;
using list_actors_msg = msg<s::ListActors>;
using kill_actor_msg = msg<s::KillActor>;
using actor_list_msg = msg<s::ActorList>;
using teardown_framework_msg = msg<s::TeardownFramework>;
using framework_state_msg = msg<s::FrameworkState>;
// frameworks' own messages (see actors/app_message.hpp)
using app_msg = msg<s::AppMessage>;

/// Fills `l` (sized by the caller: `initAttributes(attrs.size())`) with NAME:VALUE pairs.
inline void fill_attributes(capnp::List<schema::Attribute>::Builder l,
                            const std::vector<std::pair<std::string, std::string>>& attrs) {
  for (unsigned i = 0; i < attrs.size() && i < l.size(); ++i) {
    l[i].setName(attrs[i].first);
    l[i].setValue(attrs[i].second);
  }
}

/// Registers every caldera message type with `cfg`. Call once per actor system
/// config, before the system starts.
void register_types(caf::actor_system_config& cfg);

// Internal signals (never cross a process boundary unless noted).
using allocate_atom = caf::atom_constant<caf::atom("allocate")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using admit_atom = caf::atom_constant<caf::atom("admit")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using launch_atom = caf::atom_constant<caf::atom("launch")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
/// master -> agent: register again, with everything you run.
using reregister_atom = caf::atom_constant<caf::atom("reregister")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using destroy_atom = caf::atom_constant<caf::atom("destroy")>;
using connect_atom_t = caf::atom_constant<caf::atom("cconnect")>;

} // namespace caldera

#define CALDERA_MSG_TYPES(X)                                                   \
  X(register_framework_msg)                                                    \
  X(framework_registered_msg)                                                  \
  X(resource_offers_msg)                                                       \
  X(rescind_offer_msg)                                                         \
  X(accept_msg)                                                                \
  X(decline_msg)                                                               \
  X(kill_msg)                                                                  \
  X(acknowledge_msg)                                                           \
  X(reconcile_msg)                                                             \
  X(revive_msg)                                                                \
  X(suppress_msg)                                                              \
  X(teardown_msg)                                                              \
  X(scheduler_message_msg)                                                     \
  X(executor_message_msg)                                                      \
  X(status_update_msg)                                                         \
  X(agent_lost_msg)                                                            \
  X(executor_lost_msg)                                                         \
  X(scheduler_error_msg)                                                       \
  X(register_agent_msg)                                                        \
  X(agent_registered_msg)                                                      \
  X(run_task_msg)                                                              \
  X(shutdown_framework_msg)                                                    \
  X(register_executor_msg)                                                     \
  X(executor_registered_msg)                                                   \
  X(shutdown_executor_msg)                                                     \
  X(get_state_msg)                                                             \
  X(state_msg)                                                                  \
  X(set_weights_msg)                                                            \
  X(set_quota_msg)                                                              \
  X(get_roles_msg)                                                              \
  X(roles_msg)                                                                  \
  X(list_actors_msg)                                                            \
  X(kill_actor_msg)                                                             \
  X(actor_list_msg)                                                            \
  X(app_msg)                                                                   \
  X(get_usage_msg)                                                             \
  X(usage_msg)                                                                 \
  X(agent_health_msg)                                                          \
  X(authenticate_msg)                                                          \
  X(auth_challenge_msg)                                                        \
  X(authenticate_proof_msg)                                                    \
  X(authenticated_msg)                                                         \
  X(teardown_framework_msg)                                                    \
  X(framework_state_msg)

CAF_BEGIN_TYPE_ID_BLOCK(caldera, caf::first_custom_type_id)
#define CALDERA_ADD_TYPE(name) CAF_ADD_TYPE_ID(caldera, (caldera::name))
CALDERA_MSG_TYPES(CALDERA_ADD_TYPE)
#undef CALDERA_ADD_TYPE
CAF_END_TYPE_ID_BLOCK(caldera)
