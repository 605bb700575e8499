#include "master/master_state.hpp"

#include <set>

#include "actors/error.hpp"

namespace caldera {

framework_entry framework_from_info(schema::FrameworkInfo::Reader info) {
  framework_entry fe;
  fe.id = info.getId();
  fe.name = info.getName();
  fe.user = info.getUser();
  fe.principal = info.getPrincipal();
  fe.failover_timeout = info.getFailoverTimeout();
  for (auto c : info.getCapabilities())
    if (c == "PARTITION_AWARE")
      fe.partition_aware = true;
  for (auto r : info.getRoles())
    fe.roles.emplace_back(r);
  if (fe.roles.empty())
    fe.roles.push_back("*");
  return fe;
}

namespace {

// The executor resources task `t` of a launch calls for: what starting its
// executor takes (empty when it runs already, or has none), or a problem.
struct executor_need {
  bool starts_one = false; // the task's executor is neither charged nor started before
  resources starts;        // its resources then
  std::string problem;
};

executor_need executor_needs(schema::TaskInfo::Reader t, const executor_charges_map* charged,
                             const std::string& framework_id,
                             const std::map<std::string, resources>& started) {
  executor_need out;
  if (!t.hasExecutor() || t.getExecutor().getExecutorId().size() == 0)
    return out;
  std::string eid = t.getExecutor().getExecutorId();
  auto res = resources::from_capnp(t.getExecutor().getResources());
  if (!res) {
    out.problem = "invalid executor resources: " + describe(res.error());
    return out;
  }
  const resources* running = nullptr;
  if (auto i = started.find(eid); i != started.end())
    running = &i->second;
  else if (charged != nullptr)
    if (auto c = charged->find({framework_id, eid}); c != charged->end())
      running = &c->second.res;
  if (running != nullptr) {
    if (*running != *res)
      out.problem = "executor '" + eid + "' runs with resources "
                    + (running->empty() ? std::string{"(none)"} : running->to_string())
                    + ", not " + (res->empty() ? std::string{"(none)"} : res->to_string());
    return out;
  }
  out.starts_one = true;
  out.starts = std::move(*res);
  return out;
}

} // namespace

launch_plan master_state::validate_launch(
  const std::string& framework_id, const std::string& tasks_agent,
  capnp::List<schema::TaskInfo>::Reader launch, resources available) const {
  launch_plan plan;
  std::set<std::string> seen;
  std::map<std::string, resources> started; // executors this launch starts
  auto charged_it = executor_charges.find(tasks_agent);
  const executor_charges_map* charged =
    charged_it == executor_charges.end() ? nullptr : &charged_it->second;
  for (auto t : launch) {
    std::string id = t.getTaskId();
    auto fail = [&](std::string why) { plan.errors.emplace_back(id, std::move(why)); };
    if (auto why = basic_task_problem(framework_id, tasks_agent, t, seen); !why.empty()) {
      fail(std::move(why));
      continue;
    }
    auto res = resources::from_capnp(t.getResources());
    if (!res) {
      fail("invalid resources: " + describe(res.error()));
      continue;
    }
    if (res->empty()) {
      fail("task uses no resources");
      continue;
    }
    auto ex = executor_needs(t, charged, framework_id, started);
    if (!ex.problem.empty()) {
      fail(std::move(ex.problem));
      continue;
    }
    auto need = *res + ex.starts;
    if (!available.contains(need)) {
      fail("task needs " + need.to_string()
           + (ex.starts.empty() ? std::string{} : " (with its executor's " + ex.starts.to_string() + ")")
           + " but the offers have "
           + (available.empty() ? std::string{"nothing"} : available.to_string()) + " left");
      continue;
    }
    available -= need;
    if (ex.starts_one) // later tasks of this launch find it running
      started.emplace(std::string{t.getExecutor().getExecutorId()}, ex.starts);
    plan.ok.push_back(launch_item{id, std::move(*res), std::move(ex.starts)});
  }
  return plan;
}

std::string master_state::basic_task_problem(const std::string& framework_id,
                                             const std::string& tasks_agent,
                                             schema::TaskInfo::Reader t,
                                             std::set<std::string>& seen) const {
  std::string id = t.getTaskId();
  if (id.empty())
    return "task id is empty";
  if (!seen.insert(id).second)
    return "task id '" + id + "' is used twice in this launch";
  if (tasks.find({framework_id, id}) != tasks.end())
    return "task id '" + id + "' is already in use by an active task";
  std::string agent = t.getAgentId();
  if (!agent.empty() && agent != tasks_agent)
    return "task names agent '" + agent + "' but the offers are of agent '" + tasks_agent + "'";
  bool has_command = t.hasCommand() && t.getCommand().getShell().size() > 0;
  bool has_executor = t.hasExecutor() && t.getExecutor().getExecutorId().size() > 0;
  if (!has_command && !has_executor)
    return "task has neither a command nor an executor";
  return {};
}

executor_charges_map master_state::wanted_executor_charges(const std::string& agent_id) const {
  executor_charges_map out;
  auto keys = tasks_by_agent.find(agent_id);
  if (keys == tasks_by_agent.end())
    return out;
  for (auto& k : keys->second) {
    auto t = tasks.find(k);
    if (t == tasks.end() || t->second.executor_res.empty())
      continue;
    out.emplace(std::make_pair(t->second.framework_id, t->second.executor_id),
                executor_charge{t->second.executor_res, t->second.role});
  }
  return out;
}

reported_fate master_state::classify_reported(const std::pair<std::string, std::string>& key,
                                              schema::TaskState state, bool in_agent_lost,
                                              bool answered_lost) const {
  bool known = tasks.count(key) > 0;
  if (known)
    return reported_fate::active;
  if (is_terminal(state) && !in_agent_lost)
    return reported_fate::ended;
  auto* done = find_task(key.first, key.second);
  if (in_agent_lost || answered_lost || (done != nullptr && is_terminal(done->state)))
    return reported_fate::kill;
  return reported_fate::recovered;
}

status_effect master_state::apply_status(const status_info& st, bool told_lost) {
  if (auto t = tasks.find({st.framework_id, st.task_id}); t != tasks.end()) {
    t->second.state = st.state;
    t->second.statuses.push_back(st);
    t->second.launch.reset(); // the agent has it
    return is_terminal(st.state) ? status_effect::finished : status_effect::recorded;
  }
  auto* done = find_task(st.framework_id, st.task_id);
  if ((done != nullptr && is_terminal(done->state) && done->state != st.state)
      || (told_lost && st.state != schema::TaskState::LOST))
    return status_effect::superseded;
  if (done != nullptr && !is_terminal(done->state) && is_terminal(st.state)) {
    done->state = st.state;
    done->statuses.push_back(st);
    return status_effect::late_final;
  }
  return status_effect::passed_on;
}

offer_claim master_state::check_offers(const std::string& framework_id,
                                       const std::vector<std::string>& offer_ids) const {
  offer_claim c;
  for (auto& id : offer_ids) {
    auto o = offers.find(id);
    if (o == offers.end() || o->second.framework_id != framework_id)
      c.problem = "offer '" + id + "' is unknown or no longer valid";
    else if (!c.agent_id.empty() && c.agent_id != o->second.agent_id)
      c.problem = "offers of different agents in one accept";
    else if (!c.agent_id.empty() && c.role != o->second.role)
      c.problem = "offers of different roles in one accept";
    if (!c.problem.empty())
      return c;
    c.agent_id = o->second.agent_id;
    c.role = o->second.role;
    c.available += o->second.res;
    c.ids.push_back(id);
  }
  if (c.ids.empty())
    c.problem = "accept names no offers";
  return c;
}

// `te` by reference: a caller's key made from te's fields is read before
// anything is moved.
task_entry& master_state::add_task(const std::pair<std::string, std::string>& key,
                                   task_entry&& te) {
  auto [i, added] = tasks.emplace(key, std::move(te));
  if (added)
    tasks_by_agent[i->second.agent_id].insert(key);
  return i->second;
}

namespace {

void index_erase(std::map<std::string, std::set<std::string>>& index, const std::string& key,
                 const std::string& id) {
  auto i = index.find(key);
  if (i == index.end())
    return;
  i->second.erase(id);
  if (i->second.empty())
    index.erase(i);
}

std::vector<std::string> index_of(const std::map<std::string, std::set<std::string>>& index,
                                  const std::string& key) {
  auto i = index.find(key);
  if (i == index.end())
    return {};
  return {i->second.begin(), i->second.end()};
}

} // namespace

const offer_entry& master_state::add_offer(offer_entry o) {
  agents[o.agent_id].offered += o.res;
  frameworks[o.framework_id].offered += o.res;
  offers_by_agent[o.agent_id].insert(o.id);
  offers_by_framework[o.framework_id].insert(o.id);
  auto id = o.id;
  return offers.insert_or_assign(id, std::move(o)).first->second;
}

std::optional<offer_entry> master_state::take_offer(const std::string& id) {
  auto i = offers.find(id);
  if (i == offers.end())
    return std::nullopt;
  auto o = std::move(i->second);
  offers.erase(i);
  index_erase(offers_by_agent, o.agent_id, id);
  index_erase(offers_by_framework, o.framework_id, id);
  if (auto a = agents.find(o.agent_id); a != agents.end())
    a->second.offered -= o.res;
  if (auto f = frameworks.find(o.framework_id); f != frameworks.end())
    f->second.offered -= o.res;
  return o;
}

std::vector<std::string> master_state::offers_on(const std::string& agent_id) const {
  return index_of(offers_by_agent, agent_id);
}

std::vector<std::string> master_state::offers_to(const std::string& framework_id) const {
  return index_of(offers_by_framework, framework_id);
}

std::vector<std::pair<std::string, std::string>>
master_state::tasks_on(const std::string& agent_id) const {
  auto i = tasks_by_agent.find(agent_id);
  if (i == tasks_by_agent.end())
    return {};
  return {i->second.begin(), i->second.end()};
}

void master_state::complete_task(const std::pair<std::string, std::string>& key) {
  auto i = tasks.find(key);
  if (i == tasks.end())
    return;
  if (auto a = tasks_by_agent.find(i->second.agent_id); a != tasks_by_agent.end()) {
    a->second.erase(key);
    if (a->second.empty())
      tasks_by_agent.erase(a);
  }
  auto& done = completed_tasks[key.first];
  i->second.launch.reset();
  done.push_back(std::move(i->second));
  tasks.erase(i);
  while (done.size() > max_completed_tasks_per_framework)
    done.pop_front();
}

size_t master_state::completed_task_count() const {
  size_t n = 0;
  for (auto& [fid, done] : completed_tasks)
    n += done.size();
  return n;
}

void master_state::framework_completed(const std::string& framework_id) {
  completed_frameworks.push_back(framework_id);
  while (completed_frameworks.size() > max_completed_frameworks) {
    completed_tasks.erase(completed_frameworks.front());
    completed_frameworks.pop_front();
  }
}

const task_entry* master_state::find_task(const std::string& framework_id,
                                          const std::string& task_id) const {
  if (auto i = tasks.find({framework_id, task_id}); i != tasks.end())
    return &i->second;
  if (auto done = completed_tasks.find(framework_id); done != completed_tasks.end())
    for (auto i = done->second.rbegin(); i != done->second.rend(); ++i)
      if (i->id == task_id)
        return &*i;
  return nullptr;
}

void fill_framework_state(schema::FrameworkState::Builder b, const framework_entry& f) {
  b.setId(f.id);
  b.setName(f.name);
  b.setUser(f.user);
  auto roles = b.initRoles(static_cast<unsigned>(f.roles.size()));
  for (unsigned j = 0; j < f.roles.size(); ++j)
    roles.set(j, f.roles[j]);
  b.setActive(f.active && !f.completed);
  b.setCompleted(f.completed);
  b.setRegisteredAt(f.registered_at);
  f.used.to_capnp(b.initUsedResources(static_cast<unsigned>(f.used.entry_count())));
  f.offered.to_capnp(b.initOfferedResources(static_cast<unsigned>(f.offered.entry_count())));
}

state_msg master_state::snapshot(const std::string& master_id, double started_at,
                                 uint32_t recovered_agents,
                                 uint32_t recovered_frameworks,
                                 double last_allocation_ms) const {
  capnp::MallocMessageBuilder mb;
  auto st = mb.initRoot<schema::State>();
  st.setMasterId(master_id);
  st.setStartedAt(started_at);
  st.setRecoveredAgents(recovered_agents);
  st.setRecoveredFrameworks(recovered_frameworks);
  st.setOutstandingOffers(static_cast<uint32_t>(offers.size()));
  st.setLastAllocationMs(last_allocation_ms);
  auto as = st.initAgents(static_cast<unsigned>(agents.size()));
  unsigned i = 0;
  for (auto& [id, a] : agents) {
    auto b = as[i++];
    b.setId(a.id);
    b.setHostname(a.hostname);
    b.setEndpoint(a.endpoint);
    b.setActive(a.active);
    b.setUnreachable(a.unreachable);
    b.setRegisteredAt(a.registered_at);
    b.setHttpEndpoint(a.http_endpoint);
    b.setUnhealthy(a.unhealthy);
    fill_attributes(b.initAttributes(static_cast<unsigned>(a.attributes.size())), a.attributes);
    a.total.to_capnp(b.initResources(static_cast<unsigned>(a.total.entry_count())));
    a.used.to_capnp(b.initUsedResources(static_cast<unsigned>(a.used.entry_count())));
    a.offered.to_capnp(
      b.initOfferedResources(static_cast<unsigned>(a.offered.entry_count())));
  }
  auto fs = st.initFrameworks(static_cast<unsigned>(frameworks.size()));
  i = 0;
  for (auto& [id, f] : frameworks)
    fill_framework_state(fs[i++], f);
  auto ts = st.initTasks(static_cast<unsigned>(tasks.size() + completed_task_count()));
  i = 0;
  auto put = [&](const task_entry& t) {
    auto b = ts[i++];
    b.setId(t.id);
    b.setName(t.name);
    b.setFrameworkId(t.framework_id);
    b.setAgentId(t.agent_id);
    b.setExecutorId(t.executor_id);
    b.setState(t.state);
    t.res.to_capnp(b.initResources(static_cast<unsigned>(t.res.entry_count())));
    auto ss = b.initStatuses(static_cast<unsigned>(t.statuses.size()));
    for (unsigned j = 0; j < t.statuses.size(); ++j)
      t.statuses[j].to_capnp(ss[j]);
  };
  for (auto& [fid, done] : completed_tasks)
    for (auto& t : done)
      put(t);
  for (auto& [k, t] : tasks)
    put(t);
  size_t n = 0;
  for (auto& [aid, m] : executor_charges)
    n += m.size();
  auto es = st.initExecutors(static_cast<unsigned>(n));
  i = 0;
  for (auto& [aid, m] : executor_charges)
    for (auto& [key, c] : m) {
      auto b = es[i++];
      b.setFrameworkId(key.first);
      b.setAgentId(aid);
      b.setExecutorId(key.second);
      b.setRole(c.role);
      c.res.to_capnp(b.initResources(static_cast<unsigned>(c.res.entry_count())));
    }
  return state_msg{mb};
}

} // namespace caldera
