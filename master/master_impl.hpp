// Internals of the master actor, shared by its source files
// (master.cpp: behaviour and registration; master_peers.cpp: teardown,
// agents lost, unreachable or re-registering; master_roles.cpp: weights and
// quotas; master_ops.cpp:
// accept, status updates, reconciliation). Not a public interface.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/ids.hpp"
#include "actors/status.hpp"
#include "master/allocator.hpp"
#include "master/allocator_actor.hpp"
#include "actors/peer_auth.hpp"
#include "master/master.hpp"
#include "master/master_state.hpp"
#include "master/registrar.hpp"

namespace caldera::detail {

using key_t = std::pair<std::string, std::string>;

struct master_data {
  master_options opts;
  caf::actor registrar;
  // Registry writes sent to the registrar, oldest first: it answers each in
  // the order sent (persist). Kept here rather than as CAF requests: 0.17
  // keeps an actor's pending responses in a flat vector searched and erased
  // linearly, quadratic in a storm of 100,000 agent registrations.
  struct pending_write {
    std::function<void()> done;
    std::function<void(const caf::error&)> failed;
  };
  std::deque<pending_write> writes;
  std::string ping_cursor; // the last agent a health-check tick pinged ("": none)
  master_state st;
  allocator_client alloc; // the allocator actor (master/allocator_actor.hpp)
  uint64_t alloc_seen = 0;  // the last of its cycles taken in
  std::map<std::string, role_stat> role_stats; // from its last cycle
  id_generator ids; // seeded at start
  std::string master_id;
  double started_at = 0;
  uint64_t next_agent = 0;
  uint64_t next_framework = 0;
  uint64_t next_offer = 0;
  uint64_t registrations = 0; // agent registrations written (agent_entry::registration)
  // Who each peer proved to be and what it may do (master_auth.cpp).
  peer_auth auth;
  bool allocation_pending = false;
  caf::actor_clock::time_point last_allocation_at{}; // when the last cycle ended
  // Who a monitored handle is: 'a' agent or 'f' framework, and its id.
  std::map<caf::actor_addr, std::pair<char, std::string>> watched;
  std::set<std::string> admitted_agents;
  // Tasks of frameworks that are not partition-aware that reconciliation
  // answered TASK_LOST (nobody knew them): killed if an agent reports them.
  std::set<key_t> answered_lost;
  std::set<std::string> known_frameworks;
  struct role_settings {
    double weight = 1.0;
    resources guarantee;
    resources limit;
  };
  std::map<std::string, role_settings> roles;
  // Operator API: changes since start, and what was last published.
  uint64_t changes = 0;
  uint64_t published_changes = ~uint64_t{0};
  uint64_t published_version = 0;
  double published_at = 0;
  double last_allocation_ms = 0;
  static inline const char* name = "master";
};

using master_actor = caf::stateful_actor<master_data>;

std::string counter_id(const std::string& prefix, const char* sep, uint64_t n);
caf::actor sender_of(master_actor* self);
/// Wall time from the master's runtime environment.
inline double wall_now(master_actor* self) {
  return self->state.opts.runtime->wall_seconds();
}
/// A status from the master itself (no acknowledgement needed).
void send_status(master_actor* self, const framework_entry& fw, status_info st);
void scheduler_error(master_actor* self, const caf::actor& to, const std::string& m);
/// Schedules one allocation behind what is already in the mailbox.
void request_allocation(master_actor* self);
/// Has the registrar write `batch`; then `done`, or `failed` with why not.
void persist(master_actor* self, registry_store::batch batch, std::function<void()> done,
             std::function<void(const caf::error&)> failed);
/// Removes an offer, returning its resources (filtered for the framework
/// when `refuse` is set); tells the framework when `rescind`.
void drop_offer(master_actor* self, const std::string& offer_id,
                std::optional<caf::timespan> refuse, bool rescind);
/// Ends a task in the master's books: resources back to the pool.
void finish_task(master_actor* self, const key_t& key);
/// Charges the executors agent `aid`'s active tasks call for and releases
/// those none calls for any more (master_state::executor_charges), in the
/// agent's and frameworks' books and the allocator's. `from_offer`: a new
/// charge comes out of an accepted offer (the allocator has it already).
void sync_executor_charges(master_actor* self, const std::string& aid, bool from_offer);
/// Forgets agent `aid`'s executor charges (it is re-added: they are charged
/// again from what it reports); the allocator and frameworks uncharged.
void drop_executor_charges(master_actor* self, const std::string& aid);
/// The connected scheduler of `fid`, or nullptr (and an error to the sender).
framework_entry* caller(master_actor* self, const std::string& fid);

// The allocator actor (master_allocator.cpp).
/// Spawns it (at start, or after it died) and tells it the master's books.
void start_allocator(master_actor* self);
/// It died: a new one, from the master's books; offers flow again.
void allocator_died(master_actor* self, const caf::error& reason);

/// Applies recovered role records to the allocator (at start).
void recover_roles(master_actor* self);
caf::result<roles_msg> handle_set_weights(master_actor* self, const set_weights_msg& m);
caf::result<roles_msg> handle_set_quota(master_actor* self, const set_quota_msg& m);
roles_msg roles_snapshot(master_actor* self);
/// Roles are paths of [A-Za-z0-9_.-] segments ("eng/ml"), or "*".
bool valid_role(const std::string& role);

/// Tears a framework down: offers recovered, tasks killed, agents told.
void teardown(master_actor* self, const std::string& fid, const std::string& why);
/// An agent went away (`unreachable`: stopped answering but may come back):
/// offers rescinded, its tasks TASK_LOST (TASK_UNREACHABLE for partition-aware
/// frameworks when unreachable), frameworks told.
/// The registry record of an agent.
agent_record_msg agent_record(const agent_entry& a, double unreachable_at);
/// Answers the framework with the latest known state of task `tid` (a
/// completed one too), or TASK_UNKNOWN / TASK_LOST with `why` when nobody
/// knows it.
void reconcile_task(master_actor* self, framework_entry& fw, const std::string& tid,
                    const std::string& agent_id, const std::string& why);
/// Reconciliation tells a framework that is not partition-aware that task
/// `key` is lost: remembered in answered_lost and, in the registry, among the
/// lost tasks of every unreachable agent it may be on (`agent_id`, or any),
/// so that a restarted master kills it too should that agent come back with
/// it. `answer` runs once the registry has it (at once when nothing is to
/// write); not on a failed write (the framework asks again).
void record_answered_lost(master_actor* self, const key_t& key, const std::string& agent_id,
                          std::function<void()> answer);
/// Rescinds every outstanding offer of agent `aid`.
void rescind_agent_offers(master_actor* self, const std::string& aid);
/// The agent's connection closed: no more offers from it, its tasks are kept
/// (it may be restarting and recover them) until health checks give up.
void agent_disconnected(master_actor* self, const std::string& aid);
/// The agent missed too many health checks (or did not re-register after a
/// master restart): marked unreachable in the registry, offers rescinded,
/// tasks TASK_UNREACHABLE (partition-aware frameworks) or TASK_LOST.
void agent_unreachable(master_actor* self, const std::string& aid);
/// A health-check tick (the next slice of agents) and an agent's answer.
void health_check_round(master_actor* self);
void handle_pong(master_actor* self);
/// A scheduler went away: offers recovered, teardown after its failover timeout.
void framework_disconnected(master_actor* self, const std::string& fid);
/// Authentication (master_auth.cpp): a challenge for the sender's principal,
/// the check of its proof, and whether a framework may register as it asks.
caf::result<auth_challenge_msg> challenge_peer(master_actor* self, const authenticate_msg& m);
caf::result<authenticated_msg> check_proof(master_actor* self, const authenticate_proof_msg& m);
/// Whether the current sender may make operator call `a` on `object`
/// (--authenticate_operators, the ACLs); refusals counted and logged.
caf::error authorize_operator(master_actor* self, acls::action a, const std::string& object);
/// An operator tears a framework down (ACL teardown_frameworks).
caf::result<framework_state_msg> handle_teardown_framework(master_actor* self,
                                                           const teardown_framework_msg& m);
/// Whether `sender` may register as an agent (--authenticate_agents: only
/// once it proved a principal).
caf::error authorize_agent(master_actor* self, const caf::actor& sender);
caf::error authorize_framework(master_actor* self, const caf::actor& sender,
                               schema::FrameworkInfo::Reader info, std::string& principal);
/// An agent says whether it can take tasks: one that cannot is offered to
/// nobody (and shown so) until it says it can again.
void agent_health(master_actor* self, const agent_health_msg& m);
/// Takes in the tasks and frameworks a (re-)registering agent reports;
/// `was_unreachable`: the agent was (in this master or its registry), so
/// frameworks may have heard its tasks were unreachable or lost.
void reconcile_agent(master_actor* self, const std::string& aid,
                     const register_agent_msg& m, bool was_unreachable);

/// Sends again the launches whose agent said nothing of the task for a whole
/// health-check round (the agent ignores tasks it has).
void resend_launches(master_actor* self);

void handle_accept(master_actor* self, const accept_msg& m);
void handle_status(master_actor* self, const status_update_msg& m);
void reconcile(master_actor* self, const reconcile_msg& m);

} // namespace caldera::detail
