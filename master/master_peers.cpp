// Peers coming and going: framework teardown and disconnection, agents'
// health checks, agents lost, unreachable or re-registering with what they run.
#include "master/master_impl.hpp"

#include <algorithm>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "master/registrar.hpp"

namespace caldera::detail {

namespace {

// A status the master decides for task `t` itself: recorded on the task and,
// with `notify`, sent to its framework (no acknowledgement expected).
void record_status(master_actor* self, task_entry& t, schema::TaskState state,
                   std::string reason, std::string message, bool notify) {
  auto& d = self->state;
  status_info st;
  st.task_id = t.id;
  st.agent_id = t.agent_id;
  st.executor_id = t.executor_id;
  st.state = state;
  st.reason = std::move(reason);
  st.message = std::move(message);
  st.timestamp = wall_now(self);
  t.state = state;
  t.statuses.push_back(st);
  if (!notify)
    return;
  if (auto f = d.st.frameworks.find(t.framework_id); f != d.st.frameworks.end())
    send_status(self, f->second, st);
}

} // namespace

void teardown(master_actor* self, const std::string& fid, const std::string& why) {
  auto& d = self->state;
  auto f = d.st.frameworks.find(fid);
  if (f == d.st.frameworks.end() || f->second.completed)
    return;
  log::info("framework_teardown", {{"framework_id", fid}, {"reason", why}});
  for (auto& oid : d.st.offers_to(fid))
    drop_offer(self, oid, std::nullopt, false);
  std::vector<key_t> keys;
  for (auto& [k, t] : d.st.tasks)
    if (t.framework_id == fid)
      keys.push_back(k);
  for (auto& k : keys) {
    record_status(self, d.st.tasks[k], schema::TaskState::KILLED, "",
                  "framework torn down: " + why, false);
    finish_task(self, k);
  }
  // Every agent, not only those where it still has tasks: an executor whose
  // tasks all ended (a TaskTracker between jobs) runs until it is told.
  auto shutdown = make<schema::ShutdownFramework>([&](auto b) { b.setFrameworkId(fid); });
  for (auto& [aid, a] : d.st.agents)
    if (a.handle)
      self->send(a.handle, shutdown);
  d.alloc.remove_framework(fid);
  auto& fw = f->second;
  if (fw.handle) {
    d.watched.erase(fw.handle.address());
    self->demonitor(fw.handle);
  }
  fw.handle = nullptr;
  fw.active = false;
  fw.completed = true;
  d.st.framework_completed(fid);
  request_allocation(self);
}

void rescind_agent_offers(master_actor* self, const std::string& aid) {
  for (auto& oid : self->state.st.offers_on(aid))
    drop_offer(self, oid, std::nullopt, true);
}

namespace {

// Takes the agent out of allocation: its offers are rescinded, it offers
// nothing more. Its tasks stay charged to their frameworks.
void deactivate_agent(master_actor* self, agent_entry& a) {
  auto& d = self->state;
  if (!a.active)
    return;
  rescind_agent_offers(self, a.id);
  a.active = false;
  d.alloc.remove_agent(a.id);
}

} // namespace

agent_record_msg agent_record(const agent_entry& a, double unreachable_at) {
  return make<schema::AgentRecord>([&](schema::AgentRecord::Builder b) {
    b.setAgentId(a.id);
    b.setHostname(a.hostname);
    b.setEndpoint(a.endpoint);
    b.setRegisteredAt(a.registered_at);
    a.total.to_capnp(b.initResources(static_cast<unsigned>(a.total.entry_count())));
    fill_attributes(b.initAttributes(static_cast<unsigned>(a.attributes.size())), a.attributes);
    b.setUnreachableAt(unreachable_at);
    auto lt = b.initLostTasks(static_cast<unsigned>(a.lost_tasks.size()));
    unsigned i = 0;
    for (auto& [fid, tid] : a.lost_tasks) {
      lt[i].setFrameworkId(fid);
      lt[i++].setTaskId(tid);
    }
  });
}

void agent_disconnected(master_actor* self, const std::string& aid) {
  auto& d = self->state;
  auto a = d.st.agents.find(aid);
  if (a == d.st.agents.end())
    return;
  log::warn("agent_disconnected", {{"agent_id", aid}});
  a->second.handle = nullptr;
  if (a->second.unreachable)
    return;
  a->second.disconnected = true;
  a->second.missed_pings = 0;
  deactivate_agent(self, a->second);
  request_allocation(self);
}

namespace {

// The tasks on `aid` whose frameworks are told TASK_LOST (not partition-aware).
std::set<key_t> tasks_reported_lost(master_actor* self, const std::string& aid) {
  auto& d = self->state;
  std::set<key_t> out;
  for (auto& k : d.st.tasks_on(aid))
    if (auto f = d.st.frameworks.find(d.st.tasks.at(k).framework_id);
        f == d.st.frameworks.end() || !f->second.partition_aware)
      out.insert(k);
  return out;
}

// The registry says the agent is unreachable: offers rescinded, its tasks
// TASK_UNREACHABLE / TASK_LOST, frameworks told.
// The registry says agent `aid` is unreachable: so it is, unless it registered
// again meanwhile (that registration was written after, and says reachable).
// A pong that came meanwhile does not undo it: a restarted master would read
// it unreachable, so this one treats it so until it re-registers.
void mark_unreachable(master_actor* self, const std::string& aid, uint64_t registration) {
  auto& d = self->state;
  auto a = d.st.agents.find(aid);
  if (a == d.st.agents.end())
    return;
  a->second.marking_unreachable = false;
  if (a->second.unreachable || a->second.registration != registration)
    return;
  deactivate_agent(self, a->second);
  a->second.unreachable = true;
  a->second.disconnected = false;
  auto lost = tasks_reported_lost(self, aid);
  a->second.lost_tasks.insert(lost.begin(), lost.end());
  for (auto& k : d.st.tasks_on(aid)) {
    auto& t = d.st.tasks[k];
    bool aware = lost.count(k) == 0;
    record_status(self, t, aware ? schema::TaskState::UNREACHABLE : schema::TaskState::LOST,
                  "REASON_AGENT_UNREACHABLE", "agent " + aid + " is unreachable", true);
    finish_task(self, k);
  }
  a->second.used = resources{};
  auto msg = make<schema::AgentLost>([&](auto b) { b.setAgentId(aid); });
  for (auto& [fid, fw] : d.st.frameworks)
    if (fw.handle)
      self->send(fw.handle, msg);
  request_allocation(self);
}

} // namespace

void agent_unreachable(master_actor* self, const std::string& aid) {
  auto& d = self->state;
  auto a = d.st.agents.find(aid);
  if (a == d.st.agents.end() || a->second.unreachable || a->second.marking_unreachable)
    return;
  log::warn("agent_unreachable", {{"agent_id", aid}});
  a->second.marking_unreachable = true;
  // Durable first (as Mesos): frameworks hear of it only once a restarted
  // master would know it too, with the tasks reported lost. A failed write
  // (a full disk) is tried again by the next health check round.
  auto rec = a->second;
  auto lost = tasks_reported_lost(self, aid);
  rec.lost_tasks.insert(lost.begin(), lost.end());
  registry_store::batch batch;
  batch.put_agent(aid, agent_record(rec, wall_now(self)));
  auto registration = a->second.registration;
  persist(self, std::move(batch), [=] { mark_unreachable(self, aid, registration); },
          [=](const caf::error& err) {
            log::error("registry_write_failed", {{"agent_id", aid}, {"reason", describe(err)}});
            if (auto i = self->state.st.agents.find(aid); i != self->state.st.agents.end())
              i->second.marking_unreachable = false;
          });
}

namespace {

// The registry has task `key` among the lost tasks of agents `ids`: so do
// their entries. One that re-registered meanwhile has its record written
// again (that write, if after its registration's, said it unreachable).
void answered_lost_written(master_actor* self, const key_t& key,
                           const std::vector<std::string>& ids) {
  auto& d = self->state;
  registry_store::batch batch;
  for (auto& id : ids) {
    auto a = d.st.agents.find(id);
    if (a == d.st.agents.end())
      continue;
    if (a->second.unreachable)
      a->second.lost_tasks.insert(key);
    else
      batch.put_agent(id, agent_record(a->second, 0));
  }
  if (batch.empty())
    return;
  persist(self, std::move(batch), [] {},
          [=](const caf::error& err) {
            log::error("registry_write_failed", {{"task_id", key.second},
                                                 {"reason", describe(err)}});
          });
}

} // namespace

// Answered TASK_LOST by a master that did not know the task (seeds 2137,
// 3397: it had ended on an unreachable agent, its final update never
// acknowledged, and the master that knew it restarted): the next master,
// without answered_lost, took the agent's report and forwarded that final
// state. The unreachable agents' records now say it is lost (as for the
// tasks they had when marked unreachable): it is killed if reported.
void record_answered_lost(master_actor* self, const key_t& key, const std::string& agent_id,
                          std::function<void()> answer) {
  auto& d = self->state;
  d.answered_lost.insert(key);
  registry_store::batch batch;
  std::vector<std::string> ids;
  for (auto& [id, a] : d.st.agents) {
    if (!a.unreachable || (!agent_id.empty() && id != agent_id) || a.lost_tasks.count(key) > 0)
      continue;
    auto rec = a;
    rec.lost_tasks.insert(key);
    batch.put_agent(id, agent_record(rec, wall_now(self)));
    ids.push_back(id);
  }
  if (ids.empty()) {
    answer();
    return;
  }
  persist(
    self, std::move(batch),
    [=] {
      answered_lost_written(self, key, ids);
      answer();
    },
    [=](const caf::error& err) {
      log::error("registry_write_failed", {{"task_id", key.second}, {"reason", describe(err)}});
    });
}

void agent_health(master_actor* self, const agent_health_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  auto w = d.watched.find(self->current_sender() ? self->current_sender()->address()
                                                 : caf::actor_addr{});
  std::string aid = v->getAgentId();
  auto a = d.st.agents.find(aid);
  if (w == d.watched.end() || w->second != std::make_pair('a', aid) || a == d.st.agents.end()) {
    log::warn("agent_health_refused", {{"agent_id", aid}, {"reason", "not from that agent"}});
    return;
  }
  a->second.unhealthy = v->getHealthy() ? std::string{} : std::string{v->getReason()};
  if (a->second.unhealthy.empty()) {
    log::info("agent_healthy", {{"agent_id", aid}});
    d.alloc.activate_agent(aid, true);
    request_allocation(self);
    return;
  }
  log::warn("agent_unhealthy", {{"agent_id", aid}, {"reason", a->second.unhealthy}});
  d.alloc.activate_agent(aid, false);
  rescind_agent_offers(self, aid);
}

void framework_disconnected(master_actor* self, const std::string& fid) {
  auto& d = self->state;
  auto f = d.st.frameworks.find(fid);
  if (f == d.st.frameworks.end())
    return;
  auto& fw = f->second;
  log::info("framework_disconnected", {{"framework_id", fid},
                                       {"failover_timeout", fw.failover_timeout}});
  fw.handle = nullptr;
  fw.active = false;
  d.alloc.activate_framework(fid, false);
  for (auto& oid : d.st.offers_to(fid))
    drop_offer(self, oid, std::nullopt, false);
  auto timeout = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(std::max(0.0, fw.failover_timeout)));
  self->delayed_send(self, timeout, timeout_atom::value, fid, fw.epoch);
  request_allocation(self);
}

