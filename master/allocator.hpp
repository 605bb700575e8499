// The allocator core: hierarchical Dominant Resource Fairness over roles,
// then over the frameworks of each role, with weights, quota, reservations,
// filters, suppression and a minimum offer size. A plain class (no actors):
// the allocator actor (master/allocator_actor.hpp) owns the master's and
// sends it the decisions, which the master turns into offers; tests and
// bench-allocator drive it directly.
//
// One allocation cycle (`allocate`):
//  1. quota: roles whose guarantee is not met yet are served first, each
//     offer capped to what the guarantee still lacks;
//  2. fair share: every agent's free resources go to the framework found
//     first when walking the role tree in ascending weighted dominant share
//     (roles, then their frameworks); reserved resources only to their role.
//  Both stages cap offers so a role's quota limit is never exceeded, skip
//  inactive and suppressed frameworks, honour filters and never offer less
//  than one of `min_allocatable` (default: cpus:0.01 or mem:32).
//
// Semantics kept from Mesos: a decline (or the unused part of an accepted
// offer) with refuse_seconds installs a filter: that agent's resources are not
// offered again to that framework before it expires, unless what is free
// there is no longer a subset of what was refused. Roles are paths
// ("eng/ml" shares inside "eng"); a role's weight applies among its siblings.
//
// Allocation is driven by what changed: a cycle visits only the agents whose
// offerable resources may have found a taker since the last cycle (resources
// returned or added there, the agent (re)activated, a filter on it expired),
// and every agent only after a change that can make any agent eligible again
// (a framework added, activated or revived, a quota or weight set, resources
// returned to a role under quota). A cycle where nothing changed costs
// nothing; a full cycle costs about agents × (frameworks skipped before one
// takes the offer): sorters keep their order incrementally, never a re-sort
// per agent. Time is passed in by the caller, never read here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/resources.hpp"
#include "master/sorter.hpp"

namespace caldera {

class allocator {
public:
  using time_point = std::chrono::steady_clock::time_point;

  struct allocation {
    std::string framework_id;
    std::string agent_id;
    std::string role;
    resources offered;
  };

  struct quota {
    resources guarantee;
    resources limit; // empty: no limit
  };

  /// cpus:0.01 or mem:32, as Mesos.
  static std::vector<resources> default_min_allocatable();

  explicit allocator(std::vector<resources> min_allocatable = default_min_allocatable());

  void add_agent(const std::string& agent_id, const resources& total);
  /// The agent's resources leave the pool; allocations on it stay charged to
  /// their frameworks until recovered.
  void remove_agent(const std::string& agent_id);
  bool has_agent(const std::string& agent_id) const;
  /// An inactive agent is offered to nobody (its checkpoint fails: it takes
  /// no tasks); what runs there stays charged.
  void activate_agent(const std::string& agent_id, bool active);

  void add_framework(const std::string& framework_id, std::vector<std::string> roles);
  void remove_framework(const std::string& framework_id);
  void activate_framework(const std::string& framework_id, bool active);
  /// Stops offers to the framework, or only in `role` when given.
  void suppress(const std::string& framework_id, const std::string& role = {});
  /// Ends suppression (of `role` only, when given) and clears the
  /// framework's filters.
  void revive(const std::string& framework_id, const std::string& role = {});

  void set_weight(const std::string& role, double weight);
  double weight(const std::string& role) const;
  const std::map<std::string, double>& weights() const { return weights_; }

  void set_quota(const std::string& role, quota q);
  void remove_quota(const std::string& role);
  const std::map<std::string, quota>& quotas() const { return quotas_; }

  /// Returns `r`, allocated to `framework_id` in `role`, to the pool (if the
  /// agent is still there). With `refuse_until`, `r` is filtered for that
  /// framework on that agent until then.
  void recover(const std::string& agent_id, const std::string& framework_id,
               const std::string& role, const resources& r,
               std::optional<time_point> refuse_until = std::nullopt);

  /// Marks `r` on `agent_id` as allocated to `framework_id` in `role`
  /// (tasks a re-registering agent reports). False if it is not free there.
  bool use(const std::string& agent_id, const std::string& framework_id,
           const std::string& role, const resources& r);

  /// One allocation cycle; the offered resources are charged to their
  /// frameworks until recovered.
  std::vector<allocation> allocate(time_point now);

  /// How many agents the last cycle visited (what changed since the one
  /// before), for tests and metrics.
  size_t last_visited() const { return last_visited_; }

  const resources* total(const std::string& agent_id) const;
  const resources* free(const std::string& agent_id) const;

  /// Every role it knows (of frameworks, weights, quotas), parents first.
  std::vector<std::string> roles() const;

