// The master's allocator actor: spawned at start, and again from the
// master's own books when it dies (a crash, or `caldera kill-actor
// allocator`).
#include "actors/log.hpp"
#include "actors/node_actor.hpp"
#include "master/master_impl.hpp"

namespace caldera::detail {

namespace {

/// Tells a new allocator what the master knows: roles, agents, frameworks,
/// and what tasks and outstanding offers hold. Suppression is not kept by
/// the master: a framework that suppressed offers gets offers again (it
/// declines them or suppresses again), never fewer.
void replay_books(master_actor* self) {
  auto& d = self->state;
  for (auto& [role, rs] : d.roles) {
    d.alloc.set_weight(role, rs.weight);
    if (!rs.guarantee.empty() || !rs.limit.empty())
      d.alloc.set_quota(role, {rs.guarantee, rs.limit});
  }
  for (auto& [id, a] : d.st.agents) {
    if (!a.active)
      continue;
    d.alloc.add_agent(id, a.total);
    if (!a.unhealthy.empty())
      d.alloc.activate_agent(id, false);
  }
  for (auto& [fid, fw] : d.st.frameworks) {
    if (fw.completed)
      continue;
    d.alloc.add_framework(fid, fw.roles);
    d.alloc.activate_framework(fid, fw.active);
  }
  for (auto& [key, t] : d.st.tasks)
    d.alloc.use(t.agent_id, t.framework_id, t.role.empty() ? "*" : t.role, t.res);
  for (auto& [aid, charges] : d.st.executor_charges)
    for (auto& [key, c] : charges)
      d.alloc.use(aid, key.first, c.role, c.res);
  for (auto& [oid, o] : d.st.offers)
    d.alloc.use(o.agent_id, o.framework_id, o.role, o.res);
}

} // namespace

void start_allocator(master_actor* self) {
  auto& d = self->state;
  auto a = spawn_allocator(self->system(), caf::actor_cast<caf::actor>(self),
                           d.opts.min_allocatable, d.opts.runtime);
  d.alloc.bind(a);
  d.alloc_seen = 0;
  self->monitor(a);
  // It ends with the master.
  self->attach_functor([a](const caf::error&) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  });
  if (d.opts.node)
    node_register(d.opts.node, d.opts.node_name == "master" ? "allocator"
                                                             : d.opts.node_name + "/allocator",
                  a);
}

void allocator_died(master_actor* self, const caf::error& reason) {
  log::warn("allocator_died", {{"reason", to_string(reason)},
                               {"action", "a new one from the master's books"}});
  start_allocator(self);
  replay_books(self);
  request_allocation(self);
}

} // namespace caldera::detail