// Takes in what a (re-)registering agent reports it runs: unknown frameworks
// come back disconnected (their schedulers re-register within their failover
// timeout), reported tasks are known again and charged to the allocator, and
// tasks the master had on this agent that it no longer reports are lost.
namespace {

// An agent that was away when a framework was torn down may still run its
// executors (idle ones too, which it reports nowhere): every agent that
// re-registers hears of every torn-down framework the master keeps (the
// newest 50); an agent without its executors ignores it.
void tell_torn_down(master_actor* self, const std::string& aid, const std::string& fid) {
  auto& a = self->state.st.agents[aid];
  if (!a.handle)
    return;
  log::info("framework_shutdown_resent", {{"framework_id", fid}, {"agent_id", aid}});
  self->send(a.handle, make<schema::ShutdownFramework>([&](auto b) { b.setFrameworkId(fid); }));
}

// The master's entry of a task an agent reports (using `res`), with one
// status saying so.
task_entry reported_task(master_actor* self, const std::string& aid,
                         schema::AgentTask::Reader t, resources res, std::string message) {
  task_entry te;
  te.id = t.getTaskId();
  te.name = t.getName();
  te.framework_id = t.getFrameworkId();
  te.role = t.getRole().size() == 0 ? "*" : std::string{t.getRole()};
  te.agent_id = aid;
  te.executor_id = t.getExecutorId();
  te.res = std::move(res);
  if (auto er = resources::from_capnp(t.getExecutorResources()))
    te.executor_res = std::move(*er);
  te.state = t.getState();
  status_info st;
  st.task_id = te.id;
  st.state = te.state;
  st.agent_id = aid;
  st.source = schema::StatusSource::AGENT;
  st.message = std::move(message);
  st.timestamp = wall_now(self);
  te.statuses.push_back(st);
  return te;
}

// A task that ended while the master was away (its update still on its way
// from the agent): kept among the completed tasks, so that operators and
// reconciliation know it.
void remember_ended(master_actor* self, const std::string& aid,
                    schema::AgentTask::Reader t) {
  auto& d = self->state;
  key_t key{t.getFrameworkId(), t.getTaskId()};
  if (d.st.find_task(key.first, key.second) != nullptr)
    return;
  auto res = resources::from_capnp(t.getResources());
  d.st.add_task(key, reported_task(self, aid, t, res ? std::move(*res) : resources{},
                                   "ended while the master was away; known from the "
                                   "agent's re-registration"));
  d.st.complete_task(key);
  ++d.changes;
}

} // namespace

