#include "master/master_impl.hpp"

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera::detail {

namespace {

// Starts one validated task on `agent`, charged to `role`.
void launch_one(master_actor* self, framework_entry& fw, const framework_entry& fw_copy,
                agent_entry& agent, const std::string& role,
                schema::TaskInfo::Reader t, const resources& res) {
  auto& d = self->state;
  const auto& fid = fw.id;
  const auto& agent_id = agent.id;
  task_entry te;
  te.id = t.getTaskId();
  te.name = t.getName();
  te.framework_id = fid;
  te.role = role;
  te.agent_id = agent_id;
  bool has_executor = t.hasExecutor() && t.getExecutor().getExecutorId().size() > 0;
  te.executor_id = has_executor ? std::string{t.getExecutor().getExecutorId()} : te.id;
  te.res = res;
  if (has_executor)
    if (auto er = resources::from_capnp(t.getExecutor().getResources()))
      te.executor_res = std::move(*er); // validated by validate_launch
  status_info st0;
  st0.task_id = te.id;
  st0.state = schema::TaskState::STAGING;
  st0.timestamp = wall_now(self);
  st0.source = schema::StatusSource::MASTER;
  te.statuses.push_back(st0);
  agent.used += te.res;
  fw.used += te.res;
  auto run = make<schema::RunTask>([&](schema::RunTask::Builder b) {
    auto fi = b.initFramework();
    fi.setId(fw_copy.id);
    fi.setName(fw_copy.name);
    fi.setUser(fw_copy.user);
    fi.setPrincipal(fw_copy.principal);
    // What a restarted master learns of the framework from its agents: its
    // failover timeout and partition-awareness too, or it would tear the
    // framework down too early and tell it the wrong states.
    fi.setFailoverTimeout(fw_copy.failover_timeout);
    if (fw_copy.partition_aware)
      fi.initCapabilities(1).set(0, "PARTITION_AWARE");
    auto roles = fi.initRoles(static_cast<unsigned>(fw_copy.roles.size()));
    for (unsigned j = 0; j < fw_copy.roles.size(); ++j)
      roles.set(j, fw_copy.roles[j]);
    b.setTask(t);
    b.setRole(role);
    auto tb = b.getTask();
    tb.setAgentId(agent_id);
    auto ex = tb.getExecutor();
    if (!has_executor) {
      ex.setExecutorId(te.executor_id);
      ex.setName("command executor");
    }
    ex.setFrameworkId(fid);
  });
  log::debug("task_launching", {{"framework_id", fid}, {"task_id", te.id},
                                {"agent_id", agent_id}});
  d.answered_lost.erase(key_t{fid, te.id}); // a new launch under an id told lost
  te.launch = run;
  bool has_executor_res = !te.executor_res.empty();
  d.st.add_task(key_t{fid, te.id}, std::move(te));
  if (has_executor_res)
    sync_executor_charges(self, agent_id, true); // a new executor: out of the offer
  self->send(agent.handle, run);
}

void refuse_tasks(master_actor* self, framework_entry& fw,
                  capnp::List<schema::TaskInfo>::Reader ts, const char* reason,
                  const std::string& why) {
  for (auto t : ts) {
    status_info st;
    st.task_id = t.getTaskId();
    st.state = schema::TaskState::ERROR;
    st.reason = reason;
    st.message = why;
    send_status(self, fw, st);
  }
}

std::optional<allocator::time_point> refuse_until(master_actor* self,
                                                  const accept_msg& m) {
  auto v = m.read();
  auto refuse = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(std::max(0.0, v->getFilters().getRefuseSeconds())));
  if (refuse.count() <= 0)
    return std::nullopt;
  return self->clock().now() + refuse;
}

using task_list = capnp::List<schema::TaskInfo>::Reader;

// One agent's part of a gang: its offers and their role.
struct gang_part {
  std::string role;
  resources available;
  std::vector<std::string> offers;
};
using gang_parts = std::map<std::string, gang_part>; // by agent

// Each agent's share of the gang, validated against that agent's offers.
struct gang_plan {
  std::map<std::string, capnp::MallocMessageBuilder> per_agent;
  std::map<std::string, std::vector<unsigned>> idx; // agent -> task positions
  std::map<std::string, launch_plan> plans;
};

// The accept's offers by agent: "" when they are this framework's, valid,
// each named once and of one role per agent; else what is wrong.
std::string collect_gang_offers(master_actor* self, const framework_entry& fw,
                                const accept_msg& m, gang_parts& parts) {
  auto& d = self->state;
  std::set<std::string> seen;
  auto v = m.read(); // the reader lives as long as the view
  for (auto oid : v->getOfferIds()) {
    std::string id = oid;
    auto o = d.st.offers.find(id);
    if (o == d.st.offers.end() || o->second.framework_id != fw.id || !seen.insert(id).second)
      return "offer '" + id + "' is unknown or no longer valid";
    auto& p = parts[o->second.agent_id];
    if (!p.offers.empty() && p.role != o->second.role)
      return "offers of different roles for one agent";
    p.role = o->second.role;
    p.available += o->second.res;
    p.offers.push_back(id);
  }
  return parts.empty() ? "accept names no offers" : "";
}

// Splits the tasks by agent and validates each share; "" or the first problem.
std::string plan_gang(master_actor* self, const framework_entry& fw, task_list ts,
                      gang_parts& parts, gang_plan& g) {
  for (unsigned i = 0; i < ts.size(); ++i) {
    std::string aid = ts[i].getAgentId();
    if (parts.count(aid) == 0)
      return "task '" + std::string{ts[i].getTaskId().cStr()} + "' names agent '" + aid
             + "', which none of the offers is from";
    g.idx[aid].push_back(i);
  }
  for (auto& [aid, is] : g.idx) {
    auto list = g.per_agent[aid].initRoot<schema::Operation>().initLaunch(
      static_cast<unsigned>(is.size()));
    for (unsigned j = 0; j < is.size(); ++j)
      list.setWithCaveats(j, ts[is[j]]);
    auto plan = self->state.st.validate_launch(fw.id, aid, list.asReader(), parts[aid].available);
    if (!plan.errors.empty())
      return "task '" + plan.errors[0].first + "': " + plan.errors[0].second;
    g.plans[aid] = std::move(plan);
  }
  return "";
}

// The gang's offers are used, launched or refused.
void consume_gang_offers(master_actor* self, const gang_parts& parts) {
  for (auto& [aid, p] : parts)
    for (auto& oid : p.offers)
      self->state.st.take_offer(oid);
}

bool gang_agents_active(master_actor* self, const gang_parts& parts) {
  auto& d = self->state;
  for (auto& [aid, p] : parts) {
    auto a = d.st.agents.find(aid);
    if (a == d.st.agents.end() || !a->second.active || !a->second.handle)
      return false;
  }
  return true;
}

void launch_gang(master_actor* self, framework_entry& fw, gang_parts& parts, gang_plan& g) {
  auto& d = self->state;
  framework_entry fw_copy = fw;
  for (auto& [aid, is] : g.idx) {
    auto& p = parts[aid];
    auto& agent = d.st.agents[aid];
    auto list = g.per_agent[aid].getRoot<schema::Operation>().getLaunch().asReader();
    for (unsigned j = 0; j < list.size(); ++j) {
      auto& item = g.plans[aid].ok[j];
      p.available -= item.res + item.starts_executor;
      launch_one(self, fw, fw_copy, agent, p.role, list[j], item.res);
    }
  }
}

// A gang: tasks on several agents, from offers of those agents, launched
// all together or not at all.
void handle_gang(master_actor* self, framework_entry& fw, const accept_msg& m) {
  auto& d = self->state;
  auto v = m.read(); // the readers below live as long as the view
  auto ops = v->getOperations();
  auto ts = ops[0].getLaunchGang();
  if (ops.size() != 1) {
    refuse_tasks(self, fw, ts, "REASON_TASK_GROUP_INVALID",
                 "a gang launch must be the only operation of its accept");
    return;
  }
  gang_parts parts;
  if (auto problem = collect_gang_offers(self, fw, m, parts); !problem.empty()) {
    refuse_tasks(self, fw, ts, "REASON_INVALID_OFFERS", "gang refused: " + problem);
    return;
  }
  gang_plan g;
  auto problem = plan_gang(self, fw, ts, parts, g);
  // The offers are used either way; on refusal their resources return
  // unfiltered, so the framework may try again.
  std::optional<allocator::time_point> until;
  if (problem.empty())
    until = refuse_until(self, m);
  consume_gang_offers(self, parts);
  if (problem.empty() && !gang_agents_active(self, parts))
    problem = "an agent of the gang is no longer active";
  if (!problem.empty()) {
    refuse_tasks(self, fw, ts, "REASON_TASK_GROUP_INVALID", "gang refused: " + problem);
    for (auto& [aid, p] : parts)
      d.alloc.recover(aid, fw.id, p.role, p.available);
    log::warn("gang_refused", {{"framework_id", fw.id}, {"reason", problem}});
    return;
  }
  launch_gang(self, fw, parts, g);
  log::info("gang_launched", {{"framework_id", fw.id}, {"tasks", ts.size()},
                              {"agents", parts.size()}});
  for (auto& [aid, p] : parts)
    d.alloc.recover(aid, fw.id, p.role, p.available, until);
}

} // namespace

