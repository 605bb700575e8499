#include "agent/agent.hpp"

#include <filesystem>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/resources.hpp"
#include "agent/agent_impl.hpp"
#include "actors/node_actor.hpp"

namespace caldera {

namespace agent_detail {

void send_head(agent_actor* self, const key_t& key) {
  auto& d = self->state;
  auto i = d.updates.find(key);
  if (i == d.updates.end() || i->second.q.empty())
    return;
  if (d.ph != phase::registered || !d.master)
    return; // resent on registration
  if (d.dirty.count(key) > 0)
    return; // not in the checkpoint yet: sent once it is (flush_checkpoint)
  auto& [uuid, m] = i->second.q.front();
  i->second.sent.insert(uuid);
  to_master(self, m);
  auto wait = d.opts.runtime->buggify("agent/update-retry-early")
                ? caf::timespan{std::chrono::milliseconds(10)}
                : i->second.backoff;
  self->delayed_send(self, wait, retry_atom::value, key.first, key.second, uuid);
}

void enqueue_update(agent_actor* self, const status_info& st) {
  auto& d = self->state;
  key_t key{st.framework_id, st.task_id};
  auto& uq = d.updates[key];
  uq.q.emplace_back(st.uuid, make_status_update(st));
  checkpoint_task(self, key);
  if (uq.q.size() == 1)
    send_head(self, key);
}

// Writes what the agent knows of a task (and its unacknowledged updates) to
// the checkpoint, or forgets it when nothing is left.

void agent_status(agent_actor* self, const std::string& fid, const std::string& tid,
                  const std::string& eid, schema::TaskState state,
                  std::string reason, std::string message,
                  std::optional<int> exit_code, schema::StatusSource source) {
  auto& d = self->state;
  status_info st;
  st.task_id = tid;
  st.state = state;
  st.reason = std::move(reason);
  st.message = std::move(message);
  st.source = source;
  st.framework_id = fid;
  st.agent_id = d.agent_id;
  st.executor_id = eid;
  st.timestamp = wall_now(self);
  st.uuid = d.ids.uuid();
  st.exit_code = exit_code;
  if (auto t = d.tasks.find({fid, tid}); t != d.tasks.end())
    t->second.state = state;
  log::info("task_status", {{"framework_id", fid}, {"task_id", tid},
                            {"state", state_name(state)}, {"message", st.message}});
  enqueue_update(self, st);
}

namespace {

// Checkpoints a launched executor's container and sandbox (when the agent
// checkpoints).
void checkpoint_executor(agent_actor* self, const std::string& fid, const std::string& eid,
                         const std::string& container_id, const std::string& sandbox,
                         const std::string& token, bool command_task) {
  auto& d = self->state;
  if (d.store) {
    auto cp = make<schema::CheckpointedExecutor>([&](auto b) {
      b.setFrameworkId(fid);
      b.setExecutorId(eid);
      b.setContainerId(container_id);
      b.setSandbox(sandbox);
      b.setToken(token);
      b.setCommandTask(command_task);
    });
    if (auto err = d.store->put_executor(fid, eid, cp)) {
      log::error("checkpoint_failed", {{"executor_id", eid}, {"reason", describe(err)}});
      set_health(self, "the agent cannot write its checkpoint (" + describe(err)
                         + "); it takes no tasks until it can");
      schedule_flush(self);
    }
  }
}

// What Mesos' agent gives an executor (executorEnvironment), so that an
// executor written against Mesos' v1 Executor HTTP API finds this agent's
// /api/v1/executor (MESOS_AGENT_ENDPOINT: its HTTP API) and knows itself.
void add_mesos_env(std::map<std::string, std::string>& env, const agent_options& o,
                   const std::string& agent_id, const std::string& fid,
                   const std::string& eid, const std::string& sandbox) {
  auto seconds = [](caf::timespan t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t).count()) + "secs";
  };
  env["MESOS_FRAMEWORK_ID"] = fid;
  env["MESOS_EXECUTOR_ID"] = eid;
  env["MESOS_AGENT_ID"] = agent_id;
  env["MESOS_SLAVE_ID"] = agent_id;
  env["MESOS_DIRECTORY"] = sandbox;
  env["MESOS_SANDBOX"] = sandbox;
  env["MESOS_CHECKPOINT"] = "1";
  env["MESOS_RECOVERY_TIMEOUT"] = "15mins";
  env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs";
  env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = seconds(o.executor_shutdown_grace);
  env["MESOS_HTTP_COMMAND_EXECUTOR"] = "0";
  if (!o.http_endpoint.empty())
    env["MESOS_AGENT_ENDPOINT"] = o.http_endpoint;
}

// What a new executor's container runs as, where, with which limits and
// environment.
container_spec executor_spec(agent_actor* self, schema::TaskInfo::Reader t,
                             const std::string& fid, const std::string& eid,
                             const std::string& user, const std::string& sandbox,
                             const resources& own) {
  auto& d = self->state;
  container_spec spec;
  spec.framework_id = fid;
  spec.executor_id = eid;
  spec.user = user;
  // The limits of its first task and the executor's own resources.
  {
    resources total = own;
    if (auto task = resources::from_capnp(t.getResources()))
      total += *task;
    spec.limits = to_limits(total);
  }
  spec.command = t.getExecutor().getCommand().getShell();
  spec.sandbox = sandbox;
  spec.agent = caf::actor_cast<caf::actor>(self);
  spec.runtime = d.opts.runtime;
  spec.node_name = d.opts.node_name + "/exec/" + fid + "/" + eid;
  spec.env = d.opts.executor_env;
  spec.env["CALDERA_AGENT_ENDPOINT"] = d.opts.executor_endpoint;
  spec.env["CALDERA_AGENT_ID"] = d.agent_id;
  spec.env["CALDERA_FRAMEWORK_ID"] = fid;
  spec.env["CALDERA_EXECUTOR_ID"] = eid;
  spec.env["CALDERA_SANDBOX_DIRECTORY"] = spec.sandbox;
  add_mesos_env(spec.env, d.opts, d.agent_id, fid, eid, spec.sandbox);
  return spec;
}

// Launches the executor of a task's first launch (its sandbox, container and
// checkpoint), the task queued until the executor registers; or fails the task.
void start_executor(agent_actor* self, const run_task_msg& m, schema::TaskInfo::Reader t,
                    const std::string& fid, const std::string& tid, const std::string& eid) {
  auto& d = self->state;
  namespace fs = std::filesystem;
  std::error_code ec;
  auto sandbox = fs::absolute(fs::path{d.opts.work_dir} / "sandboxes" / fid / eid, ec);
  fs::create_directories(sandbox, ec);
  if (ec) {
    agent_status(self, fid, tid, eid, schema::TaskState::FAILED,
                 "REASON_CONTAINER_LAUNCH_FAILED",
                 "cannot create sandbox '" + sandbox.string() + "': " + ec.message());
    return;
  }
  auto user = task_user(self, m);
  if (!user) {
    agent_status(self, fid, tid, eid, schema::TaskState::FAILED,
                 "REASON_CONTAINER_LAUNCH_FAILED", error_message(user.error()));
    return;
  }
  if (d.gc)
    d.gc->unschedule(sandbox.string());
  auto own = executor_own(m);
  auto spec = executor_spec(self, t, fid, eid, *user, sandbox.string(), own);
  bool direct = runs_directly(self, t);
  // Only the process launched here learns it: an impostor that reaches the
  // agent's port cannot register as this executor and receive its tasks.
  auto token = direct ? std::string{} : make_nonce(*d.opts.runtime);
  if (direct) {
    spec.command = direct_command(t.getCommand().getShell());
    // What the command executor's environment gave the task (not the
    // executor's own: its endpoint, token and TLS files).
    spec.env = {{"CALDERA_SANDBOX_DIRECTORY", spec.sandbox}, {"CALDERA_AGENT_ID", d.agent_id},
                {"CALDERA_FRAMEWORK_ID", fid}, {"CALDERA_EXECUTOR_ID", eid},
                {"CALDERA_TASK_ID", tid}};
    for (auto e : t.getCommand().getEnvironment())
      spec.env[e.getName()] = e.getValue();
  } else {
    spec.env["CALDERA_EXECUTOR_TOKEN"] = token;
    spec.env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"] = token; // v1: "Authorization: Bearer"
  }
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto launched = d.opts.containers->launch(spec, [me, fid, eid](int status) {
    caf::send_as(me, me, exited_atom::value, fid, eid, status);
  });
  if (!launched) {
    agent_status(self, fid, tid, eid, schema::TaskState::FAILED,
                 "REASON_CONTAINER_LAUNCH_FAILED", error_message(launched.error()));
    return;
  }
  log::info("executor_launched", {{"framework_id", fid}, {"executor_id", eid},
                                  {"container", *launched}});
  auto& rec = d.executors[{fid, eid}];
  rec.container_id = *launched;
  rec.sandbox = spec.sandbox;
  rec.own = std::move(own);
  // A command task carries its own command; a framework's executor runs its tasks.
  rec.command_executor = t.hasCommand() && t.getCommand().getShell().size() > 0;
  rec.direct = direct;
  rec.token = token;
  checkpoint_executor(self, fid, eid, *launched, spec.sandbox, token, direct);
  rec.tasks.insert(tid);
  if (direct) {
    rec.st = executor_rec::state::running;
    direct_started(self, fid, tid, eid);
    return;
  }
  rec.queued.push_back(m);
  self->delayed_send(self, d.opts.executor_registration_timeout,
                     registration_timeout_atom::value, fid, eid, *launched);
}

} // namespace

