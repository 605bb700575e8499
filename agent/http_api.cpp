#include "agent/http_api.hpp"
#include "agent/v1_operator.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <httplib.h>
#include <pwd.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "actors/ids.hpp"
#include "actors/log.hpp"
#include "actors/metrics_export.hpp"
#include "agent/sandbox_files.hpp"
#include "agent/usage.hpp"

namespace caldera {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The `path` parameter as components below the sandboxes' root; false (and
// a 400 or 403 reply) when it is missing or points outside them.
bool sandbox_path(const std::string& root, const httplib::Request& req, httplib::Response& res,
                  std::vector<std::string>& parts) {
  if (!req.has_param("path")) {
    reply_error(res, 400, "parameter 'path' is required");
    return false;
  }
  sandbox_refusal why;
  parts = sandbox_components(root, req.get_param_value("path"), why);
  if (why.status != 0)
    reply_error(res, why.status, why.message);
  return why.status == 0;
}

// The state's frameworks and tasks as the request's principal may see them
// (view_frameworks, view_tasks by each framework's user).
void restrict_view(const http_security& sec, const httplib::Request& req, httplib::Response& res) {
  if (!sec.acl || res.status != 200 || res.body.empty()
      || (req.path != "/state" && req.path != "/slave(1)/state"))
    return;
  auto j = json::parse(res.body, nullptr, false);
  if (j.is_discarded())
    return;
  filter_state(j, *sec.acl, http_principal(req, sec), {});
  res.headers.erase("Content-Length");
  res.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The user a sandbox belongs to: the owner of its executor directory
// (<root>/<framework>/<executor>, made by the agent, chowned to the task's
// user); "" above that level.
std::string sandbox_user(const std::string& root, const std::vector<std::string>& parts) {
  if (parts.size() < 2)
    return {};
  struct stat st {};
  if (::lstat((fs::path{root} / parts[0] / parts[1]).c_str(), &st) != 0)
    return {};
  if (auto* pw = ::getpwuid(st.st_uid))
    return pw->pw_name;
  return std::to_string(st.st_uid);
}

// ACL access_sandboxes: whether the request's principal may read `parts`
// (false, and a 403, when not).
bool may_access(const http_security& sec, const std::string& root, const httplib::Request& req,
                const std::vector<std::string>& parts, httplib::Response& res) {
  if (!sec.acl)
    return true;
  auto principal = http_principal(req, sec);
  auto user = sandbox_user(root, parts);
  if (sec.acl->allows(acls::action::access_sandboxes, principal, user))
    return true;
  metrics::refused("access_sandboxes");
  log::warn("peer_refused", {{"type", "access_sandboxes"}, {"principal", principal},
                             {"path", req.get_param_value("path")}});
  reply_error(res, 403, (principal.empty() ? std::string{"an unauthenticated caller"}
                                            : "principal '" + principal + "'")
                          + " may not access the sandboxes of user '" + user
                          + "' (ACL access_sandboxes)");
  return false;
}

// Mesos' /files/browse: the entries of a sandbox directory (symlinks shown
// as links, never followed).
void browse_files(const http_security& sec, const std::string& root, const httplib::Request& req,
                  httplib::Response& res) {
  std::vector<std::string> parts;
  if (!sandbox_path(root, req, res, parts) || !may_access(sec, root, req, parts, res))
    return;
  sandbox_refusal why;
  auto entries = list_beneath(root, parts, why);
  if (why.status != 0) {
    reply_error(res, why.status, why.message);
    return;
  }
  fs::path base = root;
  for (auto& p : parts)
    base /= p;
  auto out = json::array();
  for (auto& e : entries)
    out.push_back(json{{"path", (base / e.name).string()},
                       {"size", e.size},
                       {"mode", e.dir ? "drwxr-xr-x" : e.link ? "lrwxrwxrwx" : "-rw-r--r--"}});
  reply_json(res, out);
}

// Mesos' /files/read: `length` bytes at `offset` of a sandbox file (-1: its size).
void read_files(const http_security& sec, const std::string& root, const httplib::Request& req,
                httplib::Response& res) {
  auto offset = query_int(req, res, "offset", 0, -1, (1LL << 50));
  if (!offset)
    return;
  auto length = query_int(req, res, "length", 64 * 1024, 0, 1 << 20);
  if (!length)
    return;
  std::vector<std::string> parts;
  if (!sandbox_path(root, req, res, parts) || !may_access(sec, root, req, parts, res))
    return;
  sandbox_refusal why;
  auto chunk = read_beneath(root, parts, *offset, *length, why);
  if (why.status != 0) {
    reply_error(res, why.status, why.message);
    return;
  }
  reply_json(res, json{{"data", chunk.data}, {"offset", chunk.offset}});
}

// Mesos' /monitor/statistics: what the isolators measure of each running
// executor's container (limits only where nothing measures it).
json statistics(const agent_view& v, containerizer* containers) {
  auto out = json::array();
  for (auto& e : v.executors) {
    std::optional<container_usage> u;
    if (containers)
      u = containers->usage(e.container_id);
    if (!u) {
      container_limits lim;
      lim.cpus = e.cpus_limit;
      lim.mem_bytes = static_cast<uint64_t>(e.mem_limit_mib * (1 << 20));
      lim.disk_bytes = static_cast<uint64_t>(e.disk_limit_mib * (1 << 20));
      u = limits_only(lim);
    }
    out.push_back(json{{"executor_id", e.executor_id},
                       {"framework_id", e.framework_id},
                       {"source", e.directory},
                       {"container_id", e.container_id},
                       {"statistics", usage_json(*u)}});
  }
  return out;
}

} // namespace

caf::expected<std::unique_ptr<http_server>>
start_agent_http(const std::string& ip, uint16_t port, std::shared_ptr<agent_box> box,
                 std::string sandbox_root, uint16_t& port_out,
                 std::shared_ptr<containerizer> containers, http_security sec,
                 http_limits limits, std::shared_ptr<v1_executor_api> v1,
                 std::map<std::string, std::string> flags, std::shared_ptr<v1_agent_hub> hub) {
  auto srv = std::make_unique<http_server>(4, std::move(sec), limits);
  auto& r = srv->routes();
  if (v1)
    add_v1_executor_routes(r, std::move(v1));
  if (hub)
    box->set_listener([hub](const std::shared_ptr<const agent_view>& v) { hub->on_view(v); });
  add_v1_agent_operator_routes(r, box, std::make_shared<const v1_agent_info>(
                                         v1_agent_info{std::move(flags), std::move(hub)}));
  auto root = std::make_shared<std::string>(std::move(sandbox_root));
  auto state = [box](const httplib::Request&, httplib::Response& res) {
    auto v = box->get();
    if (!v) {
      reply_error(res, 503, "the agent has not published its state yet");
      return;
    }
    reply_json_text(res, v->state_json);
  };
  r.Get("/state", state);
  r.Get("/slave(1)/state", state);
  if (srv->security().acl)
    r.set_post_routing_handler([server = srv.get()](const httplib::Request& req,
                                                     httplib::Response& res) {
      restrict_view(server->security(), req, res);
    });
  r.Get("/health", [box](const httplib::Request&, httplib::Response& res) {
    auto v = box->get();
    if (v && !v->unhealthy.empty())
      reply_error(res, 503, v->unhealthy);
    else
      res.status = 200;
  });
  r.Get("/monitor/statistics", [box, containers](const httplib::Request&,
                                                 httplib::Response& res) {
    auto v = box->get();
    reply_json(res, v ? statistics(*v, containers.get()) : json::array());
  });
  r.Get("/metrics", [box](const httplib::Request&, httplib::Response& res) {
    auto v = box->get();
    res.set_content(metrics::exposition([&](prometheus::Registry& reg) {
                      prometheus::BuildGauge()
                        .Name("caldera_agent_executors")
                        .Help("Executors running on this agent")
                        .Register(reg)
                        .Add({})
                        .Set(v ? double(v->executors.size()) : 0);
                      prometheus::BuildGauge()
                        .Name("caldera_status_updates_pending")
                        .Help("Status updates the master has not acknowledged yet")
                        .Register(reg)
                        .Add({})
                        .Set(v ? double(v->pending_updates) : 0);
                    }),
                    "text/plain; version=0.0.4");
  });
  auto* server = srv.get();
  r.Get("/files/browse", [root, server](const httplib::Request& req, httplib::Response& res) {
    browse_files(server->security(), *root, req, res);
  });
  r.Get("/files/read", [root, server](const httplib::Request& req, httplib::Response& res) {
    read_files(server->security(), *root, req, res);
  });
  auto port_or = srv->start(ip, port);
  if (!port_or)
    return port_or.error();
  port_out = *port_or;
  return srv;
}

} // namespace caldera