namespace {

// Tasks marked unreachable with their agent that it no longer reports when it
// comes back (it was restarted and cleaned up, or they ended unseen) are
// gone: partition-aware frameworks learn TASK_GONE (others were told
// TASK_LOST already); reconciliation answers the same afterwards.
void unreachable_tasks_gone(master_actor* self, const std::string& aid,
                            const std::set<key_t>& reported) {
  auto& d = self->state;
  for (auto& [fid, done] : d.st.completed_tasks)
    for (auto& t : done)
      if (t.agent_id == aid && t.state == schema::TaskState::UNREACHABLE
          && reported.count({fid, t.id}) == 0
          && d.st.find_task(fid, t.id) == &t) // not known again since
        record_status(self, t, schema::TaskState::GONE, "REASON_AGENT_RESTARTED",
                      "the agent came back without this task", true);
}

} // namespace

namespace {

// Frameworks a re-registering agent runs tasks of that this master does not
// know (it restarted): known again, inactive until their schedulers
// re-register, torn down after their failover timeout otherwise.
void recover_agent_frameworks(master_actor* self, const std::string& aid,
                              capnp::List<schema::FrameworkInfo>::Reader frameworks) {
  auto& d = self->state;
  for (auto fi : frameworks) {
    std::string fid = fi.getId();
    if (fid.empty() || d.st.frameworks.count(fid) > 0)
      continue;
    auto fe = framework_from_info(fi);
    fe.active = false;
    fe.registered_at = wall_now(self);
    d.alloc.add_framework(fid, fe.roles);
    d.alloc.activate_framework(fid, false);
    d.known_frameworks.insert(fid);
    log::info("framework_recovered", {{"framework_id", fid}, {"agent_id", aid}});
    d.st.frameworks[fid] = fe;
    auto timeout = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(std::max(0.0, fe.failover_timeout)));
    // A scheduler gets at least a few seconds to find the new master.
    timeout = std::max<caf::timespan>(timeout, std::chrono::seconds(10));
    self->delayed_send(self, timeout, timeout_atom::value, fid, fe.epoch);
  }
  for (auto& [fid, f] : d.st.frameworks)
    if (f.completed)
      tell_torn_down(self, aid, fid);
}

