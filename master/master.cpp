#include "master/master.hpp"

#include <algorithm>
#include <chrono>

#include "actors/metrics_export.hpp"

#include <cstdio>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/ids.hpp"
#include "actors/link_table.hpp"
#include "actors/log.hpp"
#include "master/allocator.hpp"
#include "master/master_state.hpp"
#include "actors/node_actor.hpp"
#include "master/master_impl.hpp"
#include "master/registrar.hpp"

namespace caldera {

namespace {
using publish_atom = caf::atom_constant<caf::atom("publish")>;
// Allocation cycles requested by events run at most this often (a cycle
// visits only what changed, so a short gap costs little; a burst of
// events still makes one cycle).
constexpr caf::timespan allocation_gap = std::chrono::milliseconds(10);
} // namespace

namespace detail {

std::string counter_id(const std::string& prefix, const char* sep, uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%04llu", sep, static_cast<unsigned long long>(n));
  return prefix + buf;
}

caf::actor sender_of(master_actor* self) {
  return caf::actor_cast<caf::actor>(self->current_sender());
}

void send_status(master_actor* self, const framework_entry& fw,
                 status_info st) {
  if (!fw.handle)
    return;
  st.source = schema::StatusSource::MASTER;
  st.framework_id = fw.id;
  if (st.timestamp == 0)
    st.timestamp = wall_now(self);
  self->send(fw.handle, make_status_update(st));
}

void scheduler_error(master_actor* self, const caf::actor& to, const std::string& m) {
  log::warn("scheduler_call_refused", {{"reason", m}});
  if (to)
    self->send(to, make<schema::SchedulerError>([&](auto b) { b.setMessage(m); }));
}

void persist(master_actor* self, registry_store::batch batch, std::function<void()> done,
             std::function<void(const caf::error&)> failed) {
  self->state.writes.push_back({std::move(done), std::move(failed)});
  self->send(self->state.registrar, std::move(batch));
}

namespace {

// The registrar answers the oldest write still pending (persist).
void write_answered(master_actor* self, const caf::error& err) {
  auto& d = self->state;
  if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(d.registrar)
      || d.writes.empty()) {
    log::warn("foreign_message_dropped", {{"type", "written"}});
    return;
  }
  auto w = std::move(d.writes.front());
  d.writes.pop_front();
  if (err)
    w.failed(err);
  else
    w.done();
}

// The registrar is gone (the process ends with it): no write pending will be
// answered.
void registrar_down(master_actor* self, const caf::error& reason) {
  auto writes = std::move(self->state.writes);
  self->state.writes.clear();
  for (auto& w : writes)
    w.failed(reason ? reason : caf::make_error(caf::sec::request_receiver_down));
}

} // namespace

void request_allocation(master_actor* self) {
  auto& d = self->state;
  ++d.changes;
  if (d.allocation_pending)
    return;
  d.allocation_pending = true;
  // Ahead of the mailbox (after a failover, offers flow while thousands of
  // agents' re-registrations wait in it), at most once per allocation_gap.
  auto since = self->clock().now() - d.last_allocation_at;
  if (since >= allocation_gap)
    self->send<caf::message_priority::high>(self, allocate_atom::value);
  else
    self->delayed_send<caf::message_priority::high>(self, allocation_gap - since,
                                                    allocate_atom::value);
}

// Removes an offer, returning its resources to the allocator (with a filter
// for the framework when `refuse` is set).
void drop_offer(master_actor* self, const std::string& offer_id,
                std::optional<caf::timespan> refuse, bool rescind) {
  auto& d = self->state;
  auto o = d.st.take_offer(offer_id);
  if (!o)
    return;
  std::optional<allocator::time_point> until;
  if (refuse && refuse->count() > 0)
    until = self->clock().now() + *refuse;
  d.alloc.recover(o->agent_id, o->framework_id, o->role, o->res, until);
  auto f = d.st.frameworks.find(o->framework_id);
  if (rescind && f != d.st.frameworks.end() && f->second.handle)
    self->send(f->second.handle,
               make<schema::RescindOffer>([&](auto b) { b.setOfferId(offer_id); }));
}

// The allocator's books against the master's (the allocator actor compares
// them, see allocator_actor.hpp): on every active agent what the master
// counts as used by tasks and as offered. Sent with every state snapshot (it
// costs what a snapshot costs per agent), not with the allocation cycle.
void check_books(master_actor* self) {
  auto& d = self->state;
  allocator_books b;
  b.seen = d.alloc_seen;
  for (auto& [id, a] : d.st.agents) {
    if (!a.active)
      continue;
    b.held.emplace(id, a.used + a.offered);
    b.totals.emplace(id, a.total);
  }
  if (d.alloc.actor())
    self->send(d.alloc.actor(), std::move(b));
}

namespace {

// An offer's executorIds: the framework's executors charged on its agent
// (a task for one of them needs no executor resources).
void fill_executor_ids(schema::Offer::Builder ob, const master_state& st,
                       const std::string& aid, const std::string& fid) {
  auto c = st.executor_charges.find(aid);
  if (c == st.executor_charges.end())
    return;
  std::vector<std::string> ids;
  for (auto i = c->second.lower_bound({fid, ""}); i != c->second.end() && i->first.first == fid;
       ++i)
    ids.push_back(i->first.second);
  auto l = ob.initExecutorIds(static_cast<unsigned>(ids.size()));
  for (unsigned k = 0; k < ids.size(); ++k)
    l.set(k, ids[k]);
}

} // namespace

// Turns the allocator's decisions into offers, sent to each framework
// together (a decision for a framework or agent gone since is returned).
void make_offers(master_actor* self, const std::vector<allocator::allocation>& decisions) {
  auto& d = self->state;
  std::map<std::string, std::vector<offer_entry>> by_fw;
  for (auto& dec : decisions) {
    auto f = d.st.frameworks.find(dec.framework_id);
    auto a = d.st.agents.find(dec.agent_id);
    if (f == d.st.frameworks.end() || a == d.st.agents.end() || !f->second.handle) {
      d.alloc.recover(dec.agent_id, dec.framework_id, dec.role, dec.offered);
      continue;
    }
    offer_entry o{counter_id(d.master_id, "-O", d.next_offer++), dec.framework_id,
                  dec.agent_id, dec.role, dec.offered};
    if (d.opts.offer_timeout.count() > 0)
      self->delayed_send(self, d.opts.offer_timeout, expire_atom::value, o.id);
    else if (d.opts.runtime->buggify("master/offer-rescinded"))
      self->delayed_send(self, std::chrono::milliseconds(50), expire_atom::value, o.id);
    by_fw[o.framework_id].push_back(d.st.add_offer(o));
  }
  for (auto& [fid, offers] : by_fw) {
    auto& fw = d.st.frameworks[fid];
    auto m = make<schema::ResourceOffers>([&](schema::ResourceOffers::Builder b) {
      auto os = b.initOffers(static_cast<unsigned>(offers.size()));
      for (unsigned i = 0; i < offers.size(); ++i) {
        auto& o = offers[i];
        auto& ag = d.st.agents[o.agent_id];
        auto ob = os[i];
        ob.setId(o.id);
        ob.setFrameworkId(fid);
        ob.setAgentId(o.agent_id);
        ob.setHostname(ag.hostname);
        o.res.to_capnp(ob.initResources(static_cast<unsigned>(o.res.entry_count())));
        fill_attributes(ob.initAttributes(static_cast<unsigned>(ag.attributes.size())), ag.attributes);
        fill_executor_ids(ob, d.st, o.agent_id, fid);
        ob.setAllocationRole(o.role);
        ob.setAgentHttpEndpoint(ag.http_endpoint);
      }
    });
    log::debug("offers_sent", {{"framework_id", fid}, {"offers", offers.size()}});
    self->send(fw.handle, m);
  }
}

// A cycle of the allocator actor: its offers go to their frameworks (those
// of a dead allocator's cycles are dropped: the new one never charged them).
void take_cycle(master_actor* self, allocator_cycle& c) {
  auto& d = self->state;
  if (self->current_sender() != d.alloc.actor().address())
    return;
  d.alloc_seen = c.seq;
  d.last_allocation_ms = c.ms;
  d.role_stats = std::move(c.roles);
  metrics::observe_allocation(c.ms / 1000);
  if (!c.offers.empty())
    make_offers(self, c.offers);
}

// Ends a task in the master's books: resources back to the pool.
void finish_task(master_actor* self, const key_t& key) {
  auto& d = self->state;
  auto i = d.st.tasks.find(key);
  if (i == d.st.tasks.end())
    return;
  auto& t = i->second;
  if (auto a = d.st.agents.find(t.agent_id); a != d.st.agents.end())
    a->second.used -= t.res;
  d.alloc.recover(t.agent_id, t.framework_id, t.role, t.res);
  if (auto f = d.st.frameworks.find(t.framework_id); f != d.st.frameworks.end())
    f->second.used -= t.res;
  auto aid = t.agent_id;
  bool had_executor = !t.executor_res.empty();
  d.st.complete_task(key);
  // Only a task of a charged executor changes the agent's executor charges
  // (command tasks, the launch fast path, pay nothing here).
  if (had_executor)
    sync_executor_charges(self, aid, false);
}

namespace {

void charge_executor(master_actor* self, const std::string& aid, const key_t& key,
                     const executor_charge& c, bool from_offer) {
  auto& d = self->state;
  if (auto a = d.st.agents.find(aid); a != d.st.agents.end())
    a->second.used += c.res;
  if (auto f = d.st.frameworks.find(key.first); f != d.st.frameworks.end())
    f->second.used += c.res;
  if (!from_offer)
    d.alloc.use(aid, key.first, c.role, c.res);
}

void release_executor(master_actor* self, const std::string& aid, const key_t& key,
                      const executor_charge& c) {
  auto& d = self->state;
  if (auto a = d.st.agents.find(aid); a != d.st.agents.end())
    a->second.used -= c.res;
  if (auto f = d.st.frameworks.find(key.first); f != d.st.frameworks.end())
    f->second.used -= c.res;
  d.alloc.recover(aid, key.first, c.role, c.res);
}

} // namespace

void sync_executor_charges(master_actor* self, const std::string& aid, bool from_offer) {
  auto& d = self->state;
  auto wanted = d.st.wanted_executor_charges(aid);
  auto& now = d.st.executor_charges[aid];
  for (auto i = now.begin(); i != now.end();) {
    auto w = wanted.find(i->first);
    if (w != wanted.end() && w->second == i->second) {
      ++i;
      continue;
    }
    release_executor(self, aid, i->first, i->second);
    i = now.erase(i);
  }
  for (auto& [key, c] : wanted)
    if (now.emplace(key, c).second)
      charge_executor(self, aid, key, c, from_offer);
  if (now.empty())
    d.st.executor_charges.erase(aid);
}

void drop_executor_charges(master_actor* self, const std::string& aid) {
  auto& d = self->state;
  auto i = d.st.executor_charges.find(aid);
  if (i == d.st.executor_charges.end())
    return;
  for (auto& [key, c] : i->second) {
    d.alloc.recover("", key.first, c.role, c.res);
    if (auto f = d.st.frameworks.find(key.first); f != d.st.frameworks.end())
      f->second.used -= c.res;
  }
  d.st.executor_charges.erase(i);
}

// Checks that the sender is the connected scheduler of `fid`.
framework_entry* caller(master_actor* self, const std::string& fid) {
  auto& d = self->state;
  auto sender = sender_of(self);
  auto f = d.st.frameworks.find(fid);
  if (f == d.st.frameworks.end() || f->second.completed) {
    scheduler_error(self, sender, "framework '" + fid + "' is not registered");
    return nullptr;
  }
  if (f->second.handle != sender) {
    scheduler_error(self, sender,
                    "framework '" + fid + "' is registered by another scheduler");
    return nullptr;
  }
  return &f->second;
}

} // namespace detail

