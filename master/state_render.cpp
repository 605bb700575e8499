#include "master/state_render.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "actors/resources.hpp"
#include "actors/status.hpp"

namespace caldera {

namespace {

std::string_view sv(capnp::Text::Reader t) {
  return {t.cStr(), t.size()};
}

const char* source_name(schema::StatusSource s) {
  switch (s) {
    case schema::StatusSource::MASTER:
      return "SOURCE_MASTER";
    case schema::StatusSource::AGENT:
      return "SOURCE_SLAVE";
    default:
      return "SOURCE_EXECUTOR";
  }
}

bool done(schema::TaskEntry::Reader t) {
  return is_terminal(t.getState()) || t.getState() == schema::TaskState::UNREACHABLE;
}

void write_ranges(json_writer& w, const std::vector<resources::range>& rs) {
  std::string s = "[";
  for (size_t i = 0; i < rs.size(); ++i) {
    if (i > 0)
      s += ',';
    s += std::to_string(rs[i].first) + "-" + std::to_string(rs[i].second);
  }
  s += ']';
  w.value(s);
}

void write_resources(json_writer& w, const resources& r, bool unreserved_only) {
  w.begin_object();
  for (auto& [k, v] : r.entries()) {
    if (k.second == "*")
      w.key(k.first);
    else if (unreserved_only)
      continue;
    else
      w.key(k.first + "(" + k.second + ")");
    if (v.is_ranges)
      write_ranges(w, v.ranges);
    else
      w.value(static_cast<double>(v.milli) / 1000.0);
  }
  w.end_object();
}

void write_strings(json_writer& w, capnp::List<capnp::Text>::Reader xs) {
  w.begin_array();
  for (auto x : xs)
    w.value(sv(x));
  w.end_array();
}

} // namespace

void write_resources(json_writer& w, capnp::List<schema::Resource>::Reader xs) {
  auto r = resources::from_capnp(xs);
  write_resources(w, r ? *r : resources{}, false);
}

// An executor the master charges: Mesos' ExecutorInfo as /state shows it.
void write_executor(json_writer& w, schema::ExecutorEntry::Reader e) {
  w.begin_object();
  w.field("executor_id", sv(e.getExecutorId()));
  w.field("framework_id", sv(e.getFrameworkId()));
  w.field("slave_id", sv(e.getAgentId()));
  w.field("agent_id", sv(e.getAgentId()));
  w.field("role", sv(e.getRole()));
  w.key("resources");
  write_resources(w, e.getResources());
  w.end_object();
}

namespace {

using executors_map = std::map<std::string_view, std::vector<schema::ExecutorEntry::Reader>>;

executors_map executors_by_framework(schema::State::Reader st) {
  executors_map out;
  for (auto e : st.getExecutors())
    out[sv(e.getFrameworkId())].push_back(e);
  return out;
}

// A framework's "executors": those the master charges (Mesos' shape).
void write_executors(json_writer& w, const executors_map& all, std::string_view fid) {
  w.key("executors").begin_array();
  if (auto es = all.find(fid); es != all.end())
    for (auto e : es->second)
      write_executor(w, e);
  w.end_array();
}

} // namespace

double first_status_time(schema::TaskEntry::Reader t) {
  auto ss = t.getStatuses();
  return ss.size() > 0 ? ss[0].getTimestamp() : 0;
}

void write_task(json_writer& w, schema::TaskEntry::Reader t) {
  w.begin_object();
  w.field("id", sv(t.getId()));
  w.field("name", sv(t.getName()));
  w.field("framework_id", sv(t.getFrameworkId()));
  w.field("executor_id", sv(t.getExecutorId()));
  w.field("slave_id", sv(t.getAgentId()));
  w.field("agent_id", sv(t.getAgentId()));
  w.field("state", state_name(t.getState()));
  w.key("resources");
  write_resources(w, t.getResources());
  w.key("statuses").begin_array();
  for (auto s : t.getStatuses()) {
    w.begin_object();
    w.field("state", state_name(s.getState()));
    w.field("timestamp", s.getTimestamp());
    w.field("source", source_name(s.getSource()));
    if (s.getReason().size() > 0)
      w.field("reason", sv(s.getReason()));
    if (s.getMessage().size() > 0)
      w.field("message", sv(s.getMessage()));
    if (s.getHasExitCode())
      w.field("exit_code", s.getExitCode());
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void write_agent(json_writer& w, schema::AgentState::Reader a,
                 const std::function<void(json_writer&)>& extra) {
  w.begin_object();
  w.field("id", sv(a.getId()));
  w.field("hostname", sv(a.getHostname()));
  w.field("pid", "agent@" + std::string{sv(a.getEndpoint())});
  w.field("endpoint", sv(a.getEndpoint()));
  w.field("http_endpoint", sv(a.getHttpEndpoint()));
  w.field("active", a.getActive());
  w.field("unreachable", a.getUnreachable());
  if (a.getUnhealthy().size() > 0)
    w.field("unhealthy", sv(a.getUnhealthy())); // caldera's: why it takes no tasks
  w.field("registered_time", a.getRegisteredAt());
  w.key("attributes").begin_object();
  for (auto at : a.getAttributes())
    w.field(sv(at.getName()), sv(at.getValue()));
  w.end_object();
  auto total = resources::from_capnp(a.getResources());
  w.key("resources");
  write_resources(w, total ? *total : resources{}, false);
  w.key("used_resources");
  write_resources(w, a.getUsedResources());
  w.key("offered_resources");
  write_resources(w, a.getOfferedResources());
  w.key("unreserved_resources");
  write_resources(w, total ? *total : resources{}, true);
  if (extra)
    extra(w);
  w.end_object();
}

void state_renderer::task(json_writer& w, schema::TaskEntry::Reader t) {
  std::string k;
  k.reserve(t.getFrameworkId().size() + t.getId().size() + 1);
  k.append(sv(t.getFrameworkId())).append(1, '\0').append(sv(t.getId()));
  auto& c = tasks_[std::move(k)];
  auto n = t.getStatuses().size();
  auto st = static_cast<uint16_t>(t.getState());
  if (c.text.empty() || c.statuses != n || c.state != st) {
    c.text.clear();
    json_writer one{c.text};
    write_task(one, t);
    c.statuses = n;
    c.state = st;
  }
  c.seen = generation_;
  w.raw(c.text);
}

void state_renderer::write_frameworks(json_writer& w, schema::State::Reader st,
                                      const master_http_info& info, state_renderer* self,
                                      const std::string& only) {
  // Tasks by framework, active and done, each in order of first status.
  struct lists {
    std::vector<schema::TaskEntry::Reader> active, done;
  };
  std::vector<schema::TaskEntry::Reader> all;
  all.reserve(st.getTasks().size());
  for (auto t : st.getTasks())
    if (only.empty() || sv(t.getFrameworkId()) == only)
      all.push_back(t);
  std::stable_sort(all.begin(), all.end(),
                   [](auto a, auto b) { return first_status_time(a) < first_status_time(b); });
  std::map<std::string_view, lists> by_fw;
  for (auto t : all)
    (done(t) ? by_fw[sv(t.getFrameworkId())].done : by_fw[sv(t.getFrameworkId())].active)
      .push_back(t);
  auto emit = [&](schema::TaskEntry::Reader t) {
    if (self)
      self->task(w, t);
    else
      write_task(w, t);
  };
  auto executors = executors_by_framework(st);
  static const lists none;
  auto framework = [&](schema::FrameworkState::Reader f) {
    auto i = by_fw.find(sv(f.getId()));
    const lists& ts = i == by_fw.end() ? none : i->second;
    w.begin_object();
    w.field("id", sv(f.getId()));
    w.field("name", sv(f.getName()));
    w.field("user", sv(f.getUser()));
    w.field("role", f.getRoles().size() > 0 ? sv(f.getRoles()[0]) : std::string_view{"*"});
    w.key("roles");
    write_strings(w, f.getRoles());
    w.field("active", f.getActive());
    w.field("connected", f.getActive());
    w.field("registered_time", f.getRegisteredAt());
    resources both;
    if (auto used = resources::from_capnp(f.getUsedResources()))
      both += *used;
    if (auto offered = resources::from_capnp(f.getOfferedResources()))
      both += *offered;
    w.key("resources");
    write_resources(w, both, false);
    w.key("used_resources");
    write_resources(w, f.getUsedResources());
    w.key("offered_resources");
    write_resources(w, f.getOfferedResources());
    w.key("tasks").begin_array();
    for (auto t : ts.active)
      emit(t);
    w.end_array();
    w.key("completed_tasks").begin_array();
    size_t max_done = info.max_completed_tasks_per_framework;
    for (size_t k = ts.done.size() > max_done ? ts.done.size() - max_done : 0;
         k < ts.done.size(); ++k)
      emit(ts.done[k]);
    w.end_array();
    w.key("unreachable_tasks").begin_array().end_array();
    write_executors(w, executors, sv(f.getId()));
    w.end_object();
  };
  std::vector<schema::FrameworkState::Reader> active, completed;
  for (auto f : st.getFrameworks())
    if (only.empty() || sv(f.getId()) == only)
      (f.getCompleted() ? completed : active).push_back(f);
  w.key("frameworks").begin_array();
  for (auto f : active)
    framework(f);
  w.end_array();
  // The newest completed frameworks, as many as Mesos keeps.
  w.key("completed_frameworks").begin_array();
  size_t max_fw = info.max_completed_frameworks;
  for (size_t k = completed.size() > max_fw ? completed.size() - max_fw : 0;
       k < completed.size(); ++k)
    framework(completed[k]);
  w.end_array();
  w.key("unregistered_frameworks").begin_array().end_array();
}

std::string state_renderer::render(const published_state& p) {
  ++generation_;
  auto v = p.state.read_trusted();
  auto st = v.get();
  std::string out;
  out.reserve(last_size_ + last_size_ / 8);
  json_writer w{out};
  w.begin_object();
  w.field("version", "0.1.0");
  w.field("id", sv(st.getMasterId()));
  w.field("pid", info_.pid);
  w.field("hostname", info_.hostname);
  w.field("start_time", st.getStartedAt());
  w.field("elected_time", info_.leader ? info_.leader->since : st.getStartedAt());
  w.field("leader", info_.pid);
  if (info_.leader) {
    w.field("epoch", info_.leader->epoch);
    w.field("coordinator", info_.coordinator);
  }
  uint64_t activated = 0, deactivated = 0, unreachable = 0;
  for (auto a : st.getAgents())
    (a.getUnreachable() ? unreachable : a.getActive() ? activated : deactivated)++;
  w.field("activated_slaves", activated);
  w.field("deactivated_slaves", deactivated);
  w.field("unreachable_slaves", unreachable);
  w.key("flags").begin_object();
  for (auto& [k, x] : info_.flags)
    w.field(k, x);
  w.end_object();
  w.key("slaves").begin_array();
  for (auto a : st.getAgents())
    write_agent(w, a);
  w.end_array();
  write_frameworks(w, st, info_, this);
  w.key("orphan_tasks").begin_array().end_array();
  w.end_object();
  // Tasks gone from the snapshot leave the cache.
  for (auto i = tasks_.begin(); i != tasks_.end();)
    i = i->second.seen == generation_ ? std::next(i) : tasks_.erase(i);
  last_size_ = out.size();
  return out;
}

} // namespace caldera