namespace {

// Every task of `ops` is refused with TASK_ERROR (`reason`, `why`); false
// when there was none.
bool refuse_operations(master_actor* self, framework_entry& fw,
                       capnp::List<schema::Operation>::Reader ops, const char* reason,
                       const std::string& why) {
  bool any = false;
  for (auto op : ops) {
    auto ts = op.isLaunch() ? op.getLaunch()
              : op.isLaunchGroup() ? op.getLaunchGroup() : op.getLaunchGang();
    any = any || ts.size() > 0;
    refuse_tasks(self, fw, ts, reason, why);
  }
  return any;
}

// The run_tasks ACL: why the framework's principal may not run `t` as the
// task's user (its command's, its executor's, else the framework's), or
// nothing when it may.
std::optional<std::string> refused_user(master_actor* self, const framework_entry& fw,
                                        schema::TaskInfo::Reader t) {
  auto& d = self->state;
  if (!d.opts.acl)
    return std::nullopt;
  std::string user = t.getCommand().getUser();
  if (user.empty())
    user = t.getExecutor().getCommand().getUser();
  if (user.empty())
    user = fw.user;
  if (d.opts.acl->allows(acls::action::run_tasks, fw.principal, user))
    return std::nullopt;
  std::string why = "principal '" + fw.principal + "' may not run tasks as user '" + user
                    + "' (ACL run_tasks)";
  metrics::refused("run_tasks");
  log::warn("peer_refused", {{"type", "run_tasks"}, {"reason", why}});
  return why;
}

// One launch or launch-group operation on the accepted offers: the valid
// tasks launch (a group only if all are), the others get TASK_ERROR;
// what they use leaves `available`.
void launch_operation(master_actor* self, framework_entry& fw, const framework_entry& fw_copy,
                      agent_entry& agent, const std::string& role,
                      schema::Operation::Reader op, resources& available) {
  auto& d = self->state;
  bool group = op.isLaunchGroup();
  auto ts = group ? op.getLaunchGroup() : op.getLaunch();
  std::set<std::string> denied;
  for (auto t : ts)
    if (auto why = refused_user(self, fw, t)) {
      if (group) {
        refuse_tasks(self, fw, ts, "REASON_TASK_UNAUTHORIZED", "task group refused: " + *why);
        return;
      }
      denied.insert(std::string{t.getTaskId().cStr()});
      status_info st;
      st.task_id = t.getTaskId();
      st.state = schema::TaskState::ERROR;
      st.reason = "REASON_TASK_UNAUTHORIZED";
      st.message = *why;
      send_status(self, fw, st);
    }
  auto plan = d.st.validate_launch(fw.id, agent.id, ts, available);
  if (group && !plan.errors.empty()) {
    // All or nothing: one bad task refuses the whole group.
    std::string why = "task group refused: task '" + plan.errors[0].first
                      + "': " + plan.errors[0].second;
    refuse_tasks(self, fw, ts, "REASON_TASK_GROUP_INVALID", why);
    return;
  }
  for (auto& [tid, why] : plan.errors) {
    status_info st;
    st.task_id = tid;
    st.state = schema::TaskState::ERROR;
    st.reason = "REASON_TASK_INVALID";
    st.message = why;
    send_status(self, fw, st);
  }
  size_t k = 0;
  for (auto t : ts) {
    if (k >= plan.ok.size() || plan.ok[k].task_id != std::string{t.getTaskId().cStr()})
      continue;
    auto& item = plan.ok[k++];
    if (denied.count(item.task_id) > 0)
      continue;
    available -= item.res + item.starts_executor;
    launch_one(self, fw, fw_copy, agent, role, t, item.res);
  }
}

} // namespace

