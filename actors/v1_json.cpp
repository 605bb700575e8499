#include "actors/v1_json.hpp"

#include <cmath>
#include <cstdlib>

#include "actors/base64.hpp"

namespace caldera::v1 {

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw v1_error("'" + where + "' " + what);
}

std::string sub(const std::string& where, const char* key) {
  return where.empty() ? std::string{key} : where + "." + key;
}

const json* field(const json& j, const char* key) {
  if (!j.is_object())
    return nullptr;
  auto i = j.find(key);
  return i == j.end() || i->is_null() ? nullptr : &*i;
}

double to_number(const json& v, const std::string& where) {
  if (v.is_number())
    return v.get<double>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d))
      return d;
  }
  bad(where, "is not a number");
}

uint64_t to_u64(const json& v, const std::string& where) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    char* end = nullptr;
    errno = 0;
    auto n = std::strtoull(s.c_str(), &end, 10);
    if (!s.empty() && s[0] != '-' && end == s.c_str() + s.size() && errno == 0)
      return n;
  }
  bad(where, "is not an unsigned 64-bit number");
}

// Attribute values as Mesos reads them: a number is SCALAR, else TEXT.
json attribute_json(const std::string& name, const std::string& value) {
  char* end = nullptr;
  double d = std::strtod(value.c_str(), &end);
  if (!value.empty() && end == value.c_str() + value.size() && std::isfinite(d))
    return {{"name", name}, {"type", "SCALAR"}, {"scalar", {{"value", d}}}};
  return {{"name", name}, {"type", "TEXT"}, {"text", {{"value", value}}}};
}

// The role a v1 Resource is reserved to: the last of `reservations`
// (refined), else `role` (pre-refinement), else "*".
std::string role_of(const json& r, const std::string& where) {
  auto& res = array_at(r, "reservations", where);
  if (!res.empty())
    return text_at(res.back(), "role", sub(where, "reservations"));
  auto role = text_at(r, "role", where);
  return role.empty() ? "*" : role;
}

void add_resource(resources& out, const json& r, const std::string& where) {
  auto name = text_at(r, "name", where);
  if (name.empty())
    bad(where, "has no name");
  if (object_at(r, "disk", where) != nullptr || object_at(r, "provider_id", where) != nullptr)
    bad(where, "names a disk source or resource provider: not supported");
  auto type = text_at(r, "type", where);
  auto role = role_of(r, where);
  if (type == "SCALAR" || (type.empty() && object_at(r, "scalar", where) != nullptr)) {
    auto* s = object_at(r, "scalar", where);
    if (s == nullptr)
      bad(where, "is SCALAR without 'scalar'");
    double v = number_at(*s, "value", sub(where, "scalar"), -1);
    if (v < 0)
      bad(sub(where, "scalar.value"), "must be a number >= 0");
    out.add_scalar(name, v, role);
    return;
  }
  if (type == "RANGES") {
    std::vector<resources::range> rs;
    static const json none;
    auto* g = object_at(r, "ranges", where);
    for (auto& x : array_at(g != nullptr ? *g : none, "range", sub(where, "ranges"))) {
      auto* b = field(x, "begin");
      auto* e = field(x, "end");
      if (b == nullptr || e == nullptr)
        bad(sub(where, "ranges.range"), "needs 'begin' and 'end'");
      rs.emplace_back(to_u64(*b, where), to_u64(*e, where));
      if (rs.back().first > rs.back().second)
        bad(sub(where, "ranges.range"), "has begin > end");
    }
    out.add_ranges(name, std::move(rs), role);
    return;
  }
  bad(where, "has type '" + type + "': only SCALAR and RANGES resources are supported");
}

void env_variables(const json& command, const std::string& where,
                   std::vector<std::pair<std::string, std::string>>& out) {
  auto* env = object_at(command, "environment", where);
  if (env == nullptr)
    return;
  for (auto& v : array_at(*env, "variables", sub(where, "environment"))) {
    auto type = text_at(v, "type", sub(where, "environment.variables"));
    if (!type.empty() && type != "VALUE")
      bad(sub(where, "environment.variables"), "of type " + type + ": only VALUE is supported");
    out.emplace_back(text_at(v, "name", where), text_at(v, "value", where));
  }
}