namespace {

using namespace detail;

// Passes an agent's message on to the connected scheduler of its framework
// (best effort: dropped while the scheduler is away).
template <class Msg>
void forward_to_scheduler(master_actor* self, const char* what, const Msg& m) {
  guarded(what, [&] {
    auto v = m.read();
    auto f = self->state.st.frameworks.find(v->getFrameworkId());
    if (f != self->state.st.frameworks.end() && f->second.handle)
      self->send(f->second.handle, m);
  });
}

// Applies a revive or suppress to the framework (all its roles when the
// message names none).
template <class Msg>
void per_role(master_actor* self, const char* what, const Msg& m,
              void (allocator_client::*fn)(const std::string&, const std::string&)) {
  guarded(what, [&] {
    auto v = m.read();
    if (!caller(self, v->getFrameworkId()))
      return;
    std::string fid = v->getFrameworkId();
    if (v->getRoles().size() == 0)
      (self->state.alloc.*fn)(fid, std::string{});
    for (auto r : v->getRoles())
      (self->state.alloc.*fn)(fid, std::string{r});
  });
}

// --- Set-up ---------------------------------------------------------------

// Shows the registry's agents, inactive, until they re-register; one that
// does not within agent_reregister_timeout is marked unreachable.
void recover_agents(master_actor* self) {
  auto& d = self->state;
  // One timer for all the agents that must re-register (10,000 timers were
  // a third of a new leader's start), and one for those BUGGIFY hurries.
  std::vector<std::string> wait_long, wait_short;
  for (auto& rec : d.opts.recovered.agents) {
    guarded("AgentRecord", [&] {
      auto v = rec.read();
      std::string id = v->getAgentId();
      d.admitted_agents.insert(id);
      agent_entry a;
      a.id = id;
      a.hostname = v->getHostname();
      a.endpoint = v->getEndpoint();
      a.active = false;
      a.registered_at = v->getRegisteredAt();
      if (auto r = resources::from_capnp(v->getResources()))
        a.total = *r;
      for (auto at : v->getAttributes())
        a.attributes.emplace_back(at.getName(), at.getValue());
      // Unreachable before the restart: still so, no need to wait for it.
      a.unreachable = v->getUnreachableAt() > 0;
      a.recovered = true;
      for (auto lt : v->getLostTasks())
        a.lost_tasks.emplace(lt.getFrameworkId(), lt.getTaskId());
      d.st.agents[id] = std::move(a);
      if (v->getUnreachableAt() > 0)
        return;
      if (d.opts.runtime->buggify("master/reregister-timeout-short"))
        wait_short.push_back(id);
      else
        wait_long.push_back(id);
    });
  }
  if (!wait_long.empty())
    self->delayed_send(self, d.opts.agent_reregister_timeout, reregister_atom::value,
                       std::move(wait_long));
  if (!wait_short.empty())
    self->delayed_send(self, std::chrono::seconds(2), reregister_atom::value,
                       std::move(wait_short));
}

// Remembers the registry's frameworks, so that they may re-register.
void recover_frameworks(master_actor* self) {
  auto& d = self->state;
  for (auto& rec : d.opts.recovered.frameworks)
    d.known_frameworks.insert(std::string{rec.read()->getFramework().getId()});
}

// A monitored agent or scheduler went away: disconnects it.
void handle_down(master_actor* self, const caf::down_msg& dm) {
  if (self->state.alloc.actor() && dm.source == self->state.alloc.actor().address()) {
    allocator_died(self, dm.reason);
    return;
  }
  if (dm.source == self->state.registrar.address()) {
    registrar_down(self, dm.reason);
    return;
  }
  auto i = self->state.watched.find(dm.source);
  if (i == self->state.watched.end())
    return;
  auto [kind, id] = i->second;
  self->state.watched.erase(i);
  if (kind == 'a')
    agent_disconnected(self, id);
  else
    framework_disconnected(self, id);
}

// Initialises the master's state from its options and the registry, and
// starts its timers.
void set_up_master(master_actor* self, master_options opts, caf::actor registrar) {
  auto& d = self->state;
  d.opts = std::move(opts);
  d.auth = peer_auth{{d.opts.credentials, d.opts.acl, d.opts.authenticate_operators}};
  d.registrar = std::move(registrar);
  self->monitor(d.registrar);
  d.ids = id_generator{d.opts.seed != 0 ? d.opts.seed : d.opts.runtime->seed_for("master")};
  start_allocator(self);
  recover_roles(self);
  d.master_id = d.ids.token();
  d.started_at = wall_now(self);
  recover_agents(self);
  recover_frameworks(self);
  log::info("master_started", {{"master_id", d.master_id},
                               {"recovered_agents", d.admitted_agents.size()},
                               {"recovered_frameworks", d.known_frameworks.size()},
                               {"seed", d.ids.seed()}});
  self->set_down_handler([=](caf::down_msg& dm) { handle_down(self, dm); });
  self->send(self, tick_atom::value);
  self->delayed_send(self, d.opts.agent_ping_timeout, ping_atom::value);
  if (d.opts.publish)
    self->send(self, publish_atom::value);
}

// --- Timers (health checks: master_peers.cpp) -------------------------------

// Recovered agents `ids` had their time to re-register: those that did not
// are unreachable.
void reregister_timeout(master_actor* self, const std::vector<std::string>& ids) {
  for (auto& aid : ids) {
    auto a = self->state.st.agents.find(aid);
    if (a == self->state.st.agents.end() || a->second.active || a->second.handle)
      continue;
    log::warn("agent_reregister_timeout", {{"agent_id", aid}});
    agent_unreachable(self, aid);
  }
}

// The operator API's snapshot: rebuilt when something changed (or every 5 s,
// for uptime and timers), never on a reader's request.
void publish_state(master_actor* self) {
  auto& d = self->state;
  double now = wall_now(self);
  if (d.changes != d.published_changes || now - d.published_at >= 5) {
    check_books(self);
    auto p = std::make_shared<published_state>();
    p->state = d.st.snapshot(d.master_id, d.started_at,
                             static_cast<uint32_t>(d.opts.recovered.agents.size()),
                             static_cast<uint32_t>(d.opts.recovered.frameworks.size()),
                             d.last_allocation_ms);
    p->roles = roles_snapshot(self);
    p->version = ++d.published_version;
    p->built_at = now;
    p->active_tasks = d.st.tasks.size();
    p->completed_tasks = d.st.completed_task_count();
    p->agents = d.st.agents.size();
    d.opts.publish->publish(std::move(p)); // logs state_published once visible
    d.published_changes = d.changes;
    d.published_at = now;
  }
  self->delayed_send(self, d.opts.publish_interval, publish_atom::value);
}

// The periodic allocation: asks for one and schedules the next tick.
void allocation_tick(master_actor* self) {
  request_allocation(self);
  self->delayed_send(self, self->state.opts.allocation_interval, tick_atom::value);
}

// Runs the allocation requested by request_allocation.
void run_allocation(master_actor* self) {
  auto& d = self->state;
  d.allocation_pending = false;
  if (d.alloc.actor())
    self->send(d.alloc.actor(), allocate_atom::value, d.alloc_seen);
  d.last_allocation_at = self->clock().now();
}

// An offer outlived offer_timeout: rescinds it.
void offer_expired(master_actor* self, const std::string& offer_id) {
  if (self->state.st.offers.count(offer_id) == 0)
    return;
  log::info("offer_expired", {{"offer_id", offer_id}});
  drop_offer(self, offer_id, std::nullopt, true);
}

// A disconnected scheduler's failover timeout elapsed: tears its framework
// down unless it came back (or failed over again) since.
void failover_timeout(master_actor* self, const std::string& fid, uint64_t epoch) {
  auto& d = self->state;
  auto f = d.st.frameworks.find(fid);
  if (f == d.st.frameworks.end() || f->second.handle || f->second.epoch != epoch)
    return;
  teardown(self, fid, "failover timeout elapsed");
}

// --- Agents ---------------------------------------------------------------


// The registrar stored agent `a`: admits it (replacing an earlier
// registration of the same agent), takes in its tasks and answers it.
void agent_persisted(master_actor* self, agent_entry& a, const register_agent_msg& m,
                     caf::typed_response_promise<agent_registered_msg>& rp) {
  auto& d = self->state;
  bool was_unreachable = false;
  if (auto old = d.st.agents.find(a.id); old != d.st.agents.end()) {
    was_unreachable = old->second.unreachable;
    // The same agent again (a reconnection, a restart, the end of a
    // partition): its old connection is gone, its offers with it; its tasks
    // are reconciled below.
    if (old->second.handle && old->second.handle != a.handle) {
      d.watched.erase(old->second.handle.address());
      self->demonitor(old->second.handle);
    }
    rescind_agent_offers(self, a.id);
    // Its tasks are charged again from what it reports.
    for (auto& k : d.st.tasks_on(a.id)) {
      auto& t = d.st.tasks.at(k);
      d.alloc.recover("", t.framework_id, t.role, t.res);
    }
    drop_executor_charges(self, a.id);
    d.alloc.remove_agent(a.id);
    if (old->second.unreachable || old->second.disconnected)
      log::info("agent_back", {{"agent_id", a.id},
                               {"was", old->second.unreachable
                                         ? "unreachable" : "disconnected"}});
  }
  d.admitted_agents.insert(a.id);
  a.registration = ++d.registrations;
  d.alloc.add_agent(a.id, a.total);
  d.watched[a.handle.address()] = {'a', a.id};
  self->monitor(a.handle);
  log::info("agent_registered", {{"agent_id", a.id},
                                 {"hostname", a.hostname},
                                 {"resources", a.total.to_string()},
                                 {"tasks", m.read()->getTasks().size()}});
  auto reply = make<schema::AgentRegistered>([&](auto b) {
    b.setAgentId(a.id);
    b.setMasterId(d.master_id);
    b.setEpoch(d.opts.epoch);
  });
  auto id = a.id;
  d.st.agents[id] = std::move(a);
  reconcile_agent(self, id, m, was_unreachable);
  rp.deliver(reply);
  request_allocation(self);
}

// Whether the registry's record of agent `old` (recovered, or written at its
// last registration) already says what a registration as `a` would write:
// not unreachable there, nor being written so, and the same fields
// (registered_at is old's: a re-registration keeps it).
bool record_unchanged(const agent_entry& old, const agent_entry& a) {
  return !old.unreachable && !old.marking_unreachable && old.hostname == a.hostname
         && old.endpoint == a.endpoint && old.total == a.total && old.attributes == a.attributes
         && old.lost_tasks == a.lost_tasks;
}

// Validates a RegisterAgent, builds the agent's entry and has the registrar
// store it before the agent is admitted (agent_persisted).
void register_agent(master_actor* self, const register_agent_msg& m, const caf::actor& sender,
                    caf::typed_response_promise<agent_registered_msg>& rp) {
  auto& d = self->state;
  auto v = m.read();
  auto res = resources::from_capnp(v->getResources());
  if (!res) {
    rp.deliver(res.error());
    return;
  }
  if (!sender) {
    rp.deliver(make_error(errc::invalid_message, "anonymous agent"));
    return;
  }
  if (auto err = authorize_agent(self, sender)) {
    rp.deliver(err);
    return;
  }
  std::string want = v->getAgentId();
  std::string id;
  if (!want.empty() && (d.admitted_agents.count(want) > 0 || d.st.agents.count(want) > 0))
    id = want;
  else
    id = counter_id(d.master_id, "-S", d.next_agent++);
  agent_entry a;
  a.id = id;
  a.hostname = v->getHostname();
  a.endpoint = v->getEndpoint();
  a.http_endpoint = v->getHttpEndpoint();
  a.total = *res;
  a.handle = sender;
  a.registered_at = wall_now(self);
  for (auto at : v->getAttributes())
    a.attributes.emplace_back(at.getName(), at.getValue());
  auto old = d.st.agents.find(id);
  if (old != d.st.agents.end()) {
    a.registered_at = old->second.registered_at; // when it was first admitted
    // Tasks reported lost that it still runs stay recorded until it no
    // longer reports them (they are killed on re-registration).
    for (auto t : v->getTasks()) {
      std::pair<std::string, std::string> key{t.getFrameworkId(), t.getTaskId()};
      if (old->second.lost_tasks.count(key) > 0)
        a.lost_tasks.insert(key);
    }
  }
  // The registrar answers in order: a registration whose record is already
  // written as is (a reconnection, every agent after a failover) passes
  // through it with nothing to write, behind any write still on its way.
  registry_store::batch batch;
  if (old == d.st.agents.end() || !record_unchanged(old->second, a))
    batch.put_agent(id, agent_record(a, 0));
  persist(self, std::move(batch), [=]() mutable { agent_persisted(self, a, m, rp); },
          [=](const caf::error& err) mutable { rp.deliver(err); });
}

// An agent (re-)registers: answered once the registrar stored it.
caf::result<agent_registered_msg> handle_register_agent(master_actor* self,
                                                        const register_agent_msg& m) {
  // Before the promise: making it takes the sender out of the message.
  auto sender = sender_of(self);
  auto rp = self->make_response_promise<agent_registered_msg>();
  bool ok = guarded("RegisterAgent", [&] { register_agent(self, m, sender, rp); });
  if (!ok)
    rp.deliver(make_error(errc::invalid_message, "RegisterAgent does not decode"));
  return rp;
}

// --- Frameworks (schedulers) ----------------------------------------------

// The registrar stored framework `fe`: takes it in (failing over from an
// earlier scheduler of it), answers the scheduler and asks for offers.
void framework_persisted(master_actor* self, framework_entry& fe, bool rereg,
                         caf::typed_response_promise<framework_registered_msg>& rp) {
  auto& d = self->state;
  d.known_frameworks.insert(fe.id);
  auto& slot = d.st.frameworks[fe.id];
  if (slot.handle && slot.handle != fe.handle) {
    d.watched.erase(slot.handle.address());
    self->demonitor(slot.handle);
    self->send(slot.handle, make<schema::SchedulerError>([](auto b) {
      b.setMessage("framework failed over to another scheduler");
      b.setFailedOver(true);
    }));
  }
  fe.used = slot.used;
  fe.offered = slot.offered;
  fe.epoch = slot.epoch + 1;
  if (slot.registered_at > 0)
    fe.registered_at = slot.registered_at;
  slot = fe;
  d.alloc.add_framework(fe.id, fe.roles);
  d.alloc.activate_framework(fe.id, true);
  d.watched[fe.handle.address()] = {'f', fe.id};
  self->monitor(fe.handle);
  log::info(rereg ? "framework_reregistered" : "framework_registered",
            {{"framework_id", fe.id}, {"name", fe.name}});
  rp.deliver(make<schema::FrameworkRegistered>([&](auto b) {
    b.setFrameworkId(fe.id);
    b.setMasterId(d.master_id);
    b.setReregistered(rereg);
    b.setEpoch(d.opts.epoch);
  }));
  request_allocation(self);
}

// Validates a RegisterFramework, picks the framework's id (its own when it
// re-registers) and has the registrar store it (framework_persisted).
void register_framework(master_actor* self, const register_framework_msg& m,
                        const caf::actor& sender,
                        caf::typed_response_promise<framework_registered_msg>& rp) {
  auto& d = self->state;
  auto v = m.read();
  auto info = v->getFramework();
  if (!sender) {
    rp.deliver(make_error(errc::invalid_message, "anonymous scheduler"));
    return;
  }
  if (info.getName().size() == 0) {
    rp.deliver(make_error(errc::invalid_message, "framework name is empty"));
    return;
  }
  std::string principal;
  if (auto err = authorize_framework(self, sender, info, principal)) {
    rp.deliver(err);
    return;
  }
  std::string want = info.getId();
  bool rereg = false;
  std::string id;
  if (!want.empty()) {
    auto f = d.st.frameworks.find(want);
    bool known = (f != d.st.frameworks.end() && !f->second.completed)
                 || (f == d.st.frameworks.end() && d.known_frameworks.count(want) > 0);
    if (!known) {
      rp.deliver(make_error(errc::unknown_framework,
                            "framework '" + want + "' is unknown or was torn down"));
      return;
    }
    id = want;
    rereg = true;
  } else {
    id = counter_id(d.master_id, "-", d.next_framework++);
  }
  auto fe = framework_from_info(info);
  fe.principal = principal;
  fe.id = id;
  fe.handle = sender;
  fe.registered_at = wall_now(self);
  auto rec = make<schema::FrameworkRecord>([&](schema::FrameworkRecord::Builder b) {
    b.setFramework(info);
    b.getFramework().setId(id);
    b.setRegisteredAt(fe.registered_at);
  });
  registry_store::batch batch;
  batch.put_framework(id, rec);
  persist(self, std::move(batch), [=]() mutable { framework_persisted(self, fe, rereg, rp); },
          [=](const caf::error& err) mutable { rp.deliver(err); });
}

// A scheduler (re-)registers a framework: answered once the registrar
// stored it.
caf::result<framework_registered_msg>
handle_register_framework(master_actor* self, const register_framework_msg& m) {
  // Before the promise: making it takes the sender out of the message.
  auto sender = sender_of(self);
  auto rp = self->make_response_promise<framework_registered_msg>();
  bool ok = guarded("RegisterFramework", [&] { register_framework(self, m, sender, rp); });
  if (!ok)
    rp.deliver(make_error(errc::invalid_message, "RegisterFramework does not decode"));
  return rp;
}

// A framework declines offers: their resources go back, filtered for it for
// the refuse time it asked.
void handle_decline(master_actor* self, const decline_msg& m) {
  guarded("Decline", [&] {
    auto v = m.read();
    if (!caller(self, v->getFrameworkId()))
      return;
    auto refuse = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(std::max(0.0, v->getFilters().getRefuseSeconds())));
    for (auto oid : v->getOfferIds()) {
      auto o = self->state.st.offers.find(oid);
      if (o == self->state.st.offers.end()
          || o->second.framework_id != std::string{v->getFrameworkId().cStr()})
        continue;
      drop_offer(self, oid, refuse, false);
    }
  });
}

