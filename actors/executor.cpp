#include "actors/executor.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/system_messages.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"

namespace caldera {

namespace {
using recover_timeout_atom = caf::atom_constant<caf::atom("rectimeout")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using resend_atom = caf::atom_constant<caf::atom("resend")>;
} // namespace

caf::expected<executor_options> executor_options::from_env() {
  executor_options o;
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0')
      return std::nullopt;
    return std::string{v};
  };
  auto ep = get("CALDERA_AGENT_ENDPOINT");
  if (!ep)
    return make_error(errc::invalid_config, "CALDERA_AGENT_ENDPOINT is not set");
  auto parsed = parse_endpoint(*ep);
  if (!parsed)
    return make_error(errc::invalid_config,
                      "CALDERA_AGENT_ENDPOINT: " + describe(parsed.error()));
  o.agent_endpoint = *parsed;
  auto fid = get("CALDERA_FRAMEWORK_ID");
  auto eid = get("CALDERA_EXECUTOR_ID");
  if (!fid)
    return make_error(errc::invalid_config, "CALDERA_FRAMEWORK_ID is not set");
  if (!eid)
    return make_error(errc::invalid_config, "CALDERA_EXECUTOR_ID is not set");
  o.framework_id = *fid;
  o.executor_id = *eid;
  o.sandbox = get("CALDERA_SANDBOX_DIRECTORY").value_or(".");
  o.token = get("CALDERA_EXECUTOR_TOKEN").value_or("");
  if (auto rt = get("CALDERA_RECOVERY_TIMEOUT")) {
    char* end = nullptr;
    double secs = std::strtod(rt->c_str(), &end);
    if (end == rt->c_str() || *end != '\0' || secs < 0)
      return make_error(errc::invalid_config,
                        "CALDERA_RECOVERY_TIMEOUT: '" + *rt
                          + "' is not a number of seconds");
    o.recovery_timeout = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(secs));
  }
  return o;
}

executor::executor(caf::actor_config& cfg, executor_options opts)
  : linked<caf::event_based_actor>(cfg), opts_(std::move(opts)) {
  if (!opts_.runtime)
    opts_.runtime = real_env();
  join_links(opts_.runtime->links(), opts_.node_name);
  ids_ = id_generator{opts_.runtime->seed_for(opts_.node_name)};
}

void executor::registered(const std::string&, const std::string&) {
}
void executor::reregistered(const std::string&) {
}
void executor::disconnected() {
}
void executor::kill_task(const std::string& task_id) {
  send_status(task_id, schema::TaskState::KILLED, "killed");
}
void executor::framework_message(const std::string&) {
}
void executor::shutdown() {
  std::vector<std::string> ids;
  for (auto& [id, _] : tasks_)
    ids.push_back(id);
  for (auto& id : ids)
    kill_task(id);
  finish();
}
void executor::error(const std::string& message) {
  log::warn("executor_error", {{"executor_id", opts_.executor_id}, {"message", message}});
}
caf::message_handler executor::extra_handlers() {
  return {};
}

void executor::connect() {
  if (opts_.agent) {
    on_connected(opts_.agent);
    return;
  }
  connect_async(
    this, *opts_.agent_endpoint, [this](caf::actor a) { on_connected(std::move(a)); },
    [this](const caf::error& err) {
      log::debug("agent_connect_failed", {{"reason", describe(err)}});
      delayed_send(this, std::chrono::seconds(1), retry_atom::value);
    });
}

void executor::on_connected(caf::actor a) {
  agent_ = std::move(a);
  monitor(agent_);
  awaiting_registration_ = true;
  send_registration(++registration_epoch_);
}

// Registers with the agent, and again every few seconds until it answers: a
// registration (or its answer) lost on a silent link left the executor, and
// the tasks queued for it, waiting for ever (seeds 6381, 3079).
void executor::send_registration(uint64_t epoch) {
  send(agent_, make<schema::RegisterExecutor>([&](auto b) {
         b.setFrameworkId(opts_.framework_id);
         b.setExecutorId(opts_.executor_id);
         b.setToken(opts_.token);
       }));
  delayed_send(this, std::chrono::seconds(5), register_atom::value, epoch);
}

void executor::on_agent_down() {
  agent_ = nullptr;
  log::warn("agent_disconnected", {{"executor_id", opts_.executor_id}});
  disconnected();
  auto epoch = ++disconnect_epoch_;
  delayed_send(this, opts_.recovery_timeout, recover_timeout_atom::value, epoch);
  if (!opts_.agent)
    delayed_send(this, std::chrono::seconds(1), retry_atom::value);
}

