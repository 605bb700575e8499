#include "agent/http_api.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "actors/ids.hpp"
#include "actors/metrics.hpp"
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

// Mesos' /files/browse: the entries of a sandbox directory (symlinks shown
// as links, never followed).
void browse_files(const std::string& root, const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> parts;
  if (!sandbox_path(root, req, res, parts))
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
void read_files(const std::string& root, const httplib::Request& req, httplib::Response& res) {
  auto offset = query_int(req, res, "offset", 0, -1, (1LL << 50));
  if (!offset)
    return;
  auto length = query_int(req, res, "length", 64 * 1024, 0, 1 << 20);
  if (!length)
    return;
  std::vector<std::string> parts;
  if (!sandbox_path(root, req, res, parts))
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
                 std::shared_ptr<containerizer> containers) {
  auto srv = std::make_unique<http_server>(4);
  auto& r = srv->routes();
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
  r.Get("/files/browse", [root](const httplib::Request& req, httplib::Response& res) {
    browse_files(*root, req, res);
  });
  r.Get("/files/read", [root](const httplib::Request& req, httplib::Response& res) {
    read_files(*root, req, res);
  });
  auto port_or = srv->start(ip, port);
  if (!port_or)
    return port_or.error();
  port_out = *port_or;
  return srv;
}

} // namespace caldera
