#include "actors/scheduler.hpp"

#include "actors/auth_client.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/system_messages.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"

namespace caldera {

scheduler::scheduler(caf::actor_config& cfg, scheduler_options opts)
  : linked<caf::event_based_actor>(cfg), opts_(std::move(opts)) {
  if (!opts_.runtime)
    opts_.runtime = real_env();
  join_links(opts_.runtime->links(), opts_.node_name);
  framework_id_ = opts_.framework_id;
}

void scheduler::registered(const std::string&, const std::string&) {
}
void scheduler::reregistered(const std::string&) {
}
void scheduler::disconnected() {
}
void scheduler::resource_offers(const std::vector<offer>& offers) {
  std::vector<std::string> ids;
  for (auto& o : offers)
    ids.push_back(o.id);
  decline(ids);
}
void scheduler::offer_rescinded(const std::string&) {
}
void scheduler::status_update(const status_info&) {
}
void scheduler::framework_message(const std::string&, const std::string&,
                                  const std::string&) {
}
void scheduler::agent_lost(const std::string&) {
}
void scheduler::executor_lost(const std::string&, const std::string&, int) {
}
void scheduler::error(const std::string& message) {
  log::warn("scheduler_error", {{"framework_id", framework_id_}, {"message", message}});
}
void scheduler::failed_over() {
}

caf::message_handler scheduler::extra_handlers() {
  return {};
}

namespace {

using give_up_atom = caf::atom_constant<caf::atom("giveup")>;
using connect_deadline_atom = caf::atom_constant<caf::atom("condeadln")>;
// How soon a scheduler that finds its master through etcd looks again.
constexpr caf::timespan coordinator_retry = std::chrono::milliseconds(250);

std::string dropped_while_disconnected(const char* action) {
  return std::string{action} + " dropped: not connected to a master (the SDK reconnects)";
}

} // namespace

void scheduler::connect() {
  if (opts_.master) {
    on_connected(opts_.master);
    return;
  }
  if (!opts_.master_endpoint) {
    error("no master given");
    quit();
    return;
  }
  connect_master_async(
    this, opts_.runtime, *opts_.master_endpoint, connect_attempts_++,
    [this](caf::actor a) { on_connected(std::move(a)); },
    [this](const caf::error& err) {
      // Said once per outage (a wrong port, a master that is down), then
      // retried quietly, the waits doubling up to reconnect_interval.
      if (!connect_failed_ && !stopping_)
        error("cannot reach the master at " + opts_.master_endpoint->to_string() + " ("
              + describe(err) + "); retrying");
      connect_failed_ = true;
      schedule_retry();
    });
}

void scheduler::on_connected(caf::actor m) {
  connect_failed_ = false;
  master_ = std::move(m);
  monitor(master_);
  begin_registration();
}

void scheduler::do_register() {
  auto req = make<schema::RegisterFramework>([&](schema::RegisterFramework::Builder b) {
    auto f = b.initFramework();
    f.setId(framework_id_);
    f.setName(opts_.name);
    f.setUser(opts_.user);
    f.setPrincipal(opts_.principal);
    f.setFailoverTimeout(opts_.failover_timeout);
    auto roles = f.initRoles(static_cast<unsigned>(opts_.roles.size()));
    for (unsigned i = 0; i < opts_.roles.size(); ++i)
      roles.set(i, opts_.roles[i]);
    if (opts_.partition_aware)
      f.initCapabilities(1).set(0, "PARTITION_AWARE");
  });
  // Ahead of the agents' registrations in the master's mailbox (after a
  // failover, thousands of them): offers come sooner.
  request<caf::message_priority::high>(master_, std::chrono::seconds(30), req)
    .then(
      [this](const framework_registered_msg& m) {
        guarded("FrameworkRegistered", [&] {
          auto v = m.read();
          if (stale_master(v->getEpoch()))
            return;
          framework_id_ = v->getFrameworkId();
          registered_ = true;
          retry_wait_ = caf::timespan{0};
          if (stopping_) {
            send_teardown();
            return;
          }
          std::string master_id = v->getMasterId();
          if (!ever_registered_) {
            ever_registered_ = true;
            registered(framework_id_, master_id);
          } else {
            reregistered(master_id);
          }
        });
      },
      [this](caf::error& err) { on_registration_error(err); });
}

// A registration (or its authentication) failed: refused for good by the
// master (a caldera error) ends the scheduler through `error`; anything else
// (the master down, a timeout, a full registry) is retried.
void scheduler::on_registration_error(caf::error& err) {
  if (stopping_ && err.category() == caf::atom("caldera")
      && err.code() == static_cast<uint8_t>(errc::unknown_framework)) {
    quit(); // torn down already
    return;
  }
  if (err.category() == caf::atom("caldera")
      && err.code() != static_cast<uint8_t>(errc::storage_error)) {
    if (stopping_) {
      quit(err);
      return;
    }
    error("registration refused: " + describe(err));
    quit(err);
    return;
  }
  if (err == caf::sec::unexpected_message && !stopping_) {
    // An actor answered, but not as a master does: an agent's port, say.
    auto where = opts_.master_endpoint ? " at " + opts_.master_endpoint->to_string() : "";
    auto e = make_error(errc::invalid_config, "the endpoint" + where
                                                + " is not a caldera master (it does not take "
                                                  "framework registrations)");
    error(error_message(e));
    quit(e);
    return;
  }
  log::warn("framework_registration_failed", {{"reason", describe(err)}});
  schedule_retry();
}

// Never registered within connect_timeout: gives up (bootstrap's retry policy).
void scheduler::on_connect_deadline() {
  if (ever_registered_ || stopping_)
    return;
  auto where = opts_.master_endpoint ? opts_.master_endpoint->to_string() : "the master";
  auto secs = std::chrono::duration<double>(opts_.connect_timeout).count();
  auto e = make_error(errc::timeout, "no master reached at " + where + " within "
                                       + std::to_string(static_cast<int64_t>(secs))
                                       + " s (connect timeout); giving up");
  error(error_message(e));
  quit(e);
}

// Proves the principal's secret to the master when there is a principal
// (the master says with an empty challenge that it checks none), then
// registers.
void scheduler::begin_registration() {
  if (opts_.principal.empty()) {
    do_register();
    return;
  }
  authenticate_to(this, master_, {opts_.principal, opts_.secret}, [this](const caf::error& err) {
    if (err) {
      auto e = err;
      on_registration_error(e);
    } else
      do_register();
  });
}

// The master refused something, or removed this framework (then it ends).
void scheduler::on_master_error(const scheduler_error_msg& m) {
  bool removed = false, moved = false;
  guarded("SchedulerError", [&] {
    auto v = m.read();
    removed = v->getRemoved();
    moved = v->getFailedOver();
    error(v->getMessage());
  });
  if (moved && !removed)
    failed_over();
  if (removed) {
    stopping_ = true;
    quit(make_error(errc::unknown_framework, "the framework was removed"));
  }
}

// One retry pending at a time: a failed registration and the master's down
// message both ask for one (two would double every round).
void scheduler::schedule_retry() {
  if (retry_pending_)
    return;
  retry_pending_ = true;
  retry_wait_ = retry_wait_.count() == 0
                  ? caf::timespan{std::chrono::milliseconds(100)}
                  : std::min<caf::timespan>(retry_wait_ * 2, opts_.reconnect_interval);
  auto wait = opts_.runtime->buggify("scheduler/retry-early")
                ? caf::timespan{std::chrono::milliseconds(10)}
                : std::min(retry_wait_, opts_.reconnect_interval);
  // Standby masters: the next leader is elected within about a lease TTL
  // and a lookup is one etcd read: look sooner.
  if (opts_.master_endpoint && opts_.master_endpoint->coordinator)
    wait = std::min<caf::timespan>(wait, coordinator_retry);
  delayed_send(this, wait, retry_atom::value);
}

// A master whose epoch is older than one seen before (a deposed leader, a
// stale address) is left for another: its offers must not be used. 0: a
// master alone, without epochs.
bool scheduler::stale_master(uint64_t epoch) {
  if (epoch == 0 || epoch >= max_epoch_) {
    max_epoch_ = std::max(max_epoch_, epoch);
    return false;
  }
  log::warn("stale_master_refused", {{"epoch", static_cast<int64_t>(epoch)},
                                     {"seen", static_cast<int64_t>(max_epoch_)}});
  demonitor(master_);
  master_ = nullptr;
  registered_ = false;
  schedule_retry();
  return true;
}

void scheduler::on_master_down() {
  master_ = nullptr;
  registered_ = false;
  log::warn("master_disconnected", {{"framework_id", framework_id_}});
  if (!stopping_)
    disconnected();
  schedule_retry();
}

void scheduler::accept(const std::vector<std::string>& offer_ids,
                       const std::vector<task_spec>& tasks, double refuse_seconds) {
  accept_impl(offer_ids, tasks, refuse_seconds, 0);
}

void scheduler::accept_group(const std::vector<std::string>& offer_ids,
                             const std::vector<task_spec>& tasks,
                             double refuse_seconds) {
  accept_impl(offer_ids, tasks, refuse_seconds, 1);
}

void scheduler::accept_gang(const std::vector<std::string>& offer_ids,
                            const std::vector<task_spec>& tasks,
                            double refuse_seconds) {
  accept_impl(offer_ids, tasks, refuse_seconds, 2);
}

void scheduler::accept_impl(const std::vector<std::string>& offer_ids,
                            const std::vector<task_spec>& tasks,
                            double refuse_seconds, int mode) {
  std::vector<launch_operation> ops;
  if (!tasks.empty())
    ops.push_back({static_cast<launch_operation::kind_t>(mode), tasks});
  accept_operations(offer_ids, ops, refuse_seconds);
}

void scheduler::fill_task(schema::TaskInfo::Builder tb, const task_spec& t) const {
  tb.setTaskId(t.task_id);
  tb.setName(t.name.empty() ? t.task_id : t.name);
  tb.setAgentId(t.agent_id);
  t.res.to_capnp(tb.initResources(static_cast<unsigned>(t.res.entry_count())));
  tb.setKillGracePeriod(t.kill_grace_period);
  if (!t.data.empty())
    tb.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(t.data.data()), t.data.size()));
  auto cmd = tb.initCommand();
  cmd.setShell(t.command);
  cmd.setUser(t.user.empty() ? opts_.user : t.user);
  auto env = cmd.initEnvironment(static_cast<unsigned>(t.env.size()));
  for (unsigned j = 0; j < t.env.size(); ++j) {
    env[j].setName(t.env[j].first);
    env[j].setValue(t.env[j].second);
  }
  if (t.executor_id.empty())
    return;
  auto ex = tb.initExecutor();
  ex.setExecutorId(t.executor_id);
  ex.setFrameworkId(framework_id_);
  ex.initCommand().setShell(t.executor_command);
  if (!t.executor_res.empty())
    t.executor_res.to_capnp(ex.initResources(static_cast<unsigned>(t.executor_res.entry_count())));
}