void executor::resend_unacknowledged() {
  for (auto& [uuid, m] : unacked_)
    send(agent_, m);
}

// Starts the resend timer unless it runs.
void executor::schedule_resend() {
  if (resend_pending_)
    return;
  resend_pending_ = true;
  delayed_send(this, opts_.update_retry, resend_atom::value);
}

// Resends the updates the agent has not acknowledged, every update_retry
// while there are any: an update lost on a silent executor-agent link left
// its task TASK_RUNNING for ever, as the agent, seeing it running, asks
// for nothing (seed 1992). The agent acknowledges a task's updates after
// its final one without forwarding them.
void executor::on_resend_timer() {
  resend_pending_ = false;
  if (unacked_.empty())
    return;
  if (agent_ && !awaiting_registration_)
    resend_unacknowledged();
  schedule_resend();
}

void executor::send_status(const std::string& task_id, schema::TaskState state,
                           std::string message, std::optional<int> exit_code,
                           std::string reason) {
  status_info st;
  st.task_id = task_id;
  st.state = state;
  st.message = std::move(message);
  st.reason = std::move(reason);
  st.exit_code = exit_code;
  send_update(std::move(st));
}

void executor::send_update(status_info st) {
  st.source = schema::StatusSource::EXECUTOR;
  st.framework_id = opts_.framework_id;
  st.executor_id = opts_.executor_id;
  st.agent_id = agent_id_;
  if (st.timestamp <= 0)
    st.timestamp = opts_.runtime->wall_seconds();
  if (st.uuid.empty())
    st.uuid = ids_.uuid();
  for (auto& [uuid, old] : unacked_)
    if (uuid == st.uuid)
      return; // already kept (a v1 executor's update sent again)
  auto m = make_status_update(st);
  unacked_.emplace_back(st.uuid, m);
  if (is_terminal(st.state))
    tasks_.erase(st.task_id);
  if (agent_)
    send(agent_, m);
  schedule_resend();
}

void executor::adopt_task(const task_info& task) {
  tasks_[task.task_id] = task;
}

void executor::acknowledged(const std::string&, const std::string&) {
}

bool executor::knows_task(const std::string& task_id) const {
  if (tasks_.count(task_id) > 0)
    return true;
  for (auto& [uuid, m] : unacked_)
    if (task_id == m.read()->getStatus().getTaskId().cStr())
      return true;
  return false;
}

void executor::send_message(const std::string& data) {
  if (!agent_)
    return;
  send(agent_, make<schema::ExecutorMessage>([&](auto b) {
         b.setFrameworkId(opts_.framework_id);
         b.setExecutorId(opts_.executor_id);
         b.setAgentId(agent_id_);
         b.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()),
                                data.size()));
       }));
}

void executor::finish(caf::timespan grace) {
  finishing_ = true;
  delayed_send(this, grace, finish_atom::value);
  maybe_quit();
}

void executor::maybe_quit() {
  if (finishing_ && unacked_.empty())
    quit();
}

// The agent answered the registration: the first time `registered`, after
// a reconnection `reregistered`; what it has not acknowledged goes again.
void executor::on_registered(const executor_registered_msg& m) {
  auto v = m.read();
  agent_id_ = v->getAgentId();
  awaiting_registration_ = false;
  if (!registered_once_) {
    registered_once_ = true;
    registered(agent_id_, v->getHostname());
  } else {
    reregistered(agent_id_);
  }
  resend_unacknowledged();
}

// A task to launch, once: a duplicate, or the agent's resend of a task still
// TASK_STAGING there, only makes the updates the agent lacks go again.
void executor::on_run_task(const run_task_msg& m) {
  auto v = m.read(); // owns what `t` reads
  auto t = v->getTask();
  if (knows_task(t.getTaskId())) {
    log::debug("duplicate_launch", {{"task_id", std::string{t.getTaskId()}}});
    if (agent_)
      resend_unacknowledged();
    return;
  }
  task_info ti;
  ti.task_id = t.getTaskId();
  ti.name = t.getName();
  ti.agent_id = t.getAgentId();
  ti.framework_id = opts_.framework_id;
  ti.executor_id = opts_.executor_id;
  ti.command = t.getCommand().getShell();
  ti.user = t.getCommand().getUser();
  for (auto e : t.getCommand().getEnvironment())
    ti.env[e.getName()] = e.getValue();
  if (auto r = resources::from_capnp(t.getResources()))
    ti.res = std::move(*r);
  auto data = t.getData();
  ti.data.assign(reinterpret_cast<const char*>(data.begin()), data.size());
  ti.kill_grace_period = t.getKillGracePeriod();
  tasks_[ti.task_id] = ti;
  launch_task(ti);
}