// Its framework was told the task is lost (the agent was unreachable and the
// framework is not partition-aware): it must not run on.
void kill_reported(master_actor* self, const std::string& aid, const key_t& key) {
  auto& d = self->state;
  d.answered_lost.erase(key);
  log::info("task_killed_on_reregistration",
            {{"framework_id", key.first}, {"task_id", key.second}});
  if (auto h = d.st.agents[aid].handle)
    self->send(h, make<schema::Kill>([&](auto b) {
                 b.setFrameworkId(key.first);
                 b.setTaskId(key.second);
                 b.setAgentId(aid);
                 b.setGone(true);
               }));
}

// A task the agent runs, charged to its framework again; one this master did
// not know is known again and its framework hears it runs.
void charge_reported(master_actor* self, const std::string& aid, schema::AgentTask::Reader t,
                     const resources& res, reported_fate fate, bool was_unreachable) {
  auto& d = self->state;
  key_t key{t.getFrameworkId(), t.getTaskId()};
  std::string role = t.getRole();
  d.alloc.use(aid, key.first, role.empty() ? "*" : role, res);
  d.st.agents[aid].used += res; // the agent entry is new: it holds what is reported
  if (fate == reported_fate::active) {
    auto& known = d.st.tasks[key];
    known.launch.reset(); // the agent has it
    if (auto er = resources::from_capnp(t.getExecutorResources()))
      known.executor_res = std::move(*er); // what its executor runs with there
    return;
  }
  auto te = reported_task(self, aid, t, res, "known again from the agent's re-registration");
  log::debug("task_recovered", {{"framework_id", key.first}, {"task_id", key.second},
                                {"agent_id", aid}});
  if (auto f = d.st.frameworks.find(key.first); f != d.st.frameworks.end()) {
    f->second.used += te.res;
    // A framework that may have seen the task unreachable (or lost:
    // those are killed) learns it runs. After a master failover or
    // restart the others heard nothing else: 100,000 needless updates at
    // 10,000 agents (Mesos sends none either).
    if (was_unreachable) {
      auto st = te.statuses.back();
      st.reason = "REASON_AGENT_REREGISTERED";
      send_status(self, f->second, st);
    }
  }
  d.st.add_task(key, std::move(te));
}