void refuse_unsupported(const json& task, const std::string& where) {
  if (auto* c = object_at(task, "container", where)) {
    auto type = text_at(*c, "type", sub(where, "container"));
    if (object_at(*c, "docker", where) != nullptr || (!type.empty() && type != "MESOS")
        || object_at(*c, "mesos", where) != nullptr)
      bad(sub(where, "container"), "asks for a container image: caldera runs tasks in cgroups "
                                   "on the host (no images)");
  }
  if (object_at(task, "health_check", where) != nullptr
      || object_at(task, "check", where) != nullptr)
    bad(where, "has a health check or check: not supported");
}

} // namespace

std::string recordio(const json& event) {
  auto text = event.dump();
  return std::to_string(text.size()) + "\n" + text;
}

bool recordio_reader::feed(std::string_view data, std::vector<std::string>& out) {
  buf_.append(data);
  size_t pos = 0;
  while (true) {
    auto nl = buf_.find('\n', pos);
    if (nl == std::string::npos)
      break;
    auto len_text = buf_.substr(pos, nl - pos);
    if (len_text.empty() || len_text.size() > 19
        || len_text.find_first_not_of("0123456789") != std::string::npos)
      return false;
    auto len = std::stoull(len_text);
    if (buf_.size() - nl - 1 < len)
      break;
    out.push_back(buf_.substr(nl + 1, len));
    pos = nl + 1 + len;
  }
  buf_.erase(0, pos);
  return true;
}

const json* object_at(const json& j, const char* key, const std::string& where) {
  auto* v = field(j, key);
  if (v != nullptr && !v->is_object())
    bad(sub(where, key), "must be an object");
  return v;
}

const json& array_at(const json& j, const char* key, const std::string& where) {
  static const json empty = json::array();
  auto* v = field(j, key);
  if (v == nullptr)
    return empty;
  if (!v->is_array())
    bad(sub(where, key), "must be an array");
  return *v;
}

std::string text_at(const json& j, const char* key, const std::string& where) {
  auto* v = field(j, key);
  if (v == nullptr)
    return {};
  if (!v->is_string())
    bad(sub(where, key), "must be a string");
  return v->get<std::string>();
}

double number_at(const json& j, const char* key, const std::string& where, double dflt) {
  auto* v = field(j, key);
  return v == nullptr ? dflt : to_number(*v, sub(where, key));
}

bool bool_at(const json& j, const char* key, const std::string& where, bool dflt) {
  auto* v = field(j, key);
  if (v == nullptr)
    return dflt;
  if (!v->is_boolean())
    bad(sub(where, key), "must be true or false");
  return v->get<bool>();
}

std::string id_at(const json& j, const char* key, const std::string& where) {
  auto* v = object_at(j, key, where);
  if (v == nullptr)
    return {};
  return text_at(*v, "value", sub(where, key));
}

std::string bytes_at(const json& j, const char* key, const std::string& where) {
  auto text = text_at(j, key, where);
  auto bytes = base64_decode(text);
  if (!bytes)
    bad(sub(where, key), "is not base64");
  return *bytes;
}

json id_json(const std::string& value) {
  return {{"value", value}};
}

json resources_json_v1(const resources& r, const std::string& allocation_role) {
  json out = json::array();
  for (auto& [k, v] : r.entries()) {
    json x{{"name", k.first}};
    if (v.is_ranges) {
      json rs = json::array();
      for (auto& [b, e] : v.ranges)
        rs.push_back({{"begin", b}, {"end", e}});
      x["type"] = "RANGES";
      x["ranges"] = {{"range", std::move(rs)}};
    } else {
      x["type"] = "SCALAR";
      x["scalar"] = {{"value", static_cast<double>(v.milli) / 1000.0}};
    }
    x["role"] = k.second;
    if (k.second != "*")
      x["reservations"] = json::array({{{"type", "STATIC"}, {"role", k.second}}});
    if (!allocation_role.empty())
      x["allocation_info"] = {{"role", allocation_role}};
    out.push_back(std::move(x));
  }
  return out;
}

