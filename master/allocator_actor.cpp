#include "master/allocator_actor.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/runtime_env.hpp"
#include "actors/types.hpp"

namespace caldera {

namespace {

struct allocator_state {
  allocator core;
  caf::actor master;
  std::shared_ptr<runtime_env> runtime;
  uint64_t next_seq = 0;
  /// Cycles sent to the master and not yet taken in (the books check adds
  /// them to what the master holds).
  std::deque<std::pair<uint64_t, std::vector<allocator::allocation>>> unseen;
  std::set<std::string> reported; // agents whose books differed (logged once)
  static inline const char* name = "allocator";
};

using allocator_actor = caf::stateful_actor<allocator_state>;

void forget_seen(allocator_state& s, uint64_t seen) {
  while (!s.unseen.empty() && s.unseen.front().first <= seen)
    s.unseen.pop_front();
}

std::map<std::string, role_stat> role_stats(allocator& core) {
  std::map<std::string, role_stat> out;
  for (auto& role : core.roles())
    out[role] = role_stat{core.role_allocation(role), core.role_share(role)};
  return out;
}

void run_cycle(allocator_actor* self, uint64_t seen) {
  auto& s = self->state;
  forget_seen(s, seen);
  allocator_cycle c;
  auto t0 = s.runtime->now();
  c.offers = s.core.allocate(self->clock().now());
  c.visited = s.core.last_visited();
  c.ms = std::chrono::duration<double, std::milli>(s.runtime->now() - t0).count();
  c.seq = ++s.next_seq;
  c.roles = role_stats(s.core);
  if (!c.offers.empty())
    s.unseen.emplace_back(c.seq, c.offers);
  // Ahead of the master's mailbox, as its own cycles were: offers must not
  // wait behind a backlog of status updates or re-registrations.
  self->send<caf::message_priority::high>(s.master, std::move(c));
}

void check_books(allocator_actor* self, const allocator_books& b) {
  auto& s = self->state;
  forget_seen(s, b.seen);
  std::map<std::string, resources> in_flight;
  for (auto& [seq, offers] : s.unseen)
    for (auto& o : offers)
      in_flight[o.agent_id] += o.offered;
  for (auto& [id, held] : b.held) {
    auto* free = s.core.free(id);
    auto total = b.totals.find(id);
    if (free == nullptr || total == b.totals.end())
      continue;
    auto sum = *free + held + in_flight[id];
    if (sum == total->second || !s.reported.insert(id).second)
      continue;
    log::error("allocation_books_differ", {{"agent_id", id},
                                           {"free", free->to_string()},
                                           {"held", held.to_string()},
                                           {"total", total->second.to_string()}});
  }
}

caf::behavior allocator_behavior(allocator_actor* self, caf::actor master) {
  self->state.master = std::move(master);
  return {
    [=](const allocator_op& op) { guarded("allocator_op", [&] { op.apply(self->state.core); }); },
    [=](allocate_atom, uint64_t seen) { guarded("allocate", [&] { run_cycle(self, seen); }); },
    [=](const allocator_books& b) { guarded("books", [&] { check_books(self, b); }); },
  };
}

} // namespace

void allocator_client::send(std::function<void(allocator&)> f) {
  if (actor_)
    caf::anon_send(actor_, allocator_op{std::move(f)});
}

void allocator_client::add_agent(std::string agent_id, resources total) {
  send([=](allocator& a) { a.add_agent(agent_id, total); });
}
void allocator_client::remove_agent(std::string agent_id) {
  send([=](allocator& a) { a.remove_agent(agent_id); });
}
void allocator_client::activate_agent(std::string agent_id, bool active) {
  send([=](allocator& a) { a.activate_agent(agent_id, active); });
}
void allocator_client::add_framework(std::string framework_id, std::vector<std::string> roles) {
  send([=](allocator& a) { a.add_framework(framework_id, roles); });
}
void allocator_client::remove_framework(std::string framework_id) {
  send([=](allocator& a) { a.remove_framework(framework_id); });
}
void allocator_client::activate_framework(std::string framework_id, bool active) {
  send([=](allocator& a) { a.activate_framework(framework_id, active); });
}
void allocator_client::suppress(const std::string& framework_id, const std::string& role) {
  send([=](allocator& a) { a.suppress(framework_id, role); });
}
void allocator_client::revive(const std::string& framework_id, const std::string& role) {
  send([=](allocator& a) { a.revive(framework_id, role); });
}
void allocator_client::set_weight(std::string role, double weight) {
  send([=](allocator& a) { a.set_weight(role, weight); });
}
void allocator_client::set_quota(std::string role, allocator::quota q) {
  send([=](allocator& a) { a.set_quota(role, q); });
}
void allocator_client::remove_quota(std::string role) {
  send([=](allocator& a) { a.remove_quota(role); });
}
void allocator_client::recover(std::string agent_id, std::string framework_id,
                               std::string role, resources r,
                               std::optional<allocator::time_point> refuse_until) {
  send([=](allocator& a) { a.recover(agent_id, framework_id, role, r, refuse_until); });
}
void allocator_client::use(std::string agent_id, std::string framework_id, std::string role,
                           resources r) {
  send([=](allocator& a) { a.use(agent_id, framework_id, role, r); });
}

caf::actor spawn_allocator(caf::actor_system& sys, caf::actor master,
                           std::vector<resources> min_allocatable,
                           std::shared_ptr<runtime_env> runtime) {
  return sys.spawn([master, min = std::move(min_allocatable),
                    runtime = std::move(runtime)](allocator_actor* self) mutable {
    self->state.core = allocator{std::move(min)};
    self->state.runtime = std::move(runtime);
    return allocator_behavior(self, std::move(master));
  });
}

} // namespace caldera
