// The agent's checkpoint (storage/agent_store.hpp) and what a restarted agent
// recovers from it.
#include <filesystem>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/resources.hpp"
#include "agent/agent_impl.hpp"

namespace caldera::agent_detail {

void schedule_flush(agent_actor* self) {
  auto& d = self->state;
  if (d.flush_scheduled)
    return;
  d.flush_scheduled = true;
  self->delayed_send(self, std::chrono::seconds(1), flush_atom::value);
}

caf::error checkpoint_task(agent_actor* self, const key_t& key) {
  auto& d = self->state;
  if (!d.store)
    return caf::none;
  auto t = d.tasks.find(key);
  auto u = d.updates.find(key);
  bool pending = u != d.updates.end() && !u->second.q.empty();
  caf::error err;
  if (t == d.tasks.end() && !pending) {
    err = d.store->remove_task(key.first, key.second);
  } else {
    auto rec = make<schema::CheckpointedTask>([&](schema::CheckpointedTask::Builder b) {
      b.setFrameworkId(key.first);
      b.setTaskId(key.second);
      if (t != d.tasks.end()) {
        b.setExecutorId(t->second.executor_id);
        b.setState(t->second.state);
        auto launch = t->second.launch.read();
        b.setLaunch(*launch);
      }
      if (pending) {
        auto l = b.initPending(static_cast<unsigned>(u->second.q.size()));
        unsigned i = 0;
        for (auto& [uuid, m] : u->second.q) {
          auto v = m.read();
          l[i].setUuid(uuid);
          l[i++].setStatus(v->getStatus());
        }
      }
    });
    err = d.store->put_task(key.first, key.second, rec);
  }
  if (!err) {
    d.dirty.erase(key);
    if (d.dirty.empty())
      set_health(self, "");
    return err;
  }
  log::error("checkpoint_failed", {{"task_id", key.second}, {"reason", describe(err)}});
  d.dirty.insert(key);
  set_health(self, "the agent cannot write its checkpoint (" + describe(err)
                     + "); it takes no tasks until it can");
  schedule_flush(self);
  return err;
}

void set_health(agent_actor* self, const std::string& why) {
  auto& d = self->state;
  if (d.unhealthy == why)
    return;
  d.unhealthy = why;
  if (d.opts.publish)
    publish_view(self); // /health says so before anyone hears of it
  if (why.empty())
    log::info("agent_healthy", {{"agent_id", d.agent_id}});
  else
    log::error("agent_unhealthy", {{"agent_id", d.agent_id}, {"reason", why}});
  report_health(self);
}

void report_health(agent_actor* self) {
  auto& d = self->state;
  if (d.ph != phase::registered || !d.master)
    return;
  to_master(self, make<schema::AgentHealth>([&](auto b) {
              b.setAgentId(d.agent_id);
              b.setHealthy(d.unhealthy.empty());
              b.setReason(d.unhealthy);
            }));
}

// Writes the tasks whose checkpoint failed again, every second until it
// works; with none left, a probe write tells whether the disk is back.
void flush_checkpoint(agent_actor* self) {
  auto& d = self->state;
  d.flush_scheduled = false;
  auto keys = d.dirty;
  for (auto& key : keys)
    if (!checkpoint_task(self, key)) {
      log::info("checkpoint_written_again", {{"task_id", key.second}});
      send_head(self, key);
    }
  if (d.dirty.empty() && !d.unhealthy.empty() && d.store) {
    if (auto err = d.store->put_agent_id(d.agent_id, d.max_epoch))
      log::debug("checkpoint_probe_failed", {{"reason", describe(err)}});
    else
      set_health(self, "");
  }
  if (!d.unhealthy.empty())
    schedule_flush(self);
}

void finish_recovery(agent_actor* self) {
  auto& d = self->state;
  if (!d.recovering)
    return;
  d.recovering = false;
  schedule_leftover_sandboxes(self);
  // The isolators of recovered containers learn their limits again.
  for (auto& [k, ex] : d.executors)
    if (!ex.container_id.empty())
      d.opts.containers->update(ex.container_id, limits_of(self, k));
  log::info("agent_recovered", {{"agent_id", d.agent_id},
                                {"executors", d.executors.size()},
                                {"tasks", d.tasks.size()}});
  connect(self);
}

namespace {

// --recover=cleanup: every executor a previous agent ran is destroyed and
// forgotten; the agent keeps its id (and the newest epoch it saw), so the
// master learns at once that its tasks are gone (they are not in the
// re-registration).
void recover_cleanup(agent_actor* self, const caf::expected<agent_checkpoint>& cp) {
  auto& d = self->state;
  size_t n = 0;
  if (cp) {
    d.agent_id = cp->agent_id;
    d.max_epoch = cp->master_epoch;
    for (auto& rec : cp->executors) {
      guarded("CheckpointedExecutor", [&] {
        d.opts.containers->destroy(rec.read()->getContainerId());
        ++n;
      });
    }
  }
  n += d.opts.containers->destroy_unknown();
  auto err = d.store->clear();
  if (!err && !d.agent_id.empty())
    err = d.store->put_agent_id(d.agent_id, d.max_epoch);
  if (err) {
    log::error("agent_checkpoint_unusable", {{"reason", describe(err)}});
    self->quit(err);
    return;
  }
  log::info("agent_recovery_cleanup", {{"destroyed", n}});
  connect(self);
}

// The checkpointed tasks and the updates their masters had not acknowledged.
void recover_tasks(agent_actor* self, const agent_checkpoint& cp) {
  auto& d = self->state;
  for (auto& rec : cp.tasks) {
    guarded("CheckpointedTask", [&] {
      auto v = rec.read();
      key_t key{v->getFrameworkId(), v->getTaskId()};
      if (v->hasLaunch()) {
        capnp::MallocMessageBuilder mb;
        mb.setRoot(v->getLaunch());
        run_task_msg launch{mb};
        auto lv = launch.read();
        d.tasks[key] = task_rec{v->getExecutorId(), v->getState(),
                                lv->getTask().getName(), lv->getRole(), launch};
      }
      auto& uq = d.updates[key];
      for (auto p : v->getPending()) {
        uq.q.emplace_back(p.getUuid(), make<schema::StatusUpdate>(
                                         [&](auto b) { b.setStatus(p.getStatus()); }));
        uq.sent.insert(p.getUuid()); // perhaps sent before the restart
      }
      if (uq.q.empty())
        d.updates.erase(key);
    });
  }
}

// The checkpointed executors: each container is recovered (it then
// re-registers) or found gone (its tasks end).
void recover_executors(agent_actor* self, const agent_checkpoint& cp) {
  auto& d = self->state;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  std::vector<key_t> gone;
  for (auto& rec : cp.executors) {
    guarded("CheckpointedExecutor", [&] {
      auto v = rec.read();
      key_t key{v->getFrameworkId(), v->getExecutorId()};
      auto& ex = d.executors[key];
      // A command task the agent ran itself has no executor to wait for.
      ex.direct = v->getCommandTask();
      ex.command_executor = ex.direct;
      ex.st = ex.direct ? executor_rec::state::running : executor_rec::state::recovering;
      ex.container_id = v->getContainerId();
      ex.sandbox = v->getSandbox();
      ex.token = v->getToken();
      for (auto& [tk, t] : d.tasks)
        if (tk.first == key.first && t.executor_id == key.second && !is_terminal(t.state)) {
          ex.tasks.insert(tk.second);
          ex.own = executor_own(t.launch);
        }
      auto fid = key.first;
      auto eid = key.second;
      bool alive = d.opts.containers->recover(
        ex.container_id,
        [me, fid, eid](int status) { caf::send_as(me, me, exited_atom::value, fid, eid, status); },
        me);
      log::info(alive ? "executor_recovered" : "executor_gone",
                {{"framework_id", fid}, {"executor_id", eid}, {"tasks", ex.tasks.size()}});
      if (!alive)
        gone.push_back(key);
    });
  }
  for (auto& key : gone)
    executor_exited(self, key.first, key.second, unknown_exit_status);
}

} // namespace

void recover(agent_actor* self) {
  auto& d = self->state;
  if (!d.opts.checkpoint) {
    schedule_leftover_sandboxes(self);
    connect(self);
    return;
  }
  auto dir = (std::filesystem::path{d.opts.work_dir} / "meta").string();
  auto store = agent_store::open(dir, d.opts.open_store);
  if (!store) {
    log::error("agent_checkpoint_unusable", {{"reason", describe(store.error())}});
    self->quit(store.error());
    return;
  }
  d.store = std::move(*store);
  auto cp = d.store->load();
  if (d.opts.recover == "cleanup") {
    recover_cleanup(self, cp);
    return;
  }
  if (!cp) {
    log::error("agent_checkpoint_unusable",
               {{"reason", describe(cp.error())},
                {"hint", "start with --recover=cleanup to discard it"}});
    self->quit(cp.error());
    return;
  }
  d.agent_id = cp->agent_id;
  d.max_epoch = cp->master_epoch;
  recover_tasks(self, *cp);
  recover_executors(self, *cp);
  // Tasks whose executor is not in the checkpoint at all (the agent died
  // between the two writes) cannot be running.
  for (auto& [key, t] : d.tasks)
    if (!is_terminal(t.state) && d.executors.count({key.first, t.executor_id}) == 0)
      agent_status(self, key.first, key.second, t.executor_id, schema::TaskState::FAILED,
                   "REASON_EXECUTOR_TERMINATED", "executor not found after agent restart");
  d.opts.containers->destroy_unknown();
  d.recovering = true;
  bool waiting = false;
  for (auto& [key, ex] : d.executors)
    waiting = waiting || ex.st == executor_rec::state::recovering;
  if (!waiting) {
    finish_recovery(self);
    return;
  }
  self->delayed_send(self, d.opts.executor_reregister_timeout, recover_atom::value);
}

} // namespace caldera::agent_detail
