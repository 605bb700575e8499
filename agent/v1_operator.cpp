// Mesos' v1 Operator API on the agent (POST /api/v1): GET_HEALTH,
// GET_FLAGS, GET_VERSION, GET_AGENT, GET_STATE, GET_FRAMEWORKS,
// GET_EXECUTORS, GET_TASKS, answered from the view the agent publishes (as
// /state is: never through the agent's mailbox).
#include "agent/v1_operator.hpp"

#include <functional>

#include <caf/event_based_actor.hpp>
#include <httplib.h>

#include "actors/metrics.hpp"
#include "actors/resources.hpp"
#include "actors/v1_http.hpp"
#include "actors/v1_json.hpp"

namespace caldera {

using json = nlohmann::json;
using v1::id_json;

namespace {

// The view's resources ({"cpus": 2, "ports": "[31000-31001]"}) as v1's.
json resources_v1(const json& v0) {
  std::string text;
  if (v0.is_object())
    for (auto& [k, v] : v0.items())
      text += (text.empty() ? "" : ";") + k + ":"
              + (v.is_string() ? v.get<std::string>() : v.dump());
  auto r = resources::parse(text);
  return v1::resources_json_v1(r ? *r : resources{});
}

json text_or_empty(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? *i : json("");
}

json task_v1(const json& t, const std::string& agent_id) {
  return {{"name", text_or_empty(t, "name")},
          {"task_id", id_json(text_or_empty(t, "id"))},
          {"framework_id", id_json(text_or_empty(t, "framework_id"))},
          {"executor_id", id_json(text_or_empty(t, "executor_id"))},
          {"agent_id", id_json(agent_id)},
          {"state", text_or_empty(t, "state")},
          {"resources", resources_v1(t.value("resources", json::object()))}};
}

json executor_v1(const json& e) {
  return {{"executor_info",
           {{"executor_id", id_json(text_or_empty(e, "id"))},
            {"framework_id", id_json(text_or_empty(e, "framework_id"))},
            {"command", json::object()}}}};
}

json framework_v1(const json& f) {
  return {{"framework_info",
           {{"id", id_json(text_or_empty(f, "id"))},
            {"name", text_or_empty(f, "name")},
            {"user", text_or_empty(f, "user")}}}};
}

// Walks the view's frameworks -> executors -> tasks.
void each_executor(const json& state, const std::function<void(const json&, bool)>& fn) {
  for (auto& f : state.value("frameworks", json::array())) {
    for (auto& e : f.value("executors", json::array()))
      fn(e, false);
    for (auto& e : f.value("completed_executors", json::array()))
      fn(e, true);
  }
}

json get_tasks(const json& state) {
  json launched = json::array(), done = json::array();
  auto agent_id = text_or_empty(state, "id").get<std::string>();
  each_executor(state, [&](const json& e, bool) {
    for (auto& t : e.value("tasks", json::array()))
      launched.push_back(task_v1(t, agent_id));
    for (auto& t : e.value("completed_tasks", json::array()))
      done.push_back(task_v1(t, agent_id));
  });
  return {{"launched_tasks", std::move(launched)},
          {"completed_tasks", std::move(done)},
          {"pending_tasks", json::array()},
          {"queued_tasks", json::array()},
          {"terminated_tasks", json::array()}};
}

json get_executors(const json& state) {
  json running = json::array(), done = json::array();
  each_executor(state, [&](const json& e, bool completed) {
    (completed ? done : running).push_back(executor_v1(e));
  });
  return {{"executors", std::move(running)}, {"completed_executors", std::move(done)}};
}

json get_frameworks(const json& state) {
  json fws = json::array();
  for (auto& f : state.value("frameworks", json::array()))
    fws.push_back(framework_v1(f));
  return {{"frameworks", std::move(fws)}, {"completed_frameworks", json::array()}};
}

json get_agent(const json& state) {
  return {{"agent_info",
           {{"id", id_json(text_or_empty(state, "id"))},
            {"hostname", text_or_empty(state, "hostname")},
            {"resources", resources_v1(state.value("resources", json::object()))}}}};
}

json get_state(const json& state) {
  return {{"get_tasks", get_tasks(state)},
          {"get_executors", get_executors(state)},
          {"get_frameworks", get_frameworks(state)}};
}

// --- SUBSCRIBE: the differences between two views ------------------------

using task_key = std::pair<std::string, std::string>;

struct view_index {
  std::map<task_key, json> tasks; // v1 Task, by (framework, task)
  std::map<task_key, json> executors;
};

view_index index_view(const agent_view* v) {
  view_index x;
  if (v == nullptr)
    return x;
  auto state = json::parse(v->state_json, nullptr, false);
  if (state.is_discarded())
    return x;
  auto agent_id = text_or_empty(state, "id").get<std::string>();
  each_executor(state, [&](const json& e, bool completed) {
    auto fid = text_or_empty(e, "framework_id").get<std::string>();
    if (!completed)
      x.executors.emplace(task_key{fid, text_or_empty(e, "id")}, executor_v1(e));
    for (auto* list : {"tasks", "completed_tasks"})
      for (auto& t : e.value(list, json::array()))
        x.tasks.emplace(task_key{fid, text_or_empty(t, "id")}, task_v1(t, agent_id));
  });
  return x;
}

std::vector<json> view_events(const view_index& b, const view_index& a) {
  std::vector<json> out;
  for (auto& [k, e] : a.executors)
    if (b.executors.count(k) == 0)
      out.push_back({{"type", "EXECUTOR_ADDED"}, {"executor_added", {{"executor", e}}}});
  for (auto& [k, e] : b.executors)
    if (a.executors.count(k) == 0)
      out.push_back({{"type", "EXECUTOR_TERMINATED"},
                     {"executor_terminated",
                      {{"framework_id", id_json(k.first)}, {"executor_id", id_json(k.second)}}}});
  for (auto& [k, t] : a.tasks) {
    auto old = b.tasks.find(k);
    if (old == b.tasks.end())
      out.push_back({{"type", "TASK_ADDED"}, {"task_added", {{"task", t}}}});
    if (old == b.tasks.end() ? t["state"] != "TASK_STAGING" : old->second["state"] != t["state"])
      out.push_back({{"type", "TASK_UPDATED"},
                     {"task_updated",
                      {{"framework_id", t["framework_id"]},
                       {"state", t["state"]},
                       {"status", {{"task_id", t["task_id"]}, {"state", t["state"]},
                                   {"agent_id", t["agent_id"]}}}}}});
  }
  return out;
}

using getter = std::function<json(const json&)>;

const std::map<std::string, std::pair<std::string, getter>>& view_calls() {
  static const std::map<std::string, std::pair<std::string, getter>> table{
    {"GET_STATE", {"get_state", get_state}},
    {"GET_TASKS", {"get_tasks", get_tasks}},
    {"GET_EXECUTORS", {"get_executors", get_executors}},
    {"GET_FRAMEWORKS", {"get_frameworks", get_frameworks}},
    {"GET_AGENT", {"get_agent", get_agent}},
  };
  return table;
}

void reply(httplib::Response& res, const std::string& type, const std::string& field,
           json body) {
  res.status = 200;
  res.set_content(json{{"type", type}, {field, std::move(body)}}.dump(), "application/json");
}

void info_call(const std::string& type, const agent_box& box, const v1_agent_info& info,
               httplib::Response& res) {
  if (type == "GET_HEALTH") {
    auto v = box.get();
    return reply(res, type, "get_health", {{"healthy", v && v->unhealthy.empty()}});
  }
  if (type == "GET_VERSION")
    return reply(res, type, "get_version", {{"version_info", {{"version", "0.1.0"}}}});
  json flags = json::array();
  for (auto& [k, v] : info.flags)
    flags.push_back({{"name", k}, {"value", v}});
  reply(res, type, "get_flags", {{"flags", std::move(flags)}});
}

void operator_endpoint(const agent_box& box, const v1_agent_info& info,
                       const httplib::Request& req, httplib::Response& res) {
  if (!v1::check_media(req, res))
    return;
  std::string type;
  try {
    auto call = json::parse(req.body);
    type = call.is_object() ? v1::text_at(call, "type", "") : "";
  } catch (const std::exception& e) {
    return v1::reply_text(res, 400, std::string{"Failed to parse body into JSON: "} + e.what());
  }
  metrics::message_received("v1_operator_call");
  if (type == "GET_HEALTH" || type == "GET_VERSION" || type == "GET_FLAGS")
    return info_call(type, box, info, res);
  if (type == "SUBSCRIBE" && info.hub) {
    auto s = http_stream_reply(res, v1::wants_recordio(req) ? "application/recordio"
                                                            : "application/json",
                               std::size_t{16} << 20);
    if (v1::wants_recordio(req))
      res.set_header("Message-Content-Type", "application/json");
    return info.hub->subscribe(std::move(s));
  }
  auto c = view_calls().find(type);
  if (c == view_calls().end())
    return v1::reply_text(res, 400, type.empty() ? "Expecting 'type' to be present"
                                                 : "'type' '" + type + "' is not a call the "
                                                   "agent serves on /api/v1");
  auto v = box.get();
  if (!v)
    return v1::reply_text(res, 503, "the agent has not published its state yet");
  reply(res, type, c->second.first, c->second.second(json::parse(v->state_json)));
}

} // namespace

void v1_agent_hub::on_view(const std::shared_ptr<const agent_view>& v) {
  std::lock_guard<std::mutex> g{m_};
  if (!streams_.empty())
    for (auto& e : view_events(index_view(last_.get()), index_view(v.get())))
      broadcast(v1::recordio(e));
  last_ = v;
}

void v1_agent_hub::subscribe(std::shared_ptr<http_stream> s) {
  std::lock_guard<std::mutex> g{m_};
  json state = json::object();
  if (last_)
    if (auto parsed = json::parse(last_->state_json, nullptr, false); !parsed.is_discarded())
      state = get_state(parsed);
  s->write(v1::recordio({{"type", "SUBSCRIBED"},
                         {"subscribed",
                          {{"get_state", std::move(state)}, {"heartbeat_interval_seconds", 15}}}}));
  streams_.push_back(std::move(s));
}

void v1_agent_hub::heartbeat() {
  std::lock_guard<std::mutex> g{m_};
  broadcast(v1::recordio({{"type", "HEARTBEAT"}}));
}

void v1_agent_hub::broadcast(const std::string& record) {
  std::vector<std::shared_ptr<http_stream>> open;
  for (auto& s : streams_)
    if (s->write(record))
      open.push_back(s);
  streams_.swap(open);
}

void start_v1_agent_heartbeat(caf::actor_system& sys, std::shared_ptr<v1_agent_hub> hub,
                              caf::timespan every) {
  using beat_atom = caf::atom_constant<caf::atom("v1agbeat")>;
  sys.spawn<caf::hidden>([hub, every](caf::event_based_actor* self) {
    self->delayed_send(self, every, beat_atom::value);
    return caf::behavior{[=](beat_atom) {
      hub->heartbeat();
      self->delayed_send(self, every, beat_atom::value);
    }};
  });
}

void add_v1_agent_operator_routes(http_router& r, std::shared_ptr<agent_box> box,
                                  std::shared_ptr<const v1_agent_info> info) {
  r.Post("/api/v1", [box, info](const httplib::Request& req, httplib::Response& res) {
    operator_endpoint(*box, *info, req, res);
  });
}

} // namespace caldera