// A framework kills a task: passed on to its agent (or its state answered
// when the master does not know it).
void handle_kill(master_actor* self, const kill_msg& m) {
  guarded("Kill", [&] {
    auto& d = self->state;
    auto v = m.read();
    std::string fid = v->getFrameworkId();
    std::string tid = v->getTaskId();
    auto* fw = caller(self, fid);
    if (!fw)
      return;
    auto t = d.st.tasks.find({fid, tid});
    if (t == d.st.tasks.end()) {
      // Finished already: its final state again; never heard of: lost.
      reconcile_task(self, *fw, tid, v->getAgentId(),
                     "kill of a task the master does not know");
      return;
    }
    auto a = d.st.agents.find(t->second.agent_id);
    if (a == d.st.agents.end() || !a->second.handle)
      return;
    if (v->getGone()) // only the master may say that
      self->send(a->second.handle, make<schema::Kill>([&](auto b) {
                   b.setFrameworkId(fid);
                   b.setTaskId(tid);
                   b.setAgentId(t->second.agent_id);
                 }));
    else
      self->send(a->second.handle, m);
  });
}

// A framework shuts one of its executors down: passed on to its agent (a
// framework ends with Teardown, never this).
void handle_shutdown_executor(master_actor* self, const shutdown_framework_msg& m) {
  guarded("ShutdownExecutor", [&] {
    auto v = m.read();
    if (!caller(self, v->getFrameworkId()) || v->getExecutorId().size() == 0)
      return;
    auto a = self->state.st.agents.find(v->getAgentId());
    if (a != self->state.st.agents.end() && a->second.handle)
      self->send(a->second.handle, m);
  });
}