  /// What a role (with its sub-roles) holds: offered plus in use.
  scalars role_allocation(const std::string& role) const;
  double role_share(const std::string& role) const;
  /// A framework's weighted dominant share inside `role`.
  double framework_share(const std::string& framework_id, const std::string& role) const;

private:
  struct agent_entry {
    resources total;
    resources free;
    uint32_t idx = 0; // dense number: filters are keyed by it, not by the id
    bool active = true;
    bool dirty = false; // in dirty_: to visit in the next cycle
  };
  using agent_map = std::map<std::string, agent_entry>;
  /// The agents a cycle visits, in id order.
  using visit_list = std::vector<std::pair<const std::string*, agent_entry*>>;
  struct filter {
    resources refused;
    time_point until;
  };
  struct framework_entry {
    std::vector<std::string> roles;
    bool active = true;
    bool suppressed = false;
    std::set<std::string> suppressed_roles;
    std::unordered_map<uint32_t, filter> filters; // by agent number
  };
  struct role_node {
    std::string parent;
    // Child roles by full name, plus "" for the role's own frameworks.
    drf_sorter children;
    drf_sorter frameworks;
  };

  void ensure_role(const std::string& role);
  void charge(const std::string& framework_id, const std::string& role,
              const scalars& s, bool add);
  bool filtered(framework_entry& fw, uint32_t agent_idx, const resources& offerable,
                time_point now);
  bool allocatable(const resources& r) const;
  /// Caps `r` so no quota limit of `role` or its ancestors is exceeded.
  void apply_limits(const std::string& role, resources& r) const;
  /// Re-computes every share after the pool changed (lazily: agents come
  /// and go in bursts).
  void update_totals() const;
  /// Walks role `node`'s subtree in DRF order, calling f(role, framework)
  /// for the active frameworks of each role where role_ok(role) until it
  /// returns true; returns whether it did.
  template <class R, class F>
  bool walk(const std::string& node, R&& role_ok, F&& f);

  /// One cycle's scratch: what a role may get of the agent at hand is the
  /// same for all its frameworks, so it is computed once per role and agent
  /// until something is given there.
  struct cycle {
    time_point now;
    const agent_entry* cached_agent = nullptr;
    std::string cached_role;
    resources cached;
    std::vector<allocation> out;
  };
  const resources& role_offerable(cycle& c, agent_entry& a, const std::string& role);
  /// True if `fid` in `role` may be offered what `role_offerable` left in
  /// `c.cached` (not empty) now.
  bool may_offer(cycle& c, agent_entry& a, const std::string& role, const std::string& fid);
  /// What `fid` in `role` may be offered of `a` now (empty: nothing).
  resources offerable(cycle& c, agent_entry& a, const std::string& role,
                      const std::string& fid);
  /// Offers `r` (already checked) to `fid` in `role` on agent `aid`.
  void give(cycle& c, agent_entry& a, const std::string& aid, const std::string& role,
            const std::string& fid, resources r);
  /// Stage 1: roles whose quota guarantee is not met yet.
  void serve_quotas(cycle& c, const visit_list& visit);
  /// Stage 2: fair share, agent by agent.
  void serve_fair_share(cycle& c, const visit_list& visit);
  /// Puts the framework in or out of its roles' walks (inactive, suppressed).
  void sync_walks(const std::string& framework_id);

  /// What changed since the last cycle.
  void mark_dirty(agent_entry& a);
  void mark_all_dirty() { sweep_all_ = true; }
  /// True if `role` or a role above it has a quota (returning resources
  /// there can make offers possible elsewhere).
  bool under_quota(const std::string& role) const;
  /// Marks the agents whose filters expired by `now`.
  void expire_filters(time_point now);
  /// The agents to visit this cycle (active, with free resources), in id
  /// order; clears the marks.
  visit_list take_dirty();

  std::vector<resources> min_allocatable_;
  agent_map agents_;
  std::unordered_map<uint32_t, agent_map::iterator> by_idx_;
  uint32_t next_agent_idx_ = 0;
  std::vector<uint32_t> dirty_;
  bool sweep_all_ = true;
  size_t last_visited_ = 0;
  /// Filter expiries (until, agent number), earliest on top.
  std::priority_queue<std::pair<time_point, uint32_t>,
                      std::vector<std::pair<time_point, uint32_t>>,
                      std::greater<>> expiries_;
  std::unordered_map<std::string, framework_entry> frameworks_;
  mutable std::map<std::string, role_node> roles_; // "" is the root
  std::map<std::string, double> weights_;
  std::map<std::string, quota> quotas_;
  scalars totals_;
  mutable bool totals_dirty_ = false;
};

} // namespace caldera
