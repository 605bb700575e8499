#include "master/master_impl.hpp"

#include "actors/error.hpp"
#include "actors/log.hpp"

namespace caldera::detail {

void handle_accept(master_actor* self, const accept_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  std::string fid = v->getFrameworkId();
  auto* fw = caller(self, fid);
  if (!fw)
    return;
  // Offers: all must be outstanding, this framework's, and of one agent.
  std::string agent_id;
  std::string role;
  std::string problem;
  resources available;
  std::vector<std::string> offer_ids;
  for (auto oid : v->getOfferIds()) {
    std::string id = oid;
    auto o = d.st.offers.find(id);
    if (o == d.st.offers.end() || o->second.framework_id != fid) {
      problem = "offer '" + id + "' is unknown or no longer valid";
      break;
    }
    if (!agent_id.empty() && agent_id != o->second.agent_id) {
      problem = "offers of different agents in one accept";
      break;
    }
    if (!agent_id.empty() && role != o->second.role) {
      problem = "offers of different roles in one accept";
      break;
    }
    agent_id = o->second.agent_id;
    role = o->second.role;
    available += o->second.res;
    offer_ids.push_back(id);
  }
  if (problem.empty() && offer_ids.empty())
    problem = "accept names no offers";
  if (!problem.empty()) {
    // Nothing changes: every task of this accept is refused with TASK_ERROR.
    bool any_task = false;
    for (auto op : v->getOperations()) {
      auto ts = op.isLaunch() ? op.getLaunch() : op.getLaunchGroup();
      for (auto t : ts) {
        any_task = true;
        status_info st;
        st.task_id = t.getTaskId();
        st.state = schema::TaskState::ERROR;
        st.reason = "REASON_INVALID_OFFERS";
        st.message = problem;
        send_status(self, *fw, st);
      }
    }
    if (!any_task)
      scheduler_error(self, fw->handle, "accept refused: " + problem);
    else
      log::warn("accept_refused", {{"framework_id", fid}, {"reason", problem}});
    return;
  }
  for (auto& oid : offer_ids) {
    auto o = d.st.offers.find(oid);
    d.st.agents[agent_id].offered -= o->second.res;
    fw->offered -= o->second.res;
    d.st.offers.erase(o);
  }
  auto agent_it = d.st.agents.find(agent_id);
  if (agent_it == d.st.agents.end() || !agent_it->second.active) {
    d.alloc.recover(agent_id, fid, role, available);
    return;
  }
  auto& agent = agent_it->second;
  framework_entry fw_copy = *fw;
  for (auto op : v->getOperations()) {
    bool group = op.isLaunchGroup();
    auto ts = group ? op.getLaunchGroup() : op.getLaunch();
    auto plan = d.st.validate_launch(fid, agent_id, ts, available);
    if (group && !plan.errors.empty()) {
      // All or nothing: one bad task refuses the whole group.
      std::string why = "task group refused: task '" + plan.errors[0].first
                        + "': " + plan.errors[0].second;
      for (auto t : ts) {
        status_info st;
        st.task_id = t.getTaskId();
        st.state = schema::TaskState::ERROR;
        st.reason = "REASON_TASK_GROUP_INVALID";
        st.message = why;
        send_status(self, *fw, st);
      }
      continue;
    }
    for (auto& [tid, why] : plan.errors) {
      status_info st;
      st.task_id = tid;
      st.state = schema::TaskState::ERROR;
      st.reason = "REASON_TASK_INVALID";
      st.message = why;
      send_status(self, *fw, st);
    }
    size_t k = 0;
    for (auto t : ts) {
      if (k >= plan.ok.size() || plan.ok[k].task_id != std::string{t.getTaskId().cStr()})
        continue;
      auto& item = plan.ok[k++];
      available -= item.res;
      task_entry te;
      te.id = item.task_id;
      te.name = t.getName();
      te.framework_id = fid;
      te.role = role;
      te.agent_id = agent_id;
      bool has_executor = t.hasExecutor() && t.getExecutor().getExecutorId().size() > 0;
      te.executor_id = has_executor ? std::string{t.getExecutor().getExecutorId()}
                                    : item.task_id;
      te.res = item.res;
      status_info st0;
      st0.task_id = te.id;
      st0.state = schema::TaskState::STAGING;
      st0.timestamp = wall_seconds();
      st0.source = schema::StatusSource::MASTER;
      te.statuses.push_back(st0);
      agent.used += te.res;
      fw->used += te.res;
      auto run = make<schema::RunTask>([&](schema::RunTask::Builder b) {
        auto fi = b.initFramework();
        fi.setId(fw_copy.id);
        fi.setName(fw_copy.name);
        fi.setUser(fw_copy.user);
        fi.setPrincipal(fw_copy.principal);
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
      d.st.tasks.emplace(key_t{fid, te.id}, std::move(te));
      self->send(agent.handle, run);
    }
  }
  // What the launches left over goes back, filtered as asked.
  auto refuse = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(std::max(0.0, v->getFilters().getRefuseSeconds())));
  std::optional<allocator::time_point> until;
  if (refuse.count() > 0)
    until = self->clock().now() + refuse;
  d.alloc.recover(agent_id, fid, role, available, until);
}

void handle_status(master_actor* self, const status_update_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  auto s = v->getStatus();
  auto st = status_info::from_capnp(s);
  key_t key{st.framework_id, st.task_id};
  auto t = d.st.tasks.find(key);
  if (t != d.st.tasks.end()) {
    t->second.state = st.state;
    t->second.statuses.push_back(st);
    if (is_terminal(st.state)) {
      finish_task(self, key);
      request_allocation(self);
    }
  }
  auto f = d.st.frameworks.find(st.framework_id);
  if (f != d.st.frameworks.end() && f->second.handle) {
    self->send(f->second.handle, m); // the same bytes: no copy in-process
    return;
  }
  if (f == d.st.frameworks.end() || f->second.completed) {
    // Nobody will acknowledge: do it for the gone framework.
    auto sender = sender_of(self);
    if (sender && !st.uuid.empty())
      self->send(sender, make<schema::Acknowledge>([&](auto b) {
                   b.setFrameworkId(st.framework_id);
                   b.setAgentId(st.agent_id);
                   b.setTaskId(st.task_id);
                   b.setUuid(st.uuid);
                 }));
  }
  // Otherwise the scheduler is failing over; the agent retries later.
}

void reconcile(master_actor* self, const reconcile_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  std::string fid = v->getFrameworkId();
  auto* fw = caller(self, fid);
  if (!fw)
    return;
  auto latest = [&](const task_entry& t) {
    status_info st = t.statuses.empty() ? status_info{} : t.statuses.back();
    st.task_id = t.id;
    st.state = t.state;
    st.agent_id = t.agent_id;
    st.executor_id = t.executor_id;
    st.uuid.clear();
    st.reason = "REASON_RECONCILIATION";
    return st;
  };
  if (v->getTasks().size() == 0) {
    for (auto& [k, t] : d.st.tasks)
      if (t.framework_id == fid)
        send_status(self, *fw, latest(t));
    return;
  }
  for (auto rt : v->getTasks()) {
    std::string tid = rt.getTaskId();
    if (auto* t = d.st.find_task(fid, tid)) {
      send_status(self, *fw, latest(*t));
    } else {
      status_info st;
      st.task_id = tid;
      st.agent_id = rt.getAgentId();
      // Mesos: partition-aware frameworks learn TASK_UNKNOWN, others TASK_LOST.
      st.state = fw->partition_aware ? schema::TaskState::UNKNOWN : schema::TaskState::LOST;
      st.reason = "REASON_RECONCILIATION";
      st.message = "task is unknown to the master";
      send_status(self, *fw, st);
    }
  }
}

} // namespace caldera::detail
