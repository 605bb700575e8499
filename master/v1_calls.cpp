#include "master/v1_calls.hpp"

#include <functional>
#include <map>

namespace caldera::v1 {

namespace {

using kind = scheduler_call::kind;

void need(bool ok, const std::string& what) {
  if (!ok)
    throw v1_error(what);
}

// The call's body for `key` ("accept": the "accept" object); v1_error when
// a call that needs one lacks it.
const json& body_of(const json& call, const char* key) {
  auto* b = object_at(call, key, "");
  need(b != nullptr, "Expecting '" + std::string{key} + "' to be present");
  return *b;
}

std::vector<std::string> ids_at(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  for (auto& x : array_at(j, key, where)) {
    need(x.is_object(), "'" + where + "." + key + "' must hold ids ({\"value\": ...})");
    out.push_back(text_at(x, "value", where + "." + key));
  }
  return out;
}

std::vector<std::string> texts_at(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  for (auto& x : array_at(j, key, where)) {
    need(x.is_string(), "'" + where + "." + key + "' must hold strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

void parse_subscribe(const json& call, scheduler_call& c) {
  auto& sub = body_of(call, "subscribe");
  auto* info = object_at(sub, "framework_info", "subscribe");
  need(info != nullptr, "Expecting 'subscribe.framework_info' to be present");
  const std::string w = "subscribe.framework_info";
  auto& f = c.framework;
  f.name = text_at(*info, "name", w);
  f.user = text_at(*info, "user", w);
  need(!f.name.empty(), "'" + w + ".name' is missing");
  f.framework_id = id_at(*info, "id", w);
  need(c.framework_id.empty() || c.framework_id == f.framework_id,
       "'framework_id' differs from '" + w + ".id'");
  c.framework_id = f.framework_id;
  f.failover_timeout = number_at(*info, "failover_timeout", w, 0);
  f.principal = text_at(*info, "principal", w);
  f.roles = texts_at(*info, "roles", w);
  if (f.roles.empty()) {
    auto role = text_at(*info, "role", w);
    f.roles = {role.empty() ? "*" : role};
  }
  for (auto& cap : array_at(*info, "capabilities", w))
    if (cap.is_object() && text_at(cap, "type", w + ".capabilities") == "PARTITION_AWARE")
      f.partition_aware = true;
  f.implicit_acknowledgements = false;
  f.name = f.name.substr(0, 256);
}

// LAUNCH and LAUNCH_GROUP (the group's executor, Mesos' default executor,
// is caldera's command executor for each task: its resources go with the
// first task).
launch_operation parse_operation(const json& op, size_t k) {
  auto w = "accept.operations[" + std::to_string(k) + "]";
  auto type = text_at(op, "type", w);
  launch_operation out;
  if (type == "LAUNCH") {
    auto* l = object_at(op, "launch", w);
    need(l != nullptr, "Expecting '" + w + ".launch' to be present");
    auto& tasks = array_at(*l, "task_infos", w + ".launch");
    for (size_t i = 0; i < tasks.size(); ++i)
      out.tasks.push_back(
        task_from_json(tasks[i], w + ".launch.task_infos[" + std::to_string(i) + "]"));
    return out;
  }
  if (type == "LAUNCH_GROUP") {
    auto* g = object_at(op, "launch_group", w);
    need(g != nullptr, "Expecting '" + w + ".launch_group' to be present");
    auto gw = w + ".launch_group";
    auto* tg = object_at(*g, "task_group", gw);
    need(tg != nullptr, "Expecting '" + gw + ".task_group' to be present");
    auto& tasks = array_at(*tg, "tasks", gw + ".task_group");
    out.kind = launch_operation::group;
    for (size_t i = 0; i < tasks.size(); ++i)
      out.tasks.push_back(task_from_json(tasks[i], gw + ".task_group.tasks[" + std::to_string(i)
                                                     + "]"));
    resources exec_res;
    if (auto* e = object_at(*g, "executor", gw))
      exec_res = resources_from_json(array_at(*e, "resources", gw + ".executor"),
                                     gw + ".executor.resources");
    if (!out.tasks.empty())
      out.tasks.front().res += exec_res;
    return out;
  }
  throw v1_error("'" + w + ".type' " + (type.empty() ? "is missing" : "'" + type + "'")
                 + ": caldera supports LAUNCH and LAUNCH_GROUP (reservations and volumes "
                   "are made through the operator API)");
}

double refuse_of(const json& body, const std::string& w) {
  auto* f = object_at(body, "filters", w);
  return f == nullptr ? 5.0 : number_at(*f, "refuse_seconds", w + ".filters", 5.0);
}

void parse_accept(const json& call, scheduler_call& c) {
  auto& a = body_of(call, "accept");
  c.offer_ids = ids_at(a, "offer_ids", "accept");
  need(!c.offer_ids.empty(), "'accept.offer_ids' is empty");
  auto& ops = array_at(a, "operations", "accept");
  for (size_t k = 0; k < ops.size(); ++k)
    c.operations.push_back(parse_operation(ops[k], k));
  c.refuse_seconds = refuse_of(a, "accept");
}

void parse_decline(const json& call, scheduler_call& c) {
  auto& d = body_of(call, "decline");
  c.offer_ids = ids_at(d, "offer_ids", "decline");
  c.refuse_seconds = refuse_of(d, "decline");
}

void parse_roles(const json& call, const char* key, scheduler_call& c) {
  auto* b = object_at(call, key, "");
  if (b == nullptr)
    return;
  c.roles = texts_at(*b, "roles", key);
  if (c.roles.empty()) {
    auto role = text_at(*b, "role", key);
    if (!role.empty())
      c.roles.push_back(role);
  }
}

void parse_kill(const json& call, scheduler_call& c) {
  auto& k = body_of(call, "kill");
  c.task_id = id_at(k, "task_id", "kill");
  c.agent_id = id_at(k, "agent_id", "kill");
  need(!c.task_id.empty(), "Expecting 'kill.task_id' to be present");
}

void parse_acknowledge(const json& call, scheduler_call& c) {
  auto& a = body_of(call, "acknowledge");
  c.agent_id = id_at(a, "agent_id", "acknowledge");
  c.task_id = id_at(a, "task_id", "acknowledge");
  c.uuid = bytes_at(a, "uuid", "acknowledge");
  need(!c.agent_id.empty() && !c.task_id.empty() && !c.uuid.empty(),
       "'acknowledge' needs 'agent_id', 'task_id' and 'uuid'");
}

void parse_reconcile(const json& call, scheduler_call& c) {
  auto* r = object_at(call, "reconcile", "");
  if (r == nullptr)
    return;
  for (auto& t : array_at(*r, "tasks", "reconcile")) {
    task_ref ref{id_at(t, "task_id", "reconcile.tasks"), id_at(t, "agent_id", "reconcile.tasks")};
    need(!ref.task_id.empty(), "'reconcile.tasks' has a task without 'task_id'");
    c.tasks.push_back(std::move(ref));
  }
}

void parse_message(const json& call, scheduler_call& c) {
  auto& m = body_of(call, "message");
  c.agent_id = id_at(m, "agent_id", "message");
  c.executor_id = id_at(m, "executor_id", "message");
  c.data = bytes_at(m, "data", "message");
  need(!c.agent_id.empty() && !c.executor_id.empty(),
       "'message' needs 'agent_id' and 'executor_id'");
}

void parse_shutdown(const json& call, scheduler_call& c) {
  auto& s = body_of(call, "shutdown");
  c.executor_id = id_at(s, "executor_id", "shutdown");
  c.agent_id = id_at(s, "agent_id", "shutdown");
  need(!c.executor_id.empty() && !c.agent_id.empty(),
       "'shutdown' needs 'executor_id' and 'agent_id'");
}

using parser = std::function<void(const json&, scheduler_call&)>;

const std::map<std::string, std::pair<kind, parser>>& parsers() {
  static const std::map<std::string, std::pair<kind, parser>> table{
    {"SUBSCRIBE", {kind::subscribe, parse_subscribe}},
    {"TEARDOWN", {kind::teardown, [](const json&, scheduler_call&) {}}},
    {"ACCEPT", {kind::accept, parse_accept}},
    {"DECLINE", {kind::decline, parse_decline}},
    {"REVIVE", {kind::revive, [](auto& j, auto& c) { parse_roles(j, "revive", c); }}},
    {"SUPPRESS", {kind::suppress, [](auto& j, auto& c) { parse_roles(j, "suppress", c); }}},
    {"KILL", {kind::kill, parse_kill}},
    {"ACKNOWLEDGE", {kind::acknowledge, parse_acknowledge}},
    {"RECONCILE", {kind::reconcile, parse_reconcile}},
    {"MESSAGE", {kind::message, parse_message}},
    {"REQUEST", {kind::request, [](const json&, scheduler_call&) {}}},
    {"SHUTDOWN", {kind::shutdown, parse_shutdown}},
  };
  return table;
}

} // namespace

scheduler_call parse_scheduler_call(const std::string& body) {
  json call;
  try {
    call = json::parse(body);
  } catch (const json::exception& e) {
    throw v1_error(std::string{"Failed to parse body into JSON: "} + e.what());
  }
  need(call.is_object(), "Failed to parse body into JSON: expected an object (a Call)");
  scheduler_call c;
  c.type_name = text_at(call, "type", "");
  need(!c.type_name.empty(), "Expecting 'type' to be present");
  auto p = parsers().find(c.type_name);
  if (p == parsers().end())
    throw v1_error("'type' '" + c.type_name + "' is not a call caldera serves ("
                   + (c.type_name == "ACCEPT_INVERSE_OFFERS"
                          || c.type_name == "DECLINE_INVERSE_OFFERS"
                        ? "not supported yet"
                        : "unknown")
                   + ")");
  c.type = p->second.first;
  c.framework_id = id_at(call, "framework_id", "");
  if (c.type != kind::subscribe)
    need(!c.framework_id.empty(), "Expecting 'framework_id' to be present");
  p->second.second(call, c);
  return c;
}

} // namespace caldera::v1