// Tasks this master has on agent `aid` that it did not report: lost.
void lose_unreported(master_actor* self, const std::string& aid, const std::set<key_t>& reported) {
  auto& d = self->state;
  std::vector<key_t> gone;
  for (auto& k : d.st.tasks_on(aid))
    if (reported.count(k) == 0)
      gone.push_back(k);
  for (auto& k : gone) {
    auto& t = d.st.tasks[k];
    record_status(self, t, schema::TaskState::LOST, "REASON_AGENT_RESTARTED",
                  "the agent re-registered without this task", true);
    // Uncharged from the allocator when the agent was re-added, never in
    // the new agent entry.
    if (auto f = d.st.frameworks.find(t.framework_id); f != d.st.frameworks.end())
      f->second.used -= t.res;
    d.st.complete_task(k);
  }
}

} // namespace

void reconcile_agent(master_actor* self, const std::string& aid,
                     const register_agent_msg& m, bool was_unreachable) {
  guarded("RegisterAgent.tasks", [&] {
    auto& d = self->state;
    auto v = m.read();
    recover_agent_frameworks(self, aid, v->getFrameworks());
    std::set<key_t> reported;
    for (auto t : v->getTasks()) {
      key_t key{t.getFrameworkId(), t.getTaskId()};
      auto fate = d.st.classify_reported(key, t.getState(),
                                         d.st.agents[aid].lost_tasks.count(key) > 0,
                                         d.answered_lost.count(key) > 0);
      if (fate == reported_fate::kill) {
        kill_reported(self, aid, key);
        continue;
      }
      if (fate == reported_fate::ended) {
        // Seen to end there, its last update on its way: the master keeps
        // it (and its charge) until that update arrives.
        remember_ended(self, aid, t);
        reported.insert(key);
        continue;
      }
      auto res = resources::from_capnp(t.getResources());
      if (!res)
        continue;
      reported.insert(key);
      charge_reported(self, aid, t, *res, fate, was_unreachable);
    }
    lose_unreported(self, aid, reported);
    unreachable_tasks_gone(self, aid, reported);
  });
  // Its executors are charged again from its active tasks.
  sync_executor_charges(self, aid, false);
}