// The agent has an update: it is not sent again.
void executor::on_acknowledge(const acknowledge_msg& m) {
  std::string uuid = m.read()->getUuid();
  for (auto i = unacked_.begin(); i != unacked_.end(); ++i)
    if (i->first == uuid) {
      std::string task = i->second.read()->getStatus().getTaskId();
      unacked_.erase(i);
      acknowledged(task, uuid);
      break;
    }
  maybe_quit();
}

// The agent did not come back within the recovery timeout: the executor ends.
void executor::on_recover_timeout(uint64_t epoch) {
  if (agent_ || epoch != disconnect_epoch_)
    return;
  log::warn("agent_recovery_timeout", {{"executor_id", opts_.executor_id}});
  shutdown();
  quit();
}

void executor::on_finish() {
  if (!unacked_.empty())
    log::warn("executor_exit_with_unacknowledged_updates",
              {{"executor_id", opts_.executor_id}, {"count", unacked_.size()}});
  quit();
}

caf::behavior executor::make_behavior() {
  harden(this);
  set_down_handler([this](caf::down_msg& dm) {
    if (agent_ && dm.source == agent_.address())
      on_agent_down();
  });
  connect();
  caf::message_handler base{
    [this](retry_atom) {
      if (!agent_)
        connect();
    },
    [this](connect_atom_t, caf::actor a) {
      // In-process: the agent restarted as a new actor.
      opts_.agent = std::move(a);
      if (!agent_)
        connect();
    },
    [this](register_atom, uint64_t epoch) {
      if (agent_ && awaiting_registration_ && epoch == registration_epoch_)
        send_registration(epoch);
    },
    [this](resend_atom) { on_resend_timer(); },
    [this](deferred_atom, uint64_t id) { deferred_.run(id); },
    [this](recover_timeout_atom, uint64_t epoch) { on_recover_timeout(epoch); },
    [this](finish_atom) { on_finish(); },
    [this](const executor_registered_msg& m) {
      guarded("ExecutorRegistered", [&] { on_registered(m); });
    },
    [this](const run_task_msg& m) { guarded("RunTask", [&] { on_run_task(m); }); },
    [this](const kill_msg& m) {
      guarded("Kill", [&] {
        auto v = m.read();
        std::string tid = v->getTaskId();
        kill_task(tid);
      });
    },
    [this](const acknowledge_msg& m) { guarded("Acknowledge", [&] { on_acknowledge(m); }); },
    [this](const scheduler_message_msg& m) {
      guarded("SchedulerMessage", [&] {
        auto d = m.read()->getData();
        framework_message(std::string{reinterpret_cast<const char*>(d.begin()), d.size()});
      });
    },
    [this](const shutdown_executor_msg&) { shutdown(); },
    [this](const scheduler_error_msg& m) {
      guarded("Error", [&] { error(m.read()->getMessage()); });
    },
  };
  auto extra = extra_handlers();
  return caf::behavior{extra ? base.or_else(extra) : base};
}

int run_executor_process(const std::string& name, int argc, char** argv,
                         const std::function<void(caf::actor_system&, executor_options)>& spawn) {
  node_config cfg{name};
  // TLS files from the agent (actors/tls.hpp), unless given otherwise.
  auto from_env = [](std::string& field, const char* var) {
    if (const char* v = std::getenv(var); field.empty() && v != nullptr)
      field = v;
  };
  from_env(cfg.openssl_certificate, "CALDERA_OPENSSL_CERTIFICATE");
  from_env(cfg.openssl_key, "CALDERA_OPENSSL_KEY");
  from_env(cfg.openssl_cafile, "CALDERA_OPENSSL_CAFILE");
  from_env(cfg.openssl_capath, "CALDERA_OPENSSL_CAPATH");
  if (auto err = cfg.configure(argc, argv)) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), err->c_str());
    return 2;
  }
  auto opts = executor_options::from_env();
  if (!opts) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), describe(opts.error()).c_str());
    return 2;
  }
  caf::actor_system sys{cfg};
  spawn(sys, *opts);
  sys.await_all_actors_done();
  return 0;
}

void executor::after(caf::timespan delay, std::function<void()> fn) {
  deferred_.after(this, delay, std::move(fn));
}

std::string executable_path() {
  char buf[PATH_MAX];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return {};
  buf[n] = '\0';
  return buf;
}

} // namespace caldera
