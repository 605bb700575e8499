// Mesos-shaped ACLs (see actors/auth.hpp): parsing and the first-match rule.
#include "actors/auth.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "actors/error.hpp"

namespace caldera {

namespace {

using json = nlohmann::json;

struct action_info {
  acls::action a;
  const char* name;
  const char* object;
};

const action_info actions[] = {
  {acls::action::register_frameworks, "register_frameworks", "roles"},
  {acls::action::run_tasks, "run_tasks", "users"},
  {acls::action::teardown_frameworks, "teardown_frameworks", "framework_principals"},
  {acls::action::update_weights, "update_weights", "roles"},
  {acls::action::update_quotas, "update_quotas", "roles"},
  {acls::action::view_frameworks, "view_frameworks", "users"},
  {acls::action::view_tasks, "view_tasks", "users"},
  {acls::action::access_sandboxes, "access_sandboxes", "users"},
  {acls::action::kill_actors, "kill_actors", "actors"},
};

caf::error bad(const std::string& what, const std::string& why) {
  return make_error(errc::invalid_config, what + ": " + why);
}

std::string known_actions() {
  std::string out;
  for (auto& i : actions)
    out += (out.empty() ? "" : ", ") + std::string{i.name};
  return out;
}

} // namespace

const char* acls::name(action a) {
  for (auto& i : actions)
    if (i.a == a)
      return i.name;
  return "?";
}

const char* acls::object_key(action a) {
  for (auto& i : actions)
    if (i.a == a)
      return i.object;
  return "?";
}

bool acls::entity::matches(const std::string& v) const {
  return k != kind::values || std::find(values.begin(), values.end(), v) != values.end();
}

caf::expected<acls> acls::load(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::invalid_config, "ACL file '" + path + "': cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), "ACL file '" + path + "'");
}

namespace {

// {"type": "ANY"}, {"type": "NONE"} or {"values": ["a", "b"]}.
template <class Entity>
caf::error parse_entity(const json& j, const std::string& where, Entity& out) {
  if (!j.is_object())
    return make_error(errc::invalid_config, where + " is not an object");
  if (j.contains("type")) {
    auto t = j["type"].is_string() ? j["type"].get<std::string>() : std::string{};
    if (j.size() != 1 || (t != "ANY" && t != "NONE"))
      return make_error(errc::invalid_config,
                        where + ": 'type' must be \"ANY\" or \"NONE\", alone");
    out.k = t == "ANY" ? Entity::kind::any : Entity::kind::none;
    return caf::none;
  }
  if (j.size() != 1 || !j.contains("values") || !j["values"].is_array())
    return make_error(errc::invalid_config, where + ": needs {\"type\": ...} or {\"values\": [...]}");
  out.k = Entity::kind::values;
  for (auto& v : j["values"]) {
    if (!v.is_string())
      return make_error(errc::invalid_config, where + ": values must be strings");
    out.values.push_back(v.get<std::string>());
  }
  return caf::none;
}

} // namespace

caf::expected<acls> acls::parse(const std::string& text, const std::string& what) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return bad(what, "not a JSON object");
  acls out;
  for (auto& item : j.items()) {
    const std::string& key = item.key();
    auto& value = item.value();
    if (key == "permissive") {
      if (!value.is_boolean())
        return bad(what, "'permissive' must be true or false");
      out.permissive_ = value.get<bool>();
      continue;
    }
    auto info = std::find_if(std::begin(actions), std::end(actions),
                             [&](const action_info& i) { return key == i.name; });
    if (info == std::end(actions))
      return bad(what, "unknown action '" + key + "' (known: " + known_actions() + ")");
    if (!value.is_array())
      return bad(what, "'" + key + "' must be a list of rules");
    auto& rules = out.rules_[info->a];
    for (size_t n = 0; n < value.size(); ++n) {
      auto& r = value[n];
      auto where = key + "[" + std::to_string(n) + "]";
      if (!r.is_object() || !r.contains("principals") || !r.contains(info->object)
          || r.size() != 2)
        return bad(what, where + " needs exactly 'principals' and '" + info->object + "'");
      rule x;
      if (auto err = parse_entity(r["principals"], where + ".principals", x.subject))
        return bad(what, error_message(err));
      if (auto err = parse_entity(r[info->object], where + "." + info->object, x.object))
        return bad(what, error_message(err));
      rules.push_back(std::move(x));
    }
  }
  return out;
}

bool acls::allows(action a, const std::string& principal, const std::string& object) const {
  if (auto i = rules_.find(a); i != rules_.end())
    for (auto& r : i->second)
      if (r.subject.matches(principal) && r.object.matches(object))
        return r.subject.k != entity::kind::none && r.object.k != entity::kind::none;
  return permissive_;
}

} // namespace caldera
