// The agent's link to its master: finding it (a HOST:PORT, a list, or the
// leader an etcd:// coordinator names, watched for after a failover),
// registering with what runs here, reconnecting with back-off, and leaving
// a master of an older epoch.
#include <caf/send.hpp>

#include "actors/auth_client.hpp"
#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/master_address.hpp"
#include "agent/agent_impl.hpp"

namespace caldera {

namespace agent_detail {

// One reconnection attempt pending at a time: a registration that fails and
// the master's down message both ask for one (two would double every round).
void schedule_reconnect(agent_actor* self) {
  auto& d = self->state;
  if (d.reconnect_pending)
    return;
  d.reconnect_pending = true;
  auto wait = d.opts.runtime->buggify("agent/reconnect-early")
                ? caf::timespan{std::chrono::milliseconds(10)}
                : d.reconnect_backoff;
  self->delayed_send(self, wait, retry_atom::value);
}

// As schedule_reconnect, but soon where the lookup itself waits: with
// etcd://, once this agent knew a leader, its next lookup watches for a new
// one for up to the back-off (it answers as soon as one is elected).
void reconnect_soon(agent_actor* self) {
  auto& d = self->state;
  if (d.opts.master || !d.opts.master_endpoint->coordinator || d.max_epoch == 0
      || d.reconnect_pending)
    return schedule_reconnect(self);
  d.reconnect_pending = true;
  self->delayed_send(self, std::chrono::milliseconds(100), retry_atom::value);
}

void send_registration(agent_actor* self);

// Whether the message being handled comes from the master this agent is
// connected to; one from another (a deposed leader, a master it left) is
// dropped, as Mesos' agent ignores messages not from the expected master.
bool from_master(agent_actor* self, const char* what) {
  auto& d = self->state;
  if (d.master && self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(d.master))
    return true;
  log::debug("message_from_other_master_dropped", {{"type", what}});
  return false;
}

// A master whose epoch is older than one this agent has seen (a deposed
// leader, a stale address) is left: its orders must not run. 0: a master
// alone, without epochs.
bool refuse_stale_master(agent_actor* self, uint64_t epoch) {
  auto& d = self->state;
  if (epoch == 0 || epoch >= d.max_epoch) {
    d.max_epoch = std::max(d.max_epoch, epoch);
    return false;
  }
  log::warn("stale_master_refused", {{"epoch", static_cast<int64_t>(epoch)},
                                     {"seen", static_cast<int64_t>(d.max_epoch)}});
  self->demonitor(d.master);
  d.master = nullptr;
  d.ph = phase::connecting;
  schedule_reconnect(self);
  return true;
}

// Registers, having first proven its principal when it has one.
void do_register(agent_actor* self) {
  auto& d = self->state;
  d.ph = phase::registering;
  if (!d.opts.credential) {
    send_registration(self);
    return;
  }
  authenticate_to(self, d.master, *d.opts.credential, [=](const caf::error& err) {
    if (!err) {
      send_registration(self);
      return;
    }
    log::error("agent_authentication_failed",
               {{"principal", self->state.opts.credential->principal}, {"reason", describe(err)}});
    auto& d = self->state;
    d.ph = phase::connecting;
    schedule_reconnect(self);
    d.reconnect_backoff = std::min<caf::timespan>(d.reconnect_backoff * 2, max_reconnect_backoff);
  });
}

void send_registration(agent_actor* self) {
  auto& d = self->state;
  auto req = make<schema::RegisterAgent>([&](schema::RegisterAgent::Builder b) {
    b.setAgentId(d.agent_id);
    b.setHostname(d.opts.hostname);
    b.setEndpoint(d.opts.executor_endpoint);
    b.setVersion("0.1.0");
    b.setHttpEndpoint(d.opts.http_endpoint);
    d.opts.res.to_capnp(b.initResources(static_cast<unsigned>(d.opts.res.entry_count())));
    fill_attributes(b.initAttributes(static_cast<unsigned>(d.opts.attributes.size())), d.opts.attributes);
    // What runs here, and the frameworks it belongs to.
    std::map<std::string, run_task_msg> fws;
    auto ts = b.initTasks(static_cast<unsigned>(d.tasks.size()));
    unsigned i = 0;
    for (auto& [key, t] : d.tasks) {
      auto v = t.launch.read();
      auto tb = ts[i++];
      tb.setFrameworkId(key.first);
      tb.setTaskId(key.second);
      tb.setName(t.name);
      tb.setExecutorId(t.executor_id);
      tb.setState(t.state);
      tb.setRole(t.role);
      tb.setResources(v->getTask().getResources());
      if (auto ex = d.executors.find({key.first, t.executor_id}); ex != d.executors.end()
          && !ex->second.own.empty())
        ex->second.own.to_capnp(
          tb.initExecutorResources(static_cast<unsigned>(ex->second.own.entry_count())));
      fws.emplace(key.first, t.launch);
    }
    auto fl = b.initFrameworks(static_cast<unsigned>(fws.size()));
    i = 0;
    for (auto& [fid, launch] : fws)
      fl.setWithCaveats(i++, launch.read()->getFramework());
  });
  self->request(d.master, std::chrono::seconds(30), req)
    .then(
      [=](const agent_registered_msg& m) {
        guarded("AgentRegistered", [&] {
          auto& d = self->state;
          auto v = m.read();
          if (refuse_stale_master(self, v->getEpoch()))
            return;
          bool again = !d.agent_id.empty();
          d.agent_id = v->getAgentId();
          d.ph = phase::registered;
          if (d.store)
            if (auto err = d.store->put_agent_id(d.agent_id, d.max_epoch))
              log::error("checkpoint_failed", {{"reason", describe(err)}});
          d.reconnect_backoff = std::chrono::seconds(1);
          log::info(again ? "agent_reregistered" : "agent_registered",
                    {{"agent_id", d.agent_id}, {"master_id", std::string{v->getMasterId()}},
                     {"resources", d.opts.res.to_string()}});
          for (auto& [key, uq] : d.updates)
            if (!uq.q.empty())
              send_head(self, key);
          if (!d.unhealthy.empty())
            report_health(self); // a new master knows nothing of it
        });
      },
      [=](caf::error& err) {
        auto& d = self->state;
        // Refusals of what this agent is (its resources, its message) are
        // final; anything else (a registry write failing, a timeout) is
        // retried.
        if (err.category() == caf::atom("caldera")
            && (err.code() == static_cast<uint8_t>(errc::invalid_resources)
                || err.code() == static_cast<uint8_t>(errc::invalid_message))) {
          log::error("agent_registration_refused", {{"reason", describe(err)}});
          self->quit(err);
          return;
        }
        log::warn("agent_registration_failed", {{"reason", describe(err)}});
        d.ph = phase::connecting;
        schedule_reconnect(self);
      });
}

void on_master(agent_actor* self, caf::actor m) {
  auto& d = self->state;
  d.connect_failed = false;
  d.master = std::move(m);
  self->monitor(d.master);
  do_register(self);
}

// A connection attempt failed: tried again after the back-off, or soon when
// the coordinator named a leader (the wait is in the next lookup then; a
// new leader listens a moment after its election).
void connect_failed(agent_actor* self, const caf::error& err, bool leader_named) {
  auto& d = self->state;
  // Said once per outage (none leads, a wrong address), then quietly.
  if (!d.connect_failed)
    log::warn("master_unreachable",
              {{"master", d.opts.master_endpoint->to_string()}, {"reason", describe(err)},
               {"retry", "with back-off, up to 5 s"}});
  else
    log::debug("master_connect_failed", {{"reason", describe(err)}});
  d.connect_failed = true;
  if (leader_named)
    reconnect_soon(self);
  else
    schedule_reconnect(self);
  d.reconnect_backoff = std::min<caf::timespan>(d.reconnect_backoff * 2, max_reconnect_backoff);
}

// Through etcd://: the leader, waiting up to the back-off for one newer
// than the last this agent registered with (as Mesos' agents hear of a new
// leader from ZooKeeper), then connects to it.
void connect_through_coordinator(agent_actor* self) {
  auto& d = self->state;
  leader_wait w{static_cast<int64_t>(d.max_epoch),
                d.max_epoch == 0 ? std::chrono::milliseconds(0)
                                 : std::chrono::duration_cast<std::chrono::milliseconds>(
                                     d.reconnect_backoff)};
  lookup_leader_async(
    self, d.opts.runtime, *d.opts.master_endpoint, w,
    [=](endpoint ep) {
      connect_async(
        self, ep, [=](caf::actor a) { on_master(self, std::move(a)); },
        [=](const caf::error& err) { connect_failed(self, err, true); });
    },
    [=](const caf::error& err) { connect_failed(self, err, false); });
}

void connect(agent_actor* self) {
  auto& d = self->state;
  d.ph = phase::connecting;
  if (d.opts.master) {
    on_master(self, d.opts.master);
    return;
  }
  if (d.opts.master_endpoint->coordinator)
    return connect_through_coordinator(self);
  connect_master_async(
    self, d.opts.runtime, *d.opts.master_endpoint, d.connect_attempts++,
    [=](caf::actor a) { on_master(self, std::move(a)); },
    [=](const caf::error& err) { connect_failed(self, err, false); });
}

} // namespace agent_detail

} // namespace caldera