void handle_accept(master_actor* self, const accept_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  std::string fid = v->getFrameworkId();
  auto* fw = caller(self, fid);
  if (!fw)
    return;
  for (auto op : v->getOperations())
    if (op.isLaunchGang()) {
      handle_gang(self, *fw, m);
      request_allocation(self);
      return;
    }
  std::vector<std::string> ids;
  for (auto oid : v->getOfferIds())
    ids.emplace_back(oid.cStr());
  auto claim = d.st.check_offers(fid, ids);
  if (!claim.problem.empty()) {
    // Nothing changes: every task of this accept is refused with TASK_ERROR.
    if (!refuse_operations(self, *fw, v->getOperations(), "REASON_INVALID_OFFERS",
                           claim.problem))
      scheduler_error(self, fw->handle, "accept refused: " + claim.problem);
    else
      log::warn("accept_refused", {{"framework_id", fid}, {"reason", claim.problem}});
    return;
  }
  for (auto& oid : claim.ids)
    d.st.take_offer(oid);
  auto agent_it = d.st.agents.find(claim.agent_id);
  if (agent_it == d.st.agents.end() || !agent_it->second.active) {
    d.alloc.recover(claim.agent_id, fid, claim.role, claim.available);
    return;
  }
  framework_entry fw_copy = *fw;
  for (auto op : v->getOperations())
    launch_operation(self, *fw, fw_copy, agent_it->second, claim.role, op, claim.available);
  // What the launches left over goes back, filtered as asked.
  d.alloc.recover(claim.agent_id, fid, claim.role, claim.available, refuse_until(self, m));
}

