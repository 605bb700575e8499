// Who may use an HTTP API and what each principal sees (issue 15): HTTPS with
// the node's TLS files, HTTP Basic authentication against the credentials
// file (Mesos' --authenticate_http_readonly / --authenticate_http_readwrite),
// and the view ACLs applied to what the state endpoints return.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/auth.hpp"

namespace httplib {
struct Request;
}

namespace caldera {

struct http_security {
  /// HTTPS when both are set (the node's [openssl] certificate and key).
  std::string certificate;
  std::string key;
  /// Basic credentials are checked against these.
  std::shared_ptr<const credentials> creds;
  /// GET and HEAD need a principal; other methods need one.
  bool authenticate_readonly = false;
  bool authenticate_readwrite = false;
  /// What each principal sees (null: everything).
  std::shared_ptr<const acls> acl;

  bool https() const { return !certificate.empty() && !key.empty(); }
};

/// The principal whose Basic credentials the request carries and the
/// credentials confirm; "" when there are none, they are wrong, or no
/// credentials file is loaded.
std::string http_principal(const httplib::Request& req, const http_security& sec);

/// The principal and secret of the request's Basic credentials when the
/// credentials confirm them (what a v1 framework subscribing over HTTP then
/// proves to the master as an SDK framework would).
std::optional<std::pair<std::string, std::string>> http_basic(const httplib::Request& req,
                                                              const http_security& sec);

/// Whether `req` must carry credentials (always answered: /health; never
/// /api/v1/executor, whose callers bear their executor token instead).
bool http_needs_principal(const httplib::Request& req, const http_security& sec);

/// Removes from a Mesos-shaped JSON object what `principal` may not see:
/// frameworks (and completed ones) whose user view_frameworks denies, the
/// tasks and executors of those view_tasks denies (by the framework's user),
/// and top-level "tasks" of such frameworks. `users` gives each framework's
/// user by id (for entries that do not carry it).
void filter_state(nlohmann::json& state, const acls& acl, const std::string& principal,
                  const std::map<std::string, std::string>& users);

} // namespace caldera