// Launches a task the master sent: on its executor (started first when this
// is its first task, queued while it has not registered).
void launch_on_executor(agent_actor* self, const run_task_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  auto t = v->getTask();
  std::string fid = v->getFramework().getId();
  std::string tid = t.getTaskId();
  std::string eid = t.getExecutor().getExecutorId();
  if (fid.empty() || tid.empty() || eid.empty()) {
    log::warn("run_task_refused", {{"reason", "missing framework, task or executor id"}});
    return;
  }
  if (d.tasks.count({fid, tid}) > 0 || d.updates.count({fid, tid}) > 0
      || d.forgotten.count({fid, tid}) > 0)
    return; // a duplicate, or the master's resend of a task this agent has (or ended
            // and still reports: its final update is not acknowledged yet)
  d.tasks[{fid, tid}] = task_rec{eid, schema::TaskState::STAGING, t.getName(),
                                 v->getRole(), m};
  d.framework_users[fid] = v->getFramework().getUser(); // for the view ACLs
  if (auto err = checkpoint_task(self, {fid, tid})) {
    // A task the agent cannot checkpoint would be lost by a restart: it is
    // not started, and its framework learns why.
    agent_status(self, fid, tid, eid, schema::TaskState::FAILED, "REASON_CONTAINER_LAUNCH_FAILED",
                 "the agent cannot checkpoint the task (" + describe(err)
                   + "): not started; free space under the agent's work dir");
    // Never started: its framework may hear so before the disk is back.
    d.dirty.erase({fid, tid});
    send_head(self, {fid, tid});
    return;
  }
  if (d.shutting_down) {
    agent_status(self, fid, tid, eid, schema::TaskState::LOST,
                 "REASON_AGENT_RESTARTED", "agent is shutting down");
    return;
  }
  key_t ekey{fid, eid};
  auto ex = d.executors.find(ekey);
  if (ex == d.executors.end()) {
    start_executor(self, m, t, fid, tid, eid);
    return;
  }
  ex->second.tasks.insert(tid);
  d.opts.containers->update(ex->second.container_id, limits_of(self, ekey));
  if (ex->second.st == executor_rec::state::running && ex->second.handle)
    self->send(ex->second.handle, m);
  else
    ex->second.queued.push_back(m);
}