void scheduler::accept_operations(const std::vector<std::string>& offer_ids,
                                  const std::vector<launch_operation>& ops,
                                  double refuse_seconds) {
  if (!may_send("accept"))
    return;
  send(master_, make<schema::Accept>([&](schema::Accept::Builder b) {
         b.setFrameworkId(framework_id_);
         auto ids = b.initOfferIds(static_cast<unsigned>(offer_ids.size()));
         for (unsigned i = 0; i < offer_ids.size(); ++i)
           ids.set(i, offer_ids[i]);
         b.initFilters().setRefuseSeconds(refuse_seconds);
         auto obs = b.initOperations(static_cast<unsigned>(ops.size()));
         for (unsigned k = 0; k < ops.size(); ++k) {
           auto n = static_cast<unsigned>(ops[k].tasks.size());
           auto kind = ops[k].kind;
           auto ts = kind == launch_operation::group  ? obs[k].initLaunchGroup(n)
                     : kind == launch_operation::gang ? obs[k].initLaunchGang(n)
                                                      : obs[k].initLaunch(n);
           for (unsigned i = 0; i < n; ++i)
             fill_task(ts[i], ops[k].tasks[i]);
         }
       }));
}

void scheduler::decline(const std::vector<std::string>& offer_ids,
                        double refuse_seconds) {
  if (offer_ids.empty())
    return;
  if (!may_send("decline"))
    return;
  send(master_, make<schema::Decline>([&](schema::Decline::Builder b) {
         b.setFrameworkId(framework_id_);
         auto ids = b.initOfferIds(static_cast<unsigned>(offer_ids.size()));
         for (unsigned i = 0; i < offer_ids.size(); ++i)
           ids.set(i, offer_ids[i]);
         b.initFilters().setRefuseSeconds(refuse_seconds);
       }));
}