json offer_json(const offer& o, const std::string& framework_id,
                const std::string& allocation_role) {
  json attrs = json::array();
  for (auto& [n, v] : o.attributes)
    attrs.push_back(attribute_json(n, v));
  json execs = json::array();
  for (auto& e : o.executor_ids)
    execs.push_back(id_json(e));
  json j{{"id", id_json(o.id)},
         {"framework_id", id_json(framework_id)},
         {"agent_id", id_json(o.agent_id)},
         {"hostname", o.hostname},
         {"resources", resources_json_v1(o.res, allocation_role)},
         {"attributes", std::move(attrs)},
         {"executor_ids", std::move(execs)}};
  if (!allocation_role.empty())
    j["allocation_info"] = {{"role", allocation_role}};
  auto colon = o.agent_http_endpoint.rfind(':');
  if (colon != std::string::npos) {
    auto host = o.agent_http_endpoint.substr(0, colon);
    json address{{"hostname", o.hostname}, {"ip", host},
                 {"port", std::atoi(o.agent_http_endpoint.c_str() + colon + 1)}};
    j["url"] = {{"scheme", "http"}, {"address", std::move(address)}, {"path", "/slave(1)"}};
  }
  return j;
}

const char* source_name(schema::StatusSource s) {
  switch (s) {
    case schema::StatusSource::MASTER: return "SOURCE_MASTER";
    case schema::StatusSource::AGENT: return "SOURCE_AGENT";
    case schema::StatusSource::EXECUTOR: return "SOURCE_EXECUTOR";
  }
  return "SOURCE_MASTER";
}

json status_json(const status_info& s) {
  json j{{"task_id", id_json(s.task_id)},
         {"state", state_name(s.state)},
         {"source", source_name(s.source)},
         {"timestamp", s.timestamp}};
  if (!s.message.empty())
    j["message"] = s.message;
  if (!s.reason.empty())
    j["reason"] = s.reason;
  if (!s.agent_id.empty())
    j["agent_id"] = id_json(s.agent_id);
  if (!s.executor_id.empty())
    j["executor_id"] = id_json(s.executor_id);
  if (!s.uuid.empty())
    j["uuid"] = base64_encode(s.uuid);
  if (s.exit_code)
    j["exit_code"] = *s.exit_code; // beyond Mesos: the command's exit code
  return j;
}

resources resources_from_json(const json& list, const std::string& where) {
  if (!list.is_array())
    bad(where, "must be an array of resources");
  resources out;
  for (auto& r : list)
    add_resource(out, r, where);
  return out;
}

std::string shell_quote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\"'\"'";
    else
      out += c;
  }
  return out + "'";
}

std::string command_line(const json& command, const std::string& where) {
  if (!array_at(command, "uris", where).empty())
    bad(sub(where, "uris"), "asks the fetcher for files: not supported (put them in place "
                            "another way, or fetch them in the command)");
  auto value = text_at(command, "value", where);
  if (bool_at(command, "shell", where, true)) {
    if (value.empty())
      bad(sub(where, "value"), "is empty");
    return value;
  }
  if (value.empty())
    bad(sub(where, "value"), "is empty (with shell: false it names the program)");
  std::string line = "exec " + shell_quote(value);
  auto& args = array_at(command, "arguments", where);
  for (size_t i = 1; i < args.size(); ++i) { // arguments[0] is argv[0]
    if (!args[i].is_string())
      bad(sub(where, "arguments"), "must be strings");
    line += " " + shell_quote(args[i].get<std::string>());
  }
  return line;
}