// A framework acknowledges a status update: passed on to the agent.
void handle_acknowledge(master_actor* self, const acknowledge_msg& m) {
  guarded("Acknowledge", [&] {
    auto v = m.read();
    if (!caller(self, v->getFrameworkId()))
      return;
    auto a = self->state.st.agents.find(v->getAgentId());
    if (a == self->state.st.agents.end() || !a->second.handle)
      return;
    self->send(a->second.handle, m);
  });
}

// A framework wants offers again (for some or all of its roles).
void handle_revive(master_actor* self, const revive_msg& m) {
  per_role(self, "Revive", m, &allocator_client::revive);
  request_allocation(self);
}

// A framework asks to be torn down.
void handle_teardown(master_actor* self, const teardown_msg& m) {
  guarded("Teardown", [&] {
    auto v = m.read();
    if (!caller(self, v->getFrameworkId()))
      return;
    teardown(self, v->getFrameworkId(), "the framework asked for it");
  });
}

// A framework messages one of its executors: passed on to the agent.
void handle_scheduler_message(master_actor* self, const scheduler_message_msg& m) {
  guarded("SchedulerMessage", [&] {
    auto v = m.read();
    if (!caller(self, v->getFrameworkId()))
      return;
    auto a = self->state.st.agents.find(v->getAgentId());
    if (a == self->state.st.agents.end() || !a->second.handle) {
      scheduler_error(self, sender_of(self),
                      "message for unknown agent '"
                        + std::string{v->getAgentId().cStr()} + "'");
      return;
    }
    self->send(a->second.handle, m);
  });
}

