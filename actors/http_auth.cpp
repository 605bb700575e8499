#include "actors/http_auth.hpp"

#include <set>

#include <httplib.h>

#include "actors/base64.hpp"

namespace caldera {

std::optional<std::pair<std::string, std::string>> http_basic(const httplib::Request& req,
                                                              const http_security& sec) {
  if (!sec.creds || !req.has_header("Authorization"))
    return std::nullopt;
  auto h = req.get_header_value("Authorization");
  const std::string basic = "Basic ";
  if (h.compare(0, basic.size(), basic) != 0)
    return std::nullopt;
  auto value = h.substr(basic.size());
  if (value.size() > 4096)
    return std::nullopt;
  auto pair = base64_decode(value).value_or(std::string{});
  auto colon = pair.find(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  auto principal = pair.substr(0, colon);
  auto secret = pair.substr(colon + 1);
  if (!sec.creds->check_secret(principal, secret))
    return std::nullopt;
  return std::make_pair(std::move(principal), std::move(secret));
}

std::string http_principal(const httplib::Request& req, const http_security& sec) {
  auto who = http_basic(req, sec);
  return who ? who->first : std::string{};
}

bool http_needs_principal(const httplib::Request& req, const http_security& sec) {
  // Executors prove themselves with their bearer token there, not Basic.
  if (req.path == "/health" || req.path == "/api/v1/executor")
    return false;
  bool read = req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS";
  return read ? sec.authenticate_readonly : sec.authenticate_readwrite;
}

namespace {

using json = nlohmann::json;

std::string text_of(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

std::string user_of(const json& fw, const std::map<std::string, std::string>& users) {
  auto u = text_of(fw, "user");
  if (!u.empty())
    return u;
  auto i = users.find(text_of(fw, "id"));
  return i == users.end() ? std::string{} : i->second;
}

// Filters one array of frameworks; `tasks_visible` gets the ids of those
// whose tasks stay.
void filter_frameworks(json& list, const acls& acl, const std::string& principal,
                       const std::map<std::string, std::string>& users,
                       std::set<std::string>& tasks_visible) {
  if (!list.is_array())
    return;
  json kept = json::array();
  for (auto& fw : list) {
    if (!fw.is_object())
      continue;
    auto user = user_of(fw, users);
    if (!acl.allows(acls::action::view_frameworks, principal, user))
      continue;
    if (!acl.allows(acls::action::view_tasks, principal, user)) {
      for (auto key : {"tasks", "completed_tasks", "unreachable_tasks", "executors",
                       "completed_executors"})
        if (fw.contains(key))
          fw[key] = json::array();
    } else {
      tasks_visible.insert(text_of(fw, "id"));
    }
    kept.push_back(std::move(fw));
  }
  list = std::move(kept);
}

} // namespace

void filter_state(json& state, const acls& acl, const std::string& principal,
                  const std::map<std::string, std::string>& users) {
  if (!state.is_object())
    return;
  std::set<std::string> tasks_visible;
  for (auto key : {"frameworks", "completed_frameworks", "unregistered_frameworks"})
    if (state.contains(key))
      filter_frameworks(state[key], acl, principal, users, tasks_visible);
  if (state.contains("tasks") && state["tasks"].is_array()) {
    json kept = json::array();
    for (auto& t : state["tasks"]) {
      auto fid = t.is_object() ? text_of(t, "framework_id") : std::string{};
      auto u = users.find(fid);
      if (u != users.end() && acl.allows(acls::action::view_frameworks, principal, u->second)
          && acl.allows(acls::action::view_tasks, principal, u->second))
        kept.push_back(std::move(t));
    }
    state["tasks"] = std::move(kept);
  }
}

} // namespace caldera