void scheduler::kill(const std::string& task_id, const std::string& agent_id) {
  if (!may_send("kill"))
    return;
  send(master_, make<schema::Kill>([&](auto b) {
         b.setFrameworkId(framework_id_);
         b.setTaskId(task_id);
         b.setAgentId(agent_id);
       }));
}

void scheduler::shutdown_executor(const std::string& executor_id,
                                  const std::string& agent_id) {
  if (!may_send("shutdown_executor"))
    return;
  send(master_, make<schema::ShutdownFramework>([&](auto b) {
         b.setFrameworkId(framework_id_);
         b.setExecutorId(executor_id);
         b.setAgentId(agent_id);
       }));
}

void scheduler::acknowledge(const status_info& st) {
  if (!master_ || st.uuid.empty() || stopping_)
    return;
  send(master_, make<schema::Acknowledge>([&](auto b) {
         b.setFrameworkId(framework_id_);
         b.setAgentId(st.agent_id);
         b.setTaskId(st.task_id);
         b.setUuid(st.uuid);
       }));
}

void scheduler::reconcile(const std::vector<task_ref>& tasks) {
  if (!may_send("reconcile"))
    return;
  send(master_, make<schema::Reconcile>([&](schema::Reconcile::Builder b) {
         b.setFrameworkId(framework_id_);
         auto ts = b.initTasks(static_cast<unsigned>(tasks.size()));
         for (unsigned i = 0; i < tasks.size(); ++i) {
           ts[i].setTaskId(tasks[i].task_id);
           ts[i].setAgentId(tasks[i].agent_id);
         }
       }));
}