task_spec task_from_json(const json& task, const std::string& where) {
  if (!task.is_object())
    bad(where, "must be an object (a TaskInfo)");
  task_spec t;
  t.name = text_at(task, "name", where);
  t.task_id = id_at(task, "task_id", where);
  t.agent_id = id_at(task, "agent_id", where);
  if (t.task_id.empty())
    bad(sub(where, "task_id"), "is missing");
  if (t.agent_id.empty())
    bad(sub(where, "agent_id"), "is missing");
  refuse_unsupported(task, where);
  t.res = resources_from_json(array_at(task, "resources", where), sub(where, "resources"));
  t.data = bytes_at(task, "data", where);
  if (auto* kp = object_at(task, "kill_policy", where))
    if (auto* gp = object_at(*kp, "grace_period", sub(where, "kill_policy")))
      t.kill_grace_period = number_at(*gp, "nanoseconds", sub(where, "kill_policy"), 0) / 1e9;
  auto* cmd = object_at(task, "command", where);
  auto* exec = object_at(task, "executor", where);
  if ((cmd == nullptr) == (exec == nullptr))
    bad(where, "needs exactly one of 'command' and 'executor'");
  if (cmd != nullptr) {
    t.command = command_line(*cmd, sub(where, "command"));
    env_variables(*cmd, sub(where, "command"), t.env);
    t.user = text_at(*cmd, "user", sub(where, "command"));
    return t;
  }
  auto ew = sub(where, "executor");
  t.executor_id = id_at(*exec, "executor_id", ew);
  if (t.executor_id.empty())
    bad(sub(ew, "executor_id"), "is missing");
  auto* ecmd = object_at(*exec, "command", ew);
  if (ecmd == nullptr)
    bad(ew, "has no command (a CUSTOM executor's program)");
  t.executor_command = command_line(*ecmd, sub(ew, "command"));
  env_variables(*ecmd, sub(ew, "command"), t.env);
  t.user = text_at(*ecmd, "user", sub(ew, "command"));
  t.executor_res = resources_from_json(array_at(*exec, "resources", ew), sub(ew, "resources"));
  return t;
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0)
    return std::nullopt;
  auto nibble = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

status_info status_from_json(const json& status, const std::string& where) {
  if (!status.is_object())
    bad(where, "must be an object (a TaskStatus)");
  status_info s;
  s.task_id = id_at(status, "task_id", where);
  if (s.task_id.empty())
    bad(sub(where, "task_id"), "is missing");
  auto state = text_at(status, "state", where);
  auto parsed = parse_state(state);
  if (!parsed || state.rfind("TASK_", 0) != 0)
    bad(sub(where, "state"), "'" + state + "' is not a task state");
  s.state = *parsed;
  s.message = text_at(status, "message", where);
  s.reason = text_at(status, "reason", where);
  s.timestamp = number_at(status, "timestamp", where, 0);
  auto uuid = bytes_at(status, "uuid", where);
  if (uuid.empty())
    bad(sub(where, "uuid"), "is missing (an executor's update carries one)");
  s.uuid = to_hex(uuid);
  return s;
}

json task_json(const task_info& t) {
  json j{{"name", t.name},
         {"task_id", id_json(t.task_id)},
         {"agent_id", id_json(t.agent_id)},
         {"resources", resources_json_v1(t.res)}};
  if (!t.data.empty())
    j["data"] = base64_encode(t.data);
  if (!t.command.empty()) {
    json vars = json::array();
    for (auto& [k, v] : t.env)
      vars.push_back({{"name", k}, {"type", "VALUE"}, {"value", v}});
    j["command"] = {{"value", t.command}, {"shell", true}, {"environment", {{"variables", vars}}}};
  }
  if (t.kill_grace_period > 0)
    j["kill_policy"] = {
      {"grace_period", {{"nanoseconds", static_cast<int64_t>(t.kill_grace_period * 1e9)}}}};
  return j;
}

task_info task_info_from_json(const json& task, const std::string& where) {
  if (!task.is_object())
    bad(where, "must be an object (a TaskInfo)");
  task_info t;
  t.task_id = id_at(task, "task_id", where);
  if (t.task_id.empty())
    bad(sub(where, "task_id"), "is missing");
  t.name = text_at(task, "name", where);
  t.agent_id = id_at(task, "agent_id", where);
  return t;
}

} // namespace caldera::v1