// --- Health checks ---------------------------------------------------------

namespace {

// One agent's health check: one that did not answer the last ping misses
// one; too many misses make it unreachable (added to `unreachable`).
void check_agent(master_actor* self, const std::string& id, agent_entry& a,
                 std::vector<std::string>& unreachable) {
  auto& d = self->state;
  if (!a.handle) {
    // Disconnected: each round without it re-registering is a miss.
    if (a.disconnected && ++a.missed_pings >= d.opts.max_agent_ping_timeouts)
      unreachable.push_back(id);
    return;
  }
  if (!a.active) {
    self->send(a.handle, ping_atom::value); // unreachable: still listen
    return;
  }
  if (a.ping_outstanding && (++a.missed_pings >= d.opts.max_agent_ping_timeouts ||
                             d.opts.runtime->buggify("master/ping-missed-early")))
    unreachable.push_back(id);
  a.ping_outstanding = true;
  self->send(a.handle, ping_atom::value);
}

} // namespace

// Health checks, spread over the ping interval: each tick checks the next
// slice of the agents (in id order), so every agent is pinged once per
// `agent_ping_timeout` but never all at once. With up to
// `agents_per_ping_tick` (500) agents one tick checks them all; then up to
// 150 ticks share them (100,000 pings sent
// in one handler, and their pongs, held the master's mailbox for seconds:
// bench-scale's offer->RUNNING p99 was 3.7 s at 100k agents, 8.6 ms without).
void health_check_round(master_actor* self) {
  auto& d = self->state;
  auto& agents = d.st.agents;
  size_t per_tick = std::max<size_t>(d.opts.agents_per_ping_tick, 1);
  size_t slices = std::clamp<size_t>(agents.size() / per_tick, 1, 150);
  size_t share = (agents.size() + slices - 1) / slices;
  auto i = d.ping_cursor.empty() ? agents.begin() : agents.upper_bound(d.ping_cursor);
  std::vector<std::string> unreachable;
  for (size_t k = 0; k < share && i != agents.end(); ++k, ++i)
    check_agent(self, i->first, i->second, unreachable);
  bool wrapped = i == agents.end();
  d.ping_cursor = wrapped || i == agents.begin() ? std::string{} : std::prev(i)->first;
  for (auto& id : unreachable)
    agent_unreachable(self, id);
  if (wrapped)
    resend_launches(self);
  self->delayed_send(self, d.opts.agent_ping_timeout / static_cast<int64_t>(slices),
                     ping_atom::value);
}

// An agent answered a ping: it is healthy (and asked to re-register when it
// was unreachable).
void handle_pong(master_actor* self) {
  auto& d = self->state;
  auto i = d.watched.find(self->current_sender()
                            ? self->current_sender()->address()
                            : caf::actor_addr{});
  if (i == d.watched.end() || i->second.first != 'a')
    return;
  auto a = d.st.agents.find(i->second.second);
  if (a == d.st.agents.end())
    return;
  a->second.ping_outstanding = false;
  a->second.missed_pings = 0;
  if (!a->second.active && a->second.unreachable && a->second.handle) {
    // The partition healed: the agent registers again with what it runs.
    log::info("agent_reachable_again", {{"agent_id", a->first}});
    self->send(a->second.handle, reregister_atom::value);
  }
}

} // namespace caldera::detail