void scheduler::revive(const std::vector<std::string>& roles) {
  if (!may_send("revive"))
    return;
  send(master_, make<schema::Revive>([&](schema::Revive::Builder b) {
         b.setFrameworkId(framework_id_);
         auto l = b.initRoles(static_cast<unsigned>(roles.size()));
         for (unsigned i = 0; i < roles.size(); ++i)
           l.set(i, roles[i]);
       }));
}

void scheduler::suppress(const std::vector<std::string>& roles) {
  if (!may_send("suppress"))
    return;
  send(master_, make<schema::Suppress>([&](schema::Suppress::Builder b) {
         b.setFrameworkId(framework_id_);
         auto l = b.initRoles(static_cast<unsigned>(roles.size()));
         for (unsigned i = 0; i < roles.size(); ++i)
           l.set(i, roles[i]);
       }));
}

void scheduler::send_framework_message(const std::string& agent_id,
                                       const std::string& executor_id,
                                       const std::string& data) {
  if (!may_send("send_framework_message"))
    return;
  send(master_, make<schema::SchedulerMessage>([&](auto b) {
         b.setFrameworkId(framework_id_);
         b.setAgentId(agent_id);
         b.setExecutorId(executor_id);
         b.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()),
                                data.size()));
       }));
}

bool scheduler::may_send(const char* action) {
  if (stopping_)
    return false;
  if (!master_) {
    error(dropped_while_disconnected(action));
    return false;
  }
  return true;
}

void scheduler::after(caf::timespan delay, std::function<void()> fn) {
  deferred_.after(this, delay, std::move(fn));
}

void scheduler::stop(bool keep_tasks) {
  if (stopping_)
    return;
  if (keep_tasks) {
    // The master sees the link drop: the framework is disconnected and its
    // tasks are kept for failover_timeout.
    stopping_ = true;
    quit();
    return;
  }
  // Nothing more goes to the master but the teardown (the acknowledgement of
  // the update being handled, when stop() is called from status_update,
  // among them): it would refuse calls of a framework it tore down.
  stopping_ = true;
  auto failover = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(std::max(0.0, opts_.failover_timeout)));
  auto keep_trying = std::min(failover, opts_.stop_timeout);
  if (!ever_registered_ || keep_trying <= caf::timespan{0}) {
    if (master_ && registered_)
      send(master_, make<schema::Teardown>([&](auto b) { b.setFrameworkId(framework_id_); }));
    quit();
    return;
  }
  // A teardown lost on the way left the framework, and its executors, to its
  // failover timeout (seed 3444): asked again until the master answers, from
  // a behaviour that runs no callback any more (whatever else comes is
  // dropped, see harden).
  become(stopping_behavior());
  delayed_send(this, keep_trying, give_up_atom::value);
  if (master_ && registered_)
    send_teardown();
  // Otherwise once registered again (do_register).
}

