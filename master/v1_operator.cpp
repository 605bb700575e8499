#include "master/v1_operator.hpp"

#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include <caf/event_based_actor.hpp>
#include <httplib.h>

#include "actors/auth_client.hpp"
#include "actors/error.hpp"
#include "actors/metrics.hpp"
#include "actors/status.hpp"
#include "actors/v1_http.hpp"
#include "actors/v1_json.hpp"

namespace caldera {

using json = nlohmann::json;
using v1::id_json;

namespace {

json res_of(capnp::List<schema::Resource>::Reader xs) {
  auto r = resources::from_capnp(xs);
  return v1::resources_json_v1(r ? *r : resources{});
}

json time_of(double seconds) {
  return {{"nanoseconds", static_cast<int64_t>(std::llround(seconds * 1e9))}};
}

json agent_json(schema::AgentState::Reader a) {
  json attrs = json::array();
  for (auto x : a.getAttributes())
    attrs.push_back({{"name", x.getName().cStr()},
                     {"type", "TEXT"},
                     {"text", {{"value", x.getValue().cStr()}}}});
  std::string endpoint = a.getEndpoint();
  auto colon = endpoint.rfind(':');
  json info{{"id", id_json(a.getId())},
            {"hostname", a.getHostname().cStr()},
            {"resources", res_of(a.getResources())},
            {"attributes", std::move(attrs)}};
  if (colon != std::string::npos)
    info["port"] = std::atoi(endpoint.c_str() + colon + 1);
  return {{"agent_info", std::move(info)},
          {"active", a.getActive()},
          {"pid", "slave(1)@" + endpoint},
          {"registered_time", time_of(a.getRegisteredAt())},
          {"total_resources", res_of(a.getResources())},
          {"allocated_resources", res_of(a.getUsedResources())},
          {"offered_resources", res_of(a.getOfferedResources())}};
}

json framework_info_json(schema::FrameworkState::Reader f) {
  json roles = json::array();
  for (auto r : f.getRoles())
    roles.push_back(r.cStr());
  return {{"id", id_json(f.getId())},
          {"name", f.getName().cStr()},
          {"user", f.getUser().cStr()},
          {"roles", std::move(roles)},
          {"capabilities", json::array({{{"type", "MULTI_ROLE"}}})}};
}

json framework_json(schema::FrameworkState::Reader f) {
  return {{"framework_info", framework_info_json(f)},
          {"active", f.getActive()},
          {"connected", f.getActive()},
          {"recovered", false},
          {"registered_time", time_of(f.getRegisteredAt())},
          {"allocated_resources", res_of(f.getUsedResources())},
          {"offered_resources", res_of(f.getOfferedResources())}};
}

json task_json(schema::TaskEntry::Reader t) {
  json statuses = json::array();
  for (auto s : t.getStatuses())
    statuses.push_back(v1::status_json(status_info::from_capnp(s)));
  json j{{"name", t.getName().cStr()},
         {"task_id", id_json(t.getId())},
         {"framework_id", id_json(t.getFrameworkId())},
         {"agent_id", id_json(t.getAgentId())},
         {"state", state_name(t.getState())},
         {"resources", res_of(t.getResources())},
         {"statuses", std::move(statuses)}};
  if (t.getExecutorId().size() > 0)
    j["executor_id"] = id_json(t.getExecutorId());
  return j;
}

// The latest status of a task (what TASK_UPDATED carries).
json latest_status(schema::TaskEntry::Reader t) {
  auto ss = t.getStatuses();
  if (ss.size() > 0)
    return v1::status_json(status_info::from_capnp(ss[ss.size() - 1]));
  return {{"task_id", id_json(t.getId())}, {"state", state_name(t.getState())}};
}

using task_key = std::pair<std::string, std::string>;

struct indexed {
  std::map<task_key, std::pair<schema::TaskState, schema::TaskEntry::Reader>> tasks;
  std::map<std::string, schema::AgentState::Reader> agents;
  std::map<std::string, schema::FrameworkState::Reader> frameworks;
};

indexed index_of(schema::State::Reader s) {
  indexed x;
  for (auto t : s.getTasks())
    x.tasks.emplace(task_key{t.getFrameworkId(), t.getId()}, std::make_pair(t.getState(), t));
  for (auto a : s.getAgents())
    if (!a.getUnreachable())
      x.agents.emplace(a.getId(), a);
  for (auto f : s.getFrameworks())
    x.frameworks.emplace(f.getId(), f);
  return x;
}

void agent_events(const indexed& b, const indexed& a, std::vector<json>& out) {
  for (auto& [id, ag] : a.agents)
    if (b.agents.count(id) == 0)
      out.push_back({{"type", "AGENT_ADDED"}, {"agent_added", {{"agent", agent_json(ag)}}}});
  for (auto& [id, ag] : b.agents)
    if (a.agents.count(id) == 0)
      out.push_back({{"type", "AGENT_REMOVED"}, {"agent_removed", {{"agent_id", id_json(id)}}}});
}

// Completed frameworks are in the snapshots too: one that came and went
// between two snapshots is added and removed.
void framework_events(const indexed& b, const indexed& a, std::vector<json>& out) {
  auto removed = [&](schema::FrameworkState::Reader f) {
    out.push_back({{"type", "FRAMEWORK_REMOVED"},
                   {"framework_removed", {{"framework_info", framework_info_json(f)}}}});
  };
  for (auto& [id, f] : a.frameworks) {
    auto old = b.frameworks.find(id);
    if (old == b.frameworks.end()) {
      out.push_back({{"type", "FRAMEWORK_ADDED"},
                     {"framework_added", {{"framework", framework_json(f)}}}});
      if (f.getCompleted())
        removed(f);
    } else if (!old->second.getCompleted() && f.getCompleted()) {
      removed(f);
    } else if (!f.getCompleted() && old->second.getActive() != f.getActive()) {
      out.push_back({{"type", "FRAMEWORK_UPDATED"},
                     {"framework_updated", {{"framework", framework_json(f)}}}});
    }
  }
  for (auto& [id, f] : b.frameworks)
    if (a.frameworks.count(id) == 0 && !f.getCompleted())
      removed(f);
}

void task_events(const indexed& b, const indexed& a, std::vector<json>& out) {
  for (auto& [key, t] : a.tasks) {
    auto old = b.tasks.find(key);
    if (old == b.tasks.end())
      out.push_back({{"type", "TASK_ADDED"}, {"task_added", {{"task", task_json(t.second)}}}});
    if (old == b.tasks.end() ? t.first != schema::TaskState::STAGING : old->second.first != t.first)
      out.push_back({{"type", "TASK_UPDATED"},
                     {"task_updated",
                      {{"framework_id", id_json(key.first)},
                       {"state", state_name(t.first)},
                       {"status", latest_status(t.second)}}}});
  }
}

json response(const char* type, const char* field, json body) {
  return {{"type", type}, {field, std::move(body)}};
}

void reply(httplib::Response& res, const json& j) {
  res.status = 200;
  res.set_content(j.dump(), "application/json");
}

using snapshot = std::shared_ptr<const published_state>;
using getter = std::function<json(const published_state&)>;

} // namespace

namespace v1op {

json get_agents(const published_state& p) {
  json agents = json::array(), recovered = json::array();
  auto st = p.state.read_trusted(); // owns what the loop reads
  for (auto a : st->getAgents())
    if (!a.getUnreachable())
      agents.push_back(agent_json(a));
  return {{"agents", std::move(agents)}, {"recovered_agents", std::move(recovered)}};
}

json get_frameworks(const published_state& p) {
  json fws = json::array(), done = json::array();
  auto st = p.state.read_trusted(); // owns what the loop reads
  for (auto f : st->getFrameworks())
    (f.getCompleted() ? done : fws).push_back(framework_json(f));
  return {{"frameworks", std::move(fws)}, {"completed_frameworks", std::move(done)}};
}

json get_executors(const published_state& p) {
  json execs = json::array();
  auto st = p.state.read_trusted(); // owns what the loop reads
  for (auto e : st->getExecutors())
    execs.push_back({{"agent_id", id_json(e.getAgentId())},
                     {"executor_info",
                      {{"executor_id", id_json(e.getExecutorId())},
                       {"framework_id", id_json(e.getFrameworkId())},
                       {"resources", res_of(e.getResources())}}}});
  return {{"executors", std::move(execs)}};
}

json get_tasks(const published_state& p) {
  json active = json::array(), done = json::array(), unreachable = json::array();
  auto st = p.state.read_trusted(); // owns what the loop reads
  for (auto t : st->getTasks()) {
    auto s = t.getState();
    auto& to = s == schema::TaskState::UNREACHABLE ? unreachable : is_terminal(s) ? done : active;
    to.push_back(task_json(t));
  }
  return {{"tasks", std::move(active)},
          {"completed_tasks", std::move(done)},
          {"unreachable_tasks", std::move(unreachable)},
          {"pending_tasks", json::array()},
          {"orphan_tasks", json::array()}};
}

json get_state(const published_state& p) {
  return {{"get_tasks", get_tasks(p)},
          {"get_executors", get_executors(p)},
          {"get_frameworks", get_frameworks(p)},
          {"get_agents", get_agents(p)}};
}

json get_roles(const published_state& p) {
  json roles = json::array();
  auto ro = p.roles.read_trusted(); // owns what the loop reads
  for (auto r : ro->getRoles()) {
    json fws = json::array();
    for (auto f : r.getFrameworks())
      fws.push_back(id_json(f));
    roles.push_back({{"name", r.getRole().cStr()},
                     {"weight", r.getWeight()},
                     {"frameworks", std::move(fws)},
                     {"resources", res_of(r.getAllocated())}});
  }
  return {{"roles", std::move(roles)}};
}

std::vector<json> events_between(const published_state* before, const published_state& after) {
  auto after_view = after.state.read_trusted(); // the views own what the indexes read
  indexed a = index_of(*after_view);
  std::vector<json> out;
  auto diff = [&](const indexed& b) {
    agent_events(b, a, out);
    framework_events(b, a, out);
    task_events(b, a, out);
  };
  if (before == nullptr) {
    diff(indexed{});
    return out;
  }
  auto before_view = before->state.read_trusted();
  diff(index_of(*before_view));
  return out;
}

} // namespace v1op

namespace {

json get_weights(const published_state& p) {
  json infos = json::array();
  auto ro = p.roles.read_trusted(); // owns what the loop reads
  for (auto r : ro->getRoles())
    infos.push_back({{"role", r.getRole().cStr()}, {"weight", r.getWeight()}});
  return {{"weight_infos", std::move(infos)}};
}

json get_quota(const published_state& p) {
  json infos = json::array(), configs = json::array();
  auto ro = p.roles.read_trusted(); // owns what the loop reads
  for (auto r : ro->getRoles()) {
    if (r.getGuarantee().size() == 0 && r.getLimit().size() == 0)
      continue;
    auto scalars = [](capnp::List<schema::Resource>::Reader xs) {
      json m = json::object();
      if (auto res = resources::from_capnp(xs))
        for (auto& [name, v] : res->scalars())
          m[name] = {{"value", v}};
      return m;
    };
    infos.push_back({{"role", r.getRole().cStr()}, {"guarantee", res_of(r.getGuarantee())}});
    configs.push_back({{"role", r.getRole().cStr()},
                       {"guarantees", scalars(r.getGuarantee())},
                       {"limits", scalars(r.getLimit())}});
  }
  return {{"status", {{"infos", std::move(infos)}, {"configs", std::move(configs)}}}};
}

// The calls answered from a snapshot: the response's type, its field, how.
const std::map<std::string, std::pair<std::string, getter>>& snapshot_calls() {
  static const std::map<std::string, std::pair<std::string, getter>> table{
    {"GET_STATE", {"get_state", v1op::get_state}},
    {"GET_AGENTS", {"get_agents", v1op::get_agents}},
    {"GET_FRAMEWORKS", {"get_frameworks", v1op::get_frameworks}},
    {"GET_EXECUTORS", {"get_executors", v1op::get_executors}},
    {"GET_TASKS", {"get_tasks", v1op::get_tasks}},
    {"GET_ROLES", {"get_roles", v1op::get_roles}},
    {"GET_WEIGHTS", {"get_weights", get_weights}},
    {"GET_QUOTA", {"get_quota", get_quota}},
  };
  return table;
}

void info_call(const std::string& type, const master_http_info& info, httplib::Response& res) {
  if (type == "GET_HEALTH") {
    bool ok = !info.registry || info.registry->get().first;
    return reply(res, response("GET_HEALTH", "get_health", {{"healthy", ok}}));
  }
  if (type == "GET_VERSION")
    return reply(res, response("GET_VERSION", "get_version",
                               {{"version_info", {{"version", "0.1.0"}}}}));
  json flags = json::array();
  for (auto& [k, v] : info.flags)
    flags.push_back({{"name", k}, {"value", v}});
  reply(res, response("GET_FLAGS", "get_flags", {{"flags", std::move(flags)}}));
}

// --- UPDATE_WEIGHTS, UPDATE_QUOTA: the master's answer, deferred ------------

int status_of(const caf::error& err) {
  if (err.category() == caf::atom("caldera")) {
    auto code = static_cast<errc>(err.code());
    return code == errc::unauthenticated ? 401 : code == errc::unauthorized ? 403 : 400;
  }
  return 503; // no answer in time, or the master is gone
}

// Each of `calls` to the master in turn (as the caller's principal, proven
// with its Basic credentials); the reply once all are done or one failed.
void ask_master(const v1_scheduler_api& api, std::optional<credential> who,
                std::vector<caf::message> calls, std::shared_ptr<http_deferred> d) {
  api.sys->spawn([master = api.master, who, calls, d](caf::event_based_actor* self) {
    auto fail = [d, self](const caf::error& err) {
      d->complete([&](httplib::Response& r) { v1::reply_text(r, status_of(err), describe(err)); });
      self->quit();
    };
    auto next = std::make_shared<std::function<void(size_t)>>();
    *next = [=](size_t i) {
      if (i == calls.size()) {
        d->complete([](httplib::Response& r) { r.status = 200; });
        return self->quit();
      }
      self->request(master, std::chrono::seconds(10), calls[i])
        .then([next, i](const roles_msg&) { (*next)(i + 1); }, fail);
    };
    if (who)
      authenticate_to(self, master, *who, [next, fail](const caf::error& err) {
        if (err)
          return fail(err);
        (*next)(0);
      });
    else
      (*next)(0);
  });
}

std::vector<caf::message> weight_calls(const json& call) {
  auto* u = v1::object_at(call, "update_weights", "");
  if (u == nullptr)
    throw v1::v1_error("Expecting 'update_weights' to be present");
  auto& infos = v1::array_at(*u, "weight_infos", "update_weights");
  auto m = make<schema::SetWeights>([&](schema::SetWeights::Builder b) {
    auto ws = b.initWeights(static_cast<unsigned>(infos.size()));
    for (unsigned i = 0; i < infos.size(); ++i) {
      ws[i].setRole(v1::text_at(infos[i], "role", "update_weights.weight_infos"));
      ws[i].setWeight(v1::number_at(infos[i], "weight", "update_weights.weight_infos", 0));
    }
  });
  return {caf::make_message(std::move(m))};
}

// {"cpus": {"value": 1}} (Mesos' QuotaConfig) as resources.
resources quota_resources(const json* m, const std::string& where) {
  resources r;
  if (m == nullptr)
    return r;
  for (auto& [name, v] : m->items())
    r.add_scalar(name, v1::number_at(v, "value", where + "." + name, -1));
  return r;
}

std::vector<caf::message> quota_calls(const json& call) {
  auto* u = v1::object_at(call, "update_quota", "");
  if (u == nullptr)
    throw v1::v1_error("Expecting 'update_quota' to be present");
  std::vector<caf::message> out;
  for (auto& c : v1::array_at(*u, "quota_configs", "update_quota")) {
    const std::string w = "update_quota.quota_configs";
    auto g = quota_resources(v1::object_at(c, "guarantees", w), w + ".guarantees");
    auto l = quota_resources(v1::object_at(c, "limits", w), w + ".limits");
    out.push_back(caf::make_message(make<schema::SetQuota>([&](schema::SetQuota::Builder b) {
      b.setRole(v1::text_at(c, "role", w));
      g.to_capnp(b.initGuarantee(static_cast<unsigned>(g.entry_count())));
      l.to_capnp(b.initLimit(static_cast<unsigned>(l.entry_count())));
      b.setRemove(g.empty() && l.empty());
    })));
  }
  if (out.empty())
    throw v1::v1_error("'update_quota.quota_configs' is empty");
  return out;
}

void update_call(const master_http_info& info, const std::string& type, const json& call,
                 const httplib::Request& req, httplib::Response& res) {
  if (!info.v1)
    return v1::reply_text(res, 503, "the master takes no updates here");
  std::vector<caf::message> calls;
  try {
    calls = type == "UPDATE_WEIGHTS" ? weight_calls(call) : quota_calls(call);
  } catch (const v1::v1_error& e) {
    return v1::reply_text(res, 400, std::string{"Failed to validate master::Call: "} + e.what());
  }
  std::optional<credential> who;
  if (auto basic = http_basic(req, info.security))
    who = credential{basic->first, basic->second};
  ask_master(*info.v1, std::move(who), std::move(calls), http_defer_reply(res));
}

void operator_endpoint(state_box& box, const master_http_info& info, v1_operator_hub& hub,
                       const httplib::Request& req, httplib::Response& res) {
  if (!v1::check_media(req, res))
    return;
  std::string type;
  json call;
  try {
    call = json::parse(req.body);
    type = call.is_object() ? v1::text_at(call, "type", "") : "";
  } catch (const std::exception& e) {
    return v1::reply_text(res, 400, std::string{"Failed to parse body into JSON: "} + e.what());
  }
  metrics::message_received("v1_operator_call");
  if (type == "GET_HEALTH" || type == "GET_VERSION" || type == "GET_FLAGS")
    return info_call(type, info, res);
  if (type == "UPDATE_WEIGHTS" || type == "UPDATE_QUOTA")
    return update_call(info, type, call, req, res);
  if (type == "SUBSCRIBE") {
    auto s = http_stream_reply(res, v1::wants_recordio(req) ? "application/recordio"
                                                            : "application/json",
                               std::size_t{64} << 20);
    if (v1::wants_recordio(req))
      res.set_header("Message-Content-Type", "application/json");
    return hub.subscribe(std::move(s), 15);
  }
  auto c = snapshot_calls().find(type);
  if (c == snapshot_calls().end())
    return v1::reply_text(res, 400, type.empty() ? "Expecting 'type' to be present"
                                                 : "'type' '" + type + "' is not a call caldera "
                                                   "serves on /api/v1");
  auto p = box.get();
  if (!p)
    return v1::reply_text(res, 503, "the master has not published its state yet");
  reply(res, response(type.c_str(), c->second.first.c_str(), c->second.second(*p)));
}

} // namespace

void v1_operator_hub::on_snapshot(const std::shared_ptr<const published_state>& p) {
  std::lock_guard<std::mutex> g{m_};
  if (!streams_.empty())
    for (auto& e : v1op::events_between(last_.get(), *p))
      broadcast(v1::recordio(e));
  last_ = p;
}

// The state is rendered outside the lock (at 100,000 tasks it takes a
// while, and snapshots keep coming); what changed meanwhile follows it.
void v1_operator_hub::subscribe(std::shared_ptr<http_stream> s, double heartbeat_seconds) {
  std::shared_ptr<const published_state> base;
  {
    std::lock_guard<std::mutex> g{m_};
    base = last_;
  }
  json state = base ? v1op::get_state(*base) : json::object();
  auto first = v1::recordio({{"type", "SUBSCRIBED"},
                             {"subscribed",
                              {{"get_state", std::move(state)},
                               {"heartbeat_interval_seconds", heartbeat_seconds}}}});
  std::lock_guard<std::mutex> g{m_};
  s->write(first);
  if (last_ && last_ != base)
    for (auto& e : v1op::events_between(base.get(), *last_))
      s->write(v1::recordio(e));
  streams_.push_back(std::move(s));
}

void v1_operator_hub::heartbeat() {
  std::lock_guard<std::mutex> g{m_};
  broadcast(v1::recordio({{"type", "HEARTBEAT"}}));
}

size_t v1_operator_hub::subscribers() const {
  std::lock_guard<std::mutex> g{m_};
  return streams_.size();
}

void v1_operator_hub::broadcast(const std::string& record) {
  std::vector<std::shared_ptr<http_stream>> open;
  for (auto& s : streams_)
    if (s->write(record))
      open.push_back(s);
  streams_.swap(open);
}

void start_v1_operator_heartbeat(caf::actor_system& sys, std::shared_ptr<v1_operator_hub> hub,
                                 caf::timespan every) {
  using beat_atom = caf::atom_constant<caf::atom("v1opbeat")>;
  sys.spawn<caf::hidden>([hub, every](caf::event_based_actor* self) {
    self->delayed_send(self, every, beat_atom::value);
    return caf::behavior{[=](beat_atom) {
      hub->heartbeat();
      self->delayed_send(self, every, beat_atom::value);
    }};
  });
}

void add_v1_operator_routes(http_router& r, std::shared_ptr<state_box> box,
                            std::shared_ptr<const master_http_info> info,
                            std::shared_ptr<v1_operator_hub> hub) {
  r.Post("/api/v1", [box, info, hub](const httplib::Request& req, httplib::Response& res) {
    operator_endpoint(*box, *info, *hub, req, res);
  });
}

} // namespace caldera