// --- Operators ------------------------------------------------------------

// The cluster's state as the master sees it now.
state_msg state_snapshot(master_actor* self) {
  auto& d = self->state;
  check_books(self);
  return d.st.snapshot(d.master_id, d.started_at,
                       static_cast<uint32_t>(d.opts.recovered.agents.size()),
                       static_cast<uint32_t>(d.opts.recovered.frameworks.size()));
}

// True if the message at hand is one the master sent itself. A timer's
// message from anyone else (any peer can send any atom to the master) is
// dropped: it could make agents miss health checks, expire offers or time a
// framework out.
bool own_timer(master_actor* self, const char* what) {
  if (self->current_sender().get() == self->ctrl())
    return true;
  log::warn("foreign_timer_dropped", {{"message", what}});
  return false;
}

template <class F, class... Ts>
void on_timer(master_actor* self, const char* what, F f, const Ts&... xs) {
  if (own_timer(self, what))
    f(self, xs...);
}

// The master: set up, then one handler per message, grouped by conversation.
caf::behavior master_behavior(master_actor* self, master_options opts,
                              caf::actor registrar) {
  set_up_master(self, std::move(opts), std::move(registrar));
  using agent_result = caf::result<agent_registered_msg>;
  using framework_result = caf::result<framework_registered_msg>;
  return {
    // Timers (messages the master sends itself; a peer's copy is dropped).
    [=](ping_atom) { on_timer(self, "ping", health_check_round); },
    [=](reregister_atom, const std::vector<std::string>& ids) {
      on_timer(self, "reregister", reregister_timeout, ids);
    },
    [=](publish_atom) { on_timer(self, "publish", publish_state); },
    [=](tick_atom) { on_timer(self, "tick", allocation_tick); },
    [=](allocate_atom) { on_timer(self, "allocate", run_allocation); },
    [=](allocator_cycle& c) { guarded("allocator_cycle", [&] { take_cycle(self, c); }); },
    [=](written_atom, const caf::error& err) { write_answered(self, err); },
    [=](expire_atom, const std::string& id) { on_timer(self, "expire", offer_expired, id); },
    [=](timeout_atom, const std::string& fid, uint64_t epoch) {
      on_timer(self, "timeout", failover_timeout, fid, epoch);
    },
    // Agents.
    [=](pong_atom) { handle_pong(self); },
    [=](const agent_health_msg& m) { guarded("AgentHealth", [&] { agent_health(self, m); }); },
    [=](const register_agent_msg& m) -> agent_result { return handle_register_agent(self, m); },
    [=](const status_update_msg& m) { guarded("StatusUpdate", [&] { handle_status(self, m); }); },
    [=](const executor_message_msg& m) { forward_to_scheduler(self, "ExecutorMessage", m); },
    [=](const executor_lost_msg& m) { forward_to_scheduler(self, "ExecutorLost", m); },
    // Frameworks (schedulers).
    [=](const authenticate_msg& m) { return challenge_peer(self, m); },
    [=](const authenticate_proof_msg& m) { return check_proof(self, m); },
    [=](const register_framework_msg& m) -> framework_result {
      return handle_register_framework(self, m);
    },
    [=](const accept_msg& m) { guarded("Accept", [&] { handle_accept(self, m); }); },
    [=](const decline_msg& m) { handle_decline(self, m); },
    [=](const kill_msg& m) { handle_kill(self, m); },
    [=](const shutdown_framework_msg& m) { handle_shutdown_executor(self, m); },
    [=](const acknowledge_msg& m) { handle_acknowledge(self, m); },
    [=](const reconcile_msg& m) { guarded("Reconcile", [&] { reconcile(self, m); }); },
    [=](const revive_msg& m) { handle_revive(self, m); },
    [=](const suppress_msg& m) { per_role(self, "Suppress", m, &allocator_client::suppress); },
    [=](const teardown_msg& m) { handle_teardown(self, m); },
    [=](const scheduler_message_msg& m) { handle_scheduler_message(self, m); },
    // Operators.
    [=](const get_state_msg&) -> state_msg { return state_snapshot(self); },
    [=](const set_weights_msg& m) -> caf::result<roles_msg> { return handle_set_weights(self, m); },
    [=](const set_quota_msg& m) -> caf::result<roles_msg> { return handle_set_quota(self, m); },
    [=](const get_roles_msg&) -> roles_msg { return roles_snapshot(self); },
    [=](const list_actors_msg& m) {
      return list_actors_for(self, self->state.auth, self->state.opts.node, m);
    },
    [=](const kill_actor_msg& m) {
      return kill_actor_for(self, self->state.auth, self->state.opts.node, m);
    },
    [=](const teardown_framework_msg& m) { return handle_teardown_framework(self, m); },
  };
}

} // namespace

namespace {

// The master actor: its mailbox passes the links of its node (simulation).
class master_actor_impl : public linked<detail::master_actor> {
public:
  master_actor_impl(caf::actor_config& cfg, master_options opts, caf::actor registrar)
    : linked<detail::master_actor>(cfg), opts_(std::move(opts)),
      registrar_(std::move(registrar)) {
    join_links(opts_.runtime->links(), opts_.node_name);
  }

  caf::behavior make_behavior() override {
    harden(this);
    return master_behavior(this, std::move(opts_), std::move(registrar_));
  }

private:
  master_options opts_;
  caf::actor registrar_;
};

} // namespace

caf::actor spawn_master(caf::actor_system& sys, caf::actor registrar,
                        master_options opts) {
  if (!opts.runtime)
    opts.runtime = real_env();
  return sys.spawn<master_actor_impl>(std::move(opts), std::move(registrar));
}

} // namespace caldera
