// The allocator actor: owns the allocator core (master/allocator.hpp) so a
// cycle over 50,000 agents runs beside the master, never in its mailbox.
//
// The master tells it every change as an `allocator_op` (a call on the core,
// applied in the order sent), asks for a cycle with `(allocate_atom, seen)`
// and gets an `allocator_cycle` back: the offers decided (already charged to
// their frameworks), numbered, with the roles' allocations and shares. The
// master's books are the truth: when this actor dies (a crash, or
// `caldera kill-actor allocator`), the master spawns a new one and replays
// its agents, frameworks, roles, tasks and offers into it.
//
// `allocator_books` compares the core with the master's books: on every
// active agent, what is free plus what the master holds (tasks and offers)
// plus what was offered in cycles the master has not seen yet must be the
// agent's total. A difference is a bug (the simulator stops on it).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "actors/runtime_env.hpp"
#include "master/allocator.hpp"

namespace caldera {

/// A change for the core, applied in the allocator actor.
struct allocator_op {
  std::function<void(allocator&)> apply;
};

struct role_stat {
  scalars allocated; // offered plus in use, with sub-roles
  double share = 0;  // weighted dominant share among its siblings
};

/// What one cycle decided.
struct allocator_cycle {
  uint64_t seq = 0;
  std::vector<allocator::allocation> offers;
  double ms = 0;      // the cycle's wall time
  size_t visited = 0; // agents it visited
  std::map<std::string, role_stat> roles;
};

/// The master's books, to compare with the core's.
struct allocator_books {
  uint64_t seen = 0; // the last cycle the master took in
  std::map<std::string, resources> held; // active agent -> used + offered
  std::map<std::string, resources> totals;
};

/// The master's side: the core's calls, each sent to the allocator actor
/// (in order; nothing is sent while there is none).
class allocator_client {
public:
  void bind(caf::actor a) { actor_ = std::move(a); }
  const caf::actor& actor() const { return actor_; }

  void add_agent(std::string agent_id, resources total);
  void remove_agent(std::string agent_id);
  void activate_agent(std::string agent_id, bool active);
  void add_framework(std::string framework_id, std::vector<std::string> roles);
  void remove_framework(std::string framework_id);
  void activate_framework(std::string framework_id, bool active);
  void suppress(const std::string& framework_id, const std::string& role);
  void revive(const std::string& framework_id, const std::string& role);
  void set_weight(std::string role, double weight);
  void set_quota(std::string role, allocator::quota q);
  void remove_quota(std::string role);
  void recover(std::string agent_id, std::string framework_id, std::string role, resources r,
               std::optional<allocator::time_point> refuse_until = std::nullopt);
  void use(std::string agent_id, std::string framework_id, std::string role, resources r);

private:
  void send(std::function<void(allocator&)> f);
  caf::actor actor_;
};

/// Spawns the allocator actor for `master` (which gets its cycles).
caf::actor spawn_allocator(caf::actor_system& sys, caf::actor master,
                           std::vector<resources> min_allocatable,
                           std::shared_ptr<runtime_env> runtime);

} // namespace caldera

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::allocator_op)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::allocator_cycle)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::allocator_books)