void executor_exited(agent_actor* self, const std::string& fid, const std::string& eid,
                     int status) {
  auto& d = self->state;
  auto ex = d.executors.find({fid, eid});
  if (ex == d.executors.end())
    return;
  // Ended by a limit? (Logged here when only the exit showed it.)
  auto limited = container_limited(self, {fid, eid});
  auto rec = std::move(ex->second);
  d.executors.erase(ex);
  if (d.gc)
    d.gc->schedule(rec.sandbox, gc_now(self));
  d.completed_executors.push_back(executor_json(self, {fid, eid}, rec.sandbox, true));
  while (d.completed_executors.size() > 100)
    d.completed_executors.pop_front();
  d.completed_tasks.erase({fid, eid});
  if (d.store)
    if (auto err = d.store->remove_executor(fid, eid))
      log::error("checkpoint_failed", {{"executor_id", eid}, {"reason", describe(err)}});
  auto why = d.opts.containers->name() == std::string{"posix"} || status == unknown_exit_status
               ? describe_wait_status(status)
               : std::string{status == 0 ? "executor actor ended" : "executor actor failed"};
  log::info("executor_exited", {{"framework_id", fid}, {"executor_id", eid},
                                {"status", why}});
  if (rec.direct && !limited)
    direct_exited(self, fid, eid, rec, status);
  for (auto& tid : rec.tasks) {
    auto t = d.tasks.find({fid, tid});
    if (t == d.tasks.end() || is_terminal(t->second.state))
      continue;
    if (limited)
      agent_status(self, fid, tid, eid, schema::TaskState::FAILED, limited->reason,
                   limited->message);
    else if (rec.reregister_timed_out)
      agent_status(self, fid, tid, eid, schema::TaskState::FAILED,
                   "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
                   "executor did not re-register with the restarted agent; destroyed");
    else if (rec.registration_timed_out)
      agent_status(self, fid, tid, eid, schema::TaskState::FAILED,
                   "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
                   "executor did not register in time; destroyed");
    else
      agent_status(self, fid, tid, eid, schema::TaskState::FAILED,
                   "REASON_EXECUTOR_TERMINATED",
                   rec.st == executor_rec::state::launching
                     ? "executor ended before registering: " + why
                   : rec.st == executor_rec::state::recovering
                     ? "executor ended while the agent was down: " + why
                     : "executor ended: " + why);
  }
  // Frameworks hear of their own executors ending, not of the command
  // executor that ran one command task (Mesos does not call executorLost
  // for those; their tasks' terminal states say everything).
  if (d.ph == phase::registered && !rec.command_executor)
    to_master(self, make<schema::ExecutorLost>([&](auto b) {
                 b.setFrameworkId(fid);
                 b.setAgentId(d.agent_id);
                 b.setExecutorId(eid);
                 b.setStatus(status);
               }));
}