namespace {

// Whether the framework was told the task is lost when its agent became
// unreachable (known across master restarts through the registry).
bool reported_lost(const master_data& d, const status_info& st) {
  auto a = d.st.agents.find(st.agent_id);
  return a != d.st.agents.end() && st.state != schema::TaskState::LOST
         && a->second.lost_tasks.count({st.framework_id, st.task_id}) > 0;
}

} // namespace

namespace {

// The agent that sent `st` hears it was taken care of (for a framework that
// is gone, or a state superseded by an earlier final one).
void acknowledge_here(master_actor* self, const status_info& st) {
  if (auto sender = sender_of(self); sender && !st.uuid.empty())
    self->send(sender, make<schema::Acknowledge>([&](auto b) {
                 b.setFrameworkId(st.framework_id);
                 b.setAgentId(st.agent_id);
                 b.setTaskId(st.task_id);
                 b.setUuid(st.uuid);
               }));
}

} // namespace

void handle_status(master_actor* self, const status_update_msg& m) {
  auto& d = self->state;
  auto st = status_info::from_capnp(m.read()->getStatus());
  key_t key{st.framework_id, st.task_id};
  ++d.changes;
  bool told_lost = reported_lost(d, st) || d.answered_lost.count(key) > 0;
  auto effect = d.st.apply_status(st, told_lost);
  if (effect == status_effect::finished) {
    finish_task(self, key);
    request_allocation(self);
  } else if (effect == status_effect::superseded) {
    // The framework was already told another final state (TASK_LOST for an
    // agent that was unreachable): never a second one. Acknowledged here.
    auto* done = d.st.find_task(st.framework_id, st.task_id);
    log::info("status_update_superseded",
              {{"task_id", st.task_id}, {"state", state_name(st.state)},
               {"final", done != nullptr ? state_name(done->state) : "TASK_LOST"}});
    acknowledge_here(self, st);
    return;
  }
  auto f = d.st.frameworks.find(st.framework_id);
  if (f != d.st.frameworks.end() && f->second.handle) {
    self->send(f->second.handle, m); // the same bytes: no copy in-process
    return;
  }
  if (f == d.st.frameworks.end() || f->second.completed)
    acknowledge_here(self, st); // nobody else will
  // Otherwise the scheduler is failing over; the agent retries later.
}

