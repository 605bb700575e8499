// Mesos' v1 Operator API on the agent (POST /api/v1): GET_HEALTH,
// GET_FLAGS, GET_VERSION, GET_AGENT, GET_STATE, GET_FRAMEWORKS,
// GET_EXECUTORS, GET_TASKS, answered from the view the agent publishes (as
// /state is: never through the agent's mailbox).
#include "agent/v1_operator.hpp"

#include <functional>

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

void add_v1_agent_operator_routes(http_router& r, std::shared_ptr<agent_box> box,
                                  std::shared_ptr<const v1_agent_info> info) {
  r.Post("/api/v1", [box, info](const httplib::Request& req, httplib::Response& res) {
    operator_endpoint(*box, *info, req, res);
  });
}

} // namespace caldera