namespace {

// The master or an executor went away: forget its handle (the master's: reconnect).
void on_down(agent_actor* self, const caf::down_msg& dm) {
  auto& d = self->state;
  if (d.master && dm.source == d.master.address()) {
    log::warn("master_disconnected", {{"agent_id", d.agent_id}});
    d.master = nullptr;
    d.ph = phase::connecting;
    reconnect_soon(self);
    return;
  }
  for (auto& [key, rec] : d.executors)
    if (rec.handle && rec.handle.address() == dm.source) {
      log::debug("executor_disconnected", {{"executor_id", key.second}});
      rec.handle = nullptr;
    }
}

// Starts the agent on its executor endpoint: the GC, the periodic checks, recovery.
void on_start(agent_actor* self, const std::string& endpoint) {
  if (self->state.ph != phase::idle)
    return;
  self->state.opts.executor_endpoint = endpoint;
  if (self->state.opts.publish)
    self->send(self, publish_atom::value);
  self->state.gc = std::make_unique<sandbox_gc>(self->state.opts.gc_delay,
                                                self->state.opts.gc_disk_headroom);
  self->state.last_disk_watch = self->state.opts.runtime->now();
  self->send(self, isolate_atom::value);
  self->delayed_send(self, self->state.opts.executor_launch_retry, launch_retry_atom::value);
  recover(self);
}

// Stops every executor's container and ends the agent.
// The agent process is stopping: its containers destroyed first, or (with
// `keep_tasks`) left running for the next agent on this work dir, the
// checkpoint written out.
void on_shutdown(agent_actor* self, bool keep_tasks) {
  auto& d = self->state;
  d.shutting_down = true;
  if (keep_tasks)
    flush_checkpoint(self);
  else
    for (auto& [key, rec] : d.executors)
      d.opts.containers->destroy(rec.container_id);
  log::info("agent_shutdown", {{"agent_id", d.agent_id},
                               {"executors", d.executors.size()},
                               {"containers", keep_tasks ? "kept" : "destroyed"}});
  self->quit();
}

// Checks every container's limits, and again after the isolation interval.
void on_isolate_timer(agent_actor* self) {
  check_containers(self);
  self->delayed_send(self, self->state.opts.isolation_check_interval,
                     isolate_atom::value);
}

// Rebuilds the HTTP API's view, and again in half a second.
void on_publish_timer(agent_actor* self) {
  publish_view(self);
  self->delayed_send(self, std::chrono::milliseconds(500), publish_atom::value);
}

// The executor re-registration timeout after a restart: ends recovery.
void on_recover_timeout(agent_actor* self) {
  // Executors that did not re-register in time are destroyed; their
  // tasks fail when the container's exit is seen.
  auto& d = self->state;
  for (auto& [key, ex] : d.executors)
    if (ex.st == executor_rec::state::recovering) {
      log::warn("executor_reregister_timeout", {{"framework_id", key.first},
                                               {"executor_id", key.second}});
      ex.reregister_timed_out = true;
      d.opts.containers->destroy(ex.container_id);
    }
  finish_recovery(self);
}

// A new executor did not register within executor_registration_timeout (its
// registration lost, or it hangs): destroyed; its tasks fail when the
// container's exit is seen.
void on_registration_timeout(agent_actor* self, const std::string& fid, const std::string& eid,
                             const std::string& container) {
  auto& d = self->state;
  auto ex = d.executors.find({fid, eid});
  if (ex == d.executors.end() || ex->second.container_id != container
      || ex->second.st != executor_rec::state::launching)
    return;
  log::warn("executor_registration_timeout", {{"framework_id", fid}, {"executor_id", eid}});
  ex->second.registration_timed_out = true;
  d.opts.containers->destroy(container);
}

// Tasks still TASK_STAGING a whole round after their launch could reach
// their registered executor are sent to it again: a launch lost on a silent
// agent-executor link (seed 3079), or queued when an earlier agent ended
// (seed 9201: the checkpoint keeps the task, not the queue). The executor
// ignores tasks it has, and resends the updates the agent then lacks.
void on_launch_retry_timer(agent_actor* self) {
  auto& d = self->state;
  for (auto& [key, t] : d.tasks) {
    if (t.state != schema::TaskState::STAGING)
      continue;
    auto ex = d.executors.find({key.first, t.executor_id});
    if (ex == d.executors.end() || ex->second.st != executor_rec::state::running
        || !ex->second.handle || ++t.launch_rounds < 2)
      continue;
    log::debug("task_launch_resent", {{"framework_id", key.first}, {"task_id", key.second}});
    self->send(ex->second.handle, t.launch);
  }
  self->delayed_send(self, d.opts.executor_launch_retry, launch_retry_atom::value);
}

// A reconnection attempt: registers with the master, or connects to one first.
void on_reconnect_timer(agent_actor* self) {
  auto& d = self->state;
  d.reconnect_pending = false;
  if (d.ph == phase::registered || d.ph == phase::registering)
    return;
  if (d.master)
    do_register(self);
  else
    connect(self);
}

// Resends a status update the master has not acknowledged (with a longer backoff).
void on_update_retry(agent_actor* self, const std::string& fid, const std::string& tid,
                     const std::string& uuid) {
  auto& d = self->state;
  auto i = d.updates.find({fid, tid});
  if (i == d.updates.end() || i->second.q.empty() || i->second.q.front().first != uuid)
    return;
  i->second.backoff = std::min<caf::timespan>(i->second.backoff * 2, max_update_backoff);
  log::debug("status_update_retry", {{"task_id", tid}, {"uuid", uuid}});
  send_head(self, {fid, tid});
}

// The shutdown grace passed: destroys the executor's container if it still runs.
void on_destroy_timer(agent_actor* self, const std::string& fid, const std::string& eid,
                      const std::string& container) {
  auto& d = self->state;
  auto ex = d.executors.find({fid, eid});
  if (ex != d.executors.end() && ex->second.container_id == container)
    d.opts.containers->destroy(container);
}

// An executor (new, or left by an earlier agent) registers: sends it its queued tasks.
void handle_register_executor(agent_actor* self, const register_executor_msg& m) {
  guarded("RegisterExecutor", [&] {
    auto& d = self->state;
    auto v = m.read();
    key_t key{v->getFrameworkId(), v->getExecutorId()};
    auto sender = caf::actor_cast<caf::actor>(self->current_sender());
    auto ex = d.executors.find(key);
    if (ex == d.executors.end() || !sender) {
      log::warn("unknown_executor", {{"framework_id", key.first},
                                     {"executor_id", key.second}});
      if (sender)
        self->send(sender, make<schema::ShutdownExecutor>([](auto b) {
                     b.setReason("unknown executor");
                   }));
      return;
    }
    auto& rec = ex->second;
    if (!rec.token.empty() && !constant_time_equal(rec.token, v->getToken())) {
      refusal("executor_token", errc::unauthenticated,
              "executor " + key.second + " of framework " + key.first
                + " registered without the token it was launched with");
      self->send(sender, make<schema::ShutdownExecutor>([](auto b) {
                   b.setReason("not the executor this agent launched");
                 }));
      return;
    }
    if (rec.st == executor_rec::state::recovering)
      log::info("executor_reregistered", {{"framework_id", key.first},
                                          {"executor_id", key.second}});
    rec.handle = sender;
    if (sender.node() == self->node())
      node_register(d.opts.node, "executor/" + key.first + "/" + key.second, sender);
    rec.st = executor_rec::state::running;
    self->monitor(sender);
    self->send(sender, make<schema::ExecutorRegistered>([&](auto b) {
                 b.setAgentId(d.agent_id);
                 b.setHostname(d.opts.hostname);
                 auto e = b.initExecutor();
                 e.setExecutorId(key.second);
                 e.setFrameworkId(key.first);
               }));
    for (auto& q : rec.queued)
      self->send(sender, q);
    rec.queued.clear();
    log::debug("executor_registered", {{"executor_id", key.second}});
    if (d.recovering) {
      bool waiting = false;
      for (auto& [k, e] : d.executors)
        waiting = waiting || e.st == executor_rec::state::recovering;
      if (!waiting)
        finish_recovery(self);
    }
  });
}

// A task's status from its executor: acknowledged, and queued for the master.
void handle_status_update(agent_actor* self, const status_update_msg& m) {
  guarded("StatusUpdate", [&] {
    auto& d = self->state;
    auto st = status_info::from_capnp(m.read()->getStatus());
    auto sender = caf::actor_cast<caf::actor>(self->current_sender());
    auto ex = d.executors.find({st.framework_id, st.executor_id});
    if (ex == d.executors.end() || ex->second.handle != sender) {
      log::warn("status_from_unknown_executor", {{"task_id", st.task_id}});
      return;
    }
    auto t = d.tasks.find({st.framework_id, st.task_id});
    if (t == d.tasks.end() || is_terminal(t->second.state)) {
      // Already final (or never here): acknowledge so the executor stops
      // resending, but do not forward a second terminal state.
      if (sender && !st.uuid.empty())
        self->send(sender, make<schema::Acknowledge>([&](auto b) {
                     b.setFrameworkId(st.framework_id);
                     b.setTaskId(st.task_id);
                     b.setUuid(st.uuid);
                   }));
      return;
    }
    if (is_terminal(st.state)) {
      // A task the kernel killed for its container's memory (or that
      // ended as its container was destroyed for a limit) fails with
      // the limitation's reason, whatever the executor saw.
      if (auto l = container_limited(self, ex->first)) {
        st.state = schema::TaskState::FAILED;
        st.reason = l->reason;
        st.message = l->message;
      }
    }
    t->second.state = st.state;
    st.agent_id = d.agent_id;
    if (st.uuid.empty())
      st.uuid = d.ids.uuid();
    if (is_terminal(st.state)) {
      ex->second.tasks.erase(st.task_id);
      d.opts.containers->update(ex->second.container_id, limits_of(self, ex->first));
    }
    log::debug("task_status", {{"task_id", st.task_id}, {"state", state_name(st.state)}});
    enqueue_update(self, st);
    self->send(sender, make<schema::Acknowledge>([&](auto b) {
                 b.setFrameworkId(st.framework_id);
                 b.setAgentId(d.agent_id);
                 b.setTaskId(st.task_id);
                 b.setUuid(st.uuid);
               }));
  });
}

// A framework message from an executor, forwarded to the master with this agent's id.
void handle_executor_message(agent_actor* self, const executor_message_msg& m) {
  guarded("ExecutorMessage", [&] {
    auto& d = self->state;
    if (!d.master)
      return;
    auto v = m.read();
    if (std::string{v->getAgentId().cStr()} == d.agent_id) {
      to_master(self, m);
      return;
    }
    capnp::MallocMessageBuilder mb;
    mb.setRoot(v.get());
    mb.getRoot<schema::ExecutorMessage>().setAgentId(d.agent_id);
    to_master(self, executor_message_msg{mb});
  });
}

// A task to launch, on a new executor or a running one.
void handle_run_task(agent_actor* self, const run_task_msg& m) {
  guarded("RunTask", [&] { launch_on_executor(self, m); });
}

// Remembers that task `key` ended here, so that a late launch of it is
// ignored (the last 10,000).
void forget_task(agent_actor* self, const key_t& key) {
  auto& d = self->state;
  if (!d.forgotten.insert(key).second)
    return;
  d.forgotten_order.push_back(key);
  if (d.forgotten_order.size() > 10'000) {
    d.forgotten.erase(d.forgotten_order.front());
    d.forgotten_order.pop_front();
  }
}

// The master acknowledges a status update: sends the next one or forgets the task.
void handle_acknowledge(agent_actor* self, const acknowledge_msg& m) {
  guarded("Acknowledge", [&] {
    auto& d = self->state;
    auto v = m.read();
    key_t key{v->getFrameworkId(), v->getTaskId()};
    auto i = d.updates.find(key);
    if (i == d.updates.end() || i->second.q.empty()
        || i->second.q.front().first != std::string{v->getUuid().cStr()})
      return; // stale or duplicate
    if (i->second.sent.erase(i->second.q.front().first) == 0)
      log::error("status_update_acknowledged_unsent",
                 {{"task_id", key.second}, {"uuid", i->second.q.front().first}});
    i->second.q.pop_front();
    i->second.backoff = std::chrono::seconds(10);
    if (!i->second.q.empty()) {
      checkpoint_task(self, key);
      send_head(self, key);
      return;
    }
    d.updates.erase(i);
    auto t = d.tasks.find(key);
    if (t != d.tasks.end() && is_terminal(t->second.state)) {
      remember_task(self, key, t->second);
      d.tasks.erase(t);
      forget_task(self, key);
    }
    checkpoint_task(self, key);
  });
}

// Kills a task (or forgets one its framework was told is gone).
void handle_kill(agent_actor* self, const kill_msg& m) {
  guarded("Kill", [&] {
    auto& d = self->state;
    auto v = m.read();
    std::string fid = v->getFrameworkId();
    std::string tid = v->getTaskId();
    auto t = d.tasks.find({fid, tid});
    if (v->getGone()) {
      // The framework was told this task is lost: stop it and say
      // nothing more about it.
      d.updates.erase({fid, tid});
      if (t != d.tasks.end()) {
        auto ex = d.executors.find({fid, t->second.executor_id});
        bool active = !is_terminal(t->second.state);
        d.tasks.erase(t);
        forget_task(self, {fid, tid});
        if (ex != d.executors.end()) {
          ex->second.tasks.erase(tid);
          if (active && ex->second.direct)
            d.opts.containers->destroy(ex->second.container_id);
          else if (active && ex->second.handle)
            self->send(ex->second.handle, make<schema::Kill>([&](auto b) {
                         b.setFrameworkId(fid);
                         b.setTaskId(tid);
                       }));
        }
      }
      checkpoint_task(self, {fid, tid});
      log::info("task_gone", {{"framework_id", fid}, {"task_id", tid}});
      return;
    }
    if (t == d.tasks.end()) {
      agent_status(self, fid, tid, "", schema::TaskState::LOST,
                   "REASON_RECONCILIATION", "task is unknown to the agent");
      return;
    }
    if (is_terminal(t->second.state))
      return;
    auto ex = d.executors.find({fid, t->second.executor_id});
    if (ex == d.executors.end())
      return;
    auto& rec = ex->second;
    if (rec.direct) {
      direct_kill(self, fid, tid, t->second.executor_id, rec);
      return;
    }
    if (rec.st == executor_rec::state::launching || !rec.handle) {
      auto& q = rec.queued;
      for (auto i = q.begin(); i != q.end(); ++i)
        if (std::string{i->read()->getTask().getTaskId().cStr()} == tid) {
          q.erase(i);
          break;
        }
      rec.tasks.erase(tid);
      agent_status(self, fid, tid, t->second.executor_id, schema::TaskState::KILLED,
                   "REASON_TASK_KILLED_DURING_LAUNCH", "killed before it started");
      if (rec.tasks.empty())
        d.opts.containers->destroy(rec.container_id);
      return;
    }
    self->send(rec.handle, m);
  });
}

// Kills a torn-down framework's queued tasks and shuts its executors down.
void handle_shutdown_framework(agent_actor* self, const shutdown_framework_msg& m) {
  guarded("ShutdownFramework", [&] {
    auto& d = self->state;
    std::string fid = m.read()->getFrameworkId();
    std::string only = m.read()->getExecutorId();
    const char* why = only.empty() ? "framework torn down" : "executor shut down by its framework";
    for (auto& [key, rec] : d.executors) {
      if (key.first != fid || (!only.empty() && key.second != only))
        continue;
      for (auto& q : rec.queued) {
        std::string tid = q.read()->getTask().getTaskId();
        rec.tasks.erase(tid);
        agent_status(self, fid, tid, key.second, schema::TaskState::KILLED,
                     only.empty() ? "REASON_FRAMEWORK_REMOVED" : "REASON_EXECUTOR_TERMINATED",
                     why);
      }
      rec.queued.clear();
      if (rec.direct) {
        rec.killing = true;
        d.opts.containers->terminate(rec.container_id);
      }
      if (rec.handle)
        self->send(rec.handle, make<schema::ShutdownExecutor>([why](auto b) {
                     b.setReason(why);
                   }));
      self->delayed_send(self, d.opts.executor_shutdown_grace, destroy_atom::value,
                         key.first, key.second, rec.container_id);
    }
  });
}

// A framework message for one of its executors, forwarded if it runs.
void handle_scheduler_message(agent_actor* self, const scheduler_message_msg& m) {
  guarded("SchedulerMessage", [&] {
    auto& d = self->state;
    auto v = m.read();
    auto ex = d.executors.find({v->getFrameworkId(), v->getExecutorId()});
    if (ex != d.executors.end() && ex->second.handle)
      self->send(ex->second.handle, m);
  });
}

// In-process: a new master to talk to (a restarted one); connects unless idle.
void on_new_master(agent_actor* self, const caf::actor& m) {
  auto& d = self->state;
  d.opts.master = m;
  if (!d.master && d.ph != phase::idle)
    connect(self);
}

// The master sees this agent reachable again: registers anew with what it runs.
void on_reregister(agent_actor* self) {
  auto& d = self->state;
  if (d.master && d.ph == phase::registered)
    do_register(self);
}

// A handler for `T` that only the master this agent registered with is
// heard on (see from_master).
template <class T, class F>
auto master_only(agent_actor* self, const char* what, F handle) {
  return [=](const T& m) {
    if (from_master(self, what))
      handle(self, m);
  };
}

// A handler for a message only the agent's own process sends (its timers,
// its threads, its daemon): from anyone else it is dropped (from_itself).
template <class F, class... Ts>
void own(agent_actor* self, const char* what, F f, const Ts&... xs) {
  if (from_itself(self, what))
    f(self, xs...);
}

void disk_report(agent_actor* self, const std::string& container_id, const std::string& reason,
                 const std::string& message) {
  disk_limited(self, container_id, limitation{reason, message});
}

void disk_round_done(agent_actor* self) {
  self->state.disk_watch_busy = false;
}

// Sets the agent up; its handlers, by conversation, call the functions above.
caf::behavior agent_behavior(agent_actor* self, agent_options opts) {
  self->state.opts = std::move(opts);
  self->state.auth = peer_auth{self->state.opts.operators};
  self->state.ids = id_generator{self->state.opts.runtime->seed_for(self->state.opts.node_name)};
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  return {
    // The master (only the one this agent registered with: as Mesos, orders
    // of another, a deposed leader, are ignored).
    master_only<run_task_msg>(self, "RunTask", handle_run_task),
    master_only<kill_msg>(self, "Kill", handle_kill),
    master_only<acknowledge_msg>(self, "Acknowledge", handle_acknowledge),
    master_only<shutdown_framework_msg>(self, "ShutdownFramework", handle_shutdown_framework),
    master_only<scheduler_message_msg>(self, "SchedulerMessage", handle_scheduler_message),
    master_only<ping_atom>(self, "ping",
                           [](agent_actor* s, ping_atom) { to_master(s, pong_atom::value); }),
    master_only<reregister_atom>(self, "reregister",
                                 [](agent_actor* s, reregister_atom) { on_reregister(s); }),
    [=](connect_atom_t, const caf::actor& m) { own(self, "connect", on_new_master, m); },
    // Executors (and their containers).
    [=](const register_executor_msg& m) { handle_register_executor(self, m); },
    [=](const status_update_msg& m) { handle_status_update(self, m); },
    [=](const executor_message_msg& m) { handle_executor_message(self, m); },
    [=](exited_atom, const std::string& fid, const std::string& eid, int status) {
      own(self, "exited", executor_exited, fid, eid, status);
    },
    // Operators and the daemon.
    [=](start_atom, const std::string& endpoint) { own(self, "start", on_start, endpoint); },
    [=](const get_usage_msg&) -> usage_msg { return usage_of(self); },
    [=](const authenticate_msg& m) {
      return serve_challenge(self, self->state.auth, *self->state.opts.runtime, m);
    },
    [=](const authenticate_proof_msg& m) { return serve_proof(self, self->state.auth, m); },
    [=](const list_actors_msg& m) {
      return list_actors_for(self, self->state.auth, self->state.opts.node, m);
    },
    [=](const kill_actor_msg& m) {
      return kill_actor_for(self, self->state.auth, self->state.opts.node, m);
    },
    [=](shutdown_atom) { own(self, "shutdown", on_shutdown, false); },
    [=](shutdown_atom, bool keep_tasks) { own(self, "shutdown", on_shutdown, keep_tasks); },
    // Timers (and the disk watch's thread): only the agent sends them.
    [=](isolate_atom) { own(self, "isolate", on_isolate_timer); },
    [=](publish_atom) { own(self, "publish", on_publish_timer); },
    [=](flush_atom) { own(self, "flush", flush_checkpoint); },
    [=](recover_atom) { own(self, "recover", on_recover_timeout); },
    [=](launch_retry_atom) { own(self, "launch_retry", on_launch_retry_timer); },
    [=](registration_timeout_atom, const std::string& fid, const std::string& eid,
        const std::string& container) {
      own(self, "registration_timeout", on_registration_timeout, fid, eid, container);
    },
    [=](retry_atom) { own(self, "retry", on_reconnect_timer); },
    [=](retry_atom, const std::string& fid, const std::string& tid, const std::string& uuid) {
      own(self, "retry", on_update_retry, fid, tid, uuid);
    },
    [=](destroy_atom, const std::string& fid, const std::string& eid,
        const std::string& container) {
      own(self, "destroy", on_destroy_timer, fid, eid, container);
    },
    [=](disk_atom, const std::string& container_id, const std::string& reason,
        const std::string& message) {
      own(self, "disk", disk_report, container_id, reason, message);
    },
    [=](disk_atom) { own(self, "disk", disk_round_done); },
  };
}

} // namespace

caf::behavior agent_actor::make_behavior() {
  harden(this);
  return agent_behavior(this, std::move(opts_));
}

} // namespace agent_detail

caf::actor spawn_agent(caf::actor_system& sys, agent_options opts) {
  using agent_detail::agent_actor;
  return sys.spawn<agent_actor>(std::move(opts));
}

} // namespace caldera