namespace {

status_info latest_status(const task_entry& t) {
  status_info st = t.statuses.empty() ? status_info{} : t.statuses.back();
  st.task_id = t.id;
  st.state = t.state;
  st.agent_id = t.agent_id;
  st.executor_id = t.executor_id;
  st.uuid.clear();
  st.reason = "REASON_RECONCILIATION";
  return st;
}

} // namespace

void reconcile_task(master_actor* self, framework_entry& fw, const std::string& tid,
                    const std::string& agent_id, const std::string& why) {
  auto& d = self->state;
  if (auto* t = d.st.find_task(fw.id, tid)) {
    send_status(self, fw, latest_status(*t));
    return;
  }
  // After a master restart, an agent that has not re-registered yet may
  // still report the task: no answer until then (as Mesos).
  for (auto& [id, a] : d.st.agents)
    if (a.recovered && !a.unreachable && (agent_id.empty() || id == agent_id)) {
      log::debug("reconcile_deferred", {{"task_id", tid}, {"agent_id", id}});
      return;
    }
  status_info st;
  st.task_id = tid;
  st.agent_id = agent_id;
  // Mesos: partition-aware frameworks learn TASK_UNKNOWN, others TASK_LOST;
  // a task told lost must not run on should its agent come back with it.
  st.state = fw.partition_aware ? schema::TaskState::UNKNOWN : schema::TaskState::LOST;
  st.reason = "REASON_RECONCILIATION";
  st.message = why;
  if (fw.partition_aware) {
    send_status(self, fw, st);
    return;
  }
  // Said once the registry has it, for a restarted master to know it too.
  auto fid = fw.id;
  record_answered_lost(self, {fid, tid}, agent_id, [=] {
    auto f = self->state.st.frameworks.find(fid);
    if (f != self->state.st.frameworks.end())
      send_status(self, f->second, st);
  });
}

void resend_launches(master_actor* self) {
  auto& d = self->state;
  for (auto& [key, t] : d.st.tasks) {
    if (!t.launch || ++t.launch_rounds < 2)
      continue;
    auto a = d.st.agents.find(t.agent_id);
    if (a == d.st.agents.end() || !a->second.active || !a->second.handle)
      continue; // it re-registers: tasks it does not report are lost then
    log::debug("task_launch_resent", {{"framework_id", key.first}, {"task_id", key.second},
                                      {"agent_id", t.agent_id}});
    self->send(a->second.handle, *t.launch);
  }
}

void reconcile(master_actor* self, const reconcile_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  std::string fid = v->getFrameworkId();
  auto* fw = caller(self, fid);
  if (!fw)
    return;
  if (v->getTasks().size() == 0) {
    for (auto& [k, t] : d.st.tasks)
      if (t.framework_id == fid)
        send_status(self, *fw, latest_status(t));
    return;
  }
  for (auto rt : v->getTasks())
    reconcile_task(self, *fw, rt.getTaskId(), rt.getAgentId(), "task is unknown to the master");
}

} // namespace caldera::detail