void scheduler::send_teardown() {
  request(master_, std::chrono::seconds(5),
          make<schema::Teardown>([&](auto b) { b.setFrameworkId(framework_id_); }))
    .then([this]() { quit(); },
          [this](caf::error& err) {
            log::debug("teardown_retry", {{"framework_id", framework_id_},
                                          {"reason", describe(err)}});
            schedule_retry();
          });
}

// A retry: connects, registers, or (after stop()) asks for the teardown again.
void scheduler::on_retry() {
  retry_pending_ = false;
  if (!master_)
    connect();
  else if (!registered_)
    begin_registration();
  else if (stopping_)
    send_teardown();
}

// In-process: a new master to talk to (a restarted one).
void scheduler::on_new_master(const caf::actor& m) {
  opts_.master = m;
  if (!master_)
    connect();
}

// After stop(): reconnects and registers again as needed, to ask for the
// teardown until the master answers or the stop timeout passes.
caf::behavior scheduler::stopping_behavior() {
  return {
    [this](retry_atom) { on_retry(); },
    [this](connect_atom_t, const caf::actor& m) { on_new_master(m); },
    [this](give_up_atom) {
      log::warn("teardown_unconfirmed", {{"framework_id", framework_id_}});
      quit();
    },
    [this](framework_stop_atom, bool failover) {
      if (failover)
        quit(); // stop asking for the teardown
    },
  };
}

caf::behavior scheduler::make_behavior() {
  harden(this);
  set_down_handler([this](caf::down_msg& dm) {
    if (master_ && dm.source == master_.address())
      on_master_down();
  });
  connect();
  if (opts_.connect_timeout > caf::timespan{0})
    delayed_send(this, opts_.connect_timeout, connect_deadline_atom::value);
  caf::message_handler base{
    [this](retry_atom) { on_retry(); },
    [this](connect_deadline_atom) { on_connect_deadline(); },
    [this](framework_stop_atom, bool failover) { stop(failover); },
    [this](deferred_atom, uint64_t id) { deferred_.run(id); },
    [this](connect_atom_t, const caf::actor& m) { on_new_master(m); },
    [this](const resource_offers_msg& m) {
      guarded("ResourceOffers", [&] {
        auto v = m.read();
        std::vector<offer> offers;
        for (auto o : v->getOffers()) {
          offer x;
          x.id = o.getId();
          x.agent_id = o.getAgentId();
          x.hostname = o.getHostname();
          if (auto r = resources::from_capnp(o.getResources()))
            x.res = std::move(*r);
          for (auto a : o.getAttributes())
            x.attributes.emplace_back(a.getName(), a.getValue());
          for (auto e : o.getExecutorIds())
            x.executor_ids.emplace_back(e);
          x.allocation_role = o.getAllocationRole();
          x.agent_http_endpoint = o.getAgentHttpEndpoint();
          offers.push_back(std::move(x));
        }
        resource_offers(offers);
      });
    },
    [this](const rescind_offer_msg& m) {
      guarded("RescindOffer", [&] { offer_rescinded(m.read()->getOfferId()); });
    },
    [this](const status_update_msg& m) {
      guarded("StatusUpdate", [&] {
        auto st = status_info::from_capnp(m.read()->getStatus());
        log::debug("status_update", {{"task_id", st.task_id},
                                     {"state", state_name(st.state)},
                                     {"reason", st.reason}});
        status_update(st);
        if (opts_.implicit_acknowledgements)
          acknowledge(st);
      });
    },
    [this](const executor_message_msg& m) {
      guarded("ExecutorMessage", [&] {
        auto v = m.read();
        auto d = v->getData();
        framework_message(v->getAgentId(), v->getExecutorId(),
                          std::string{reinterpret_cast<const char*>(d.begin()), d.size()});
      });
    },
    [this](const agent_lost_msg& m) {
      guarded("AgentLost", [&] { agent_lost(m.read()->getAgentId()); });
    },
    [this](const executor_lost_msg& m) {
      guarded("ExecutorLost", [&] {
        auto v = m.read();
        executor_lost(v->getExecutorId(), v->getAgentId(), v->getStatus());
      });
    },
    [this](const scheduler_error_msg& m) { on_master_error(m); },
  };
  auto extra = extra_handlers();
  return caf::behavior{extra ? base.or_else(extra) : base};
}

} // namespace caldera
