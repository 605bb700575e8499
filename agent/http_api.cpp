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

namespace caldera {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string read_small(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// CPU times and RSS of every process in session `sid` (from /proc).
struct usage {
  double user = 0, system = 0;
  double rss_bytes = 0;
};

usage session_usage(long sid) {
  usage u;
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    auto name = e.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9')
      continue;
    auto all = read_small((e.path() / "stat").string());
    auto close = all.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{all.substr(close + 2)};
    std::vector<std::string> f{std::istream_iterator<std::string>{rest},
                               std::istream_iterator<std::string>{}};
    // fields from 3 on: state(0) ppid(1) pgrp(2) session(3) ... utime(11)
    // stime(12) ... rss(21)
    if (f.size() < 22 || std::atol(f[3].c_str()) != sid)
      continue;
    u.user += std::atof(f[11].c_str()) / tick;
    u.system += std::atof(f[12].c_str()) / tick;
    u.rss_bytes += std::atof(f[21].c_str()) * page;
  }
  return u;
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec))
      n += it->file_size(ec);
  return n;
}

// The canonical form of `path` if it lies under `root` (both absolute);
// empty otherwise (.., absolute paths elsewhere, symlinks out).
std::string confined(const std::string& root, const std::string& path) {
  std::error_code ec;
  fs::path p = path;
  if (p.is_relative())
    p = fs::path{root} / p;
  auto canon = fs::weakly_canonical(p, ec);
  if (ec)
    return {};
  auto r = fs::weakly_canonical(root, ec).string();
  auto c = canon.string();
  if (c != r && c.rfind(r + "/", 0) != 0)
    return {};
  return c;
}

// The `path` parameter confined to the sandboxes; empty (and a 400 or 403
// reply) when it is missing or points outside them.
std::string sandbox_path(const std::string& root, const httplib::Request& req,
                         httplib::Response& res) {
  if (!req.has_param("path")) {
    reply_error(res, 400, "parameter 'path' is required");
    return {};
  }
  auto p = confined(root, req.get_param_value("path"));
  if (p.empty())
    reply_error(res, 403, "path is outside the sandboxes");
  return p;
}

json statistics(const agent_view& v) {
  auto out = json::array();
  for (auto& e : v.executors) {
    usage u;
    char* end = nullptr;
    long pid = std::strtol(e.container_id.c_str(), &end, 10);
    if (end != e.container_id.c_str() && *end == '\0' && pid > 1)
      u = session_usage(pid);
    out.push_back(json{
      {"executor_id", e.executor_id},
      {"framework_id", e.framework_id},
      {"source", e.directory},
      {"statistics",
       {{"timestamp", wall_seconds()},
        {"cpus_user_time_secs", u.user},
        {"cpus_system_time_secs", u.system},
        {"cpus_limit", e.cpus_limit},
        {"cpus_nr_throttled", 0},
        {"mem_rss_bytes", u.rss_bytes},
        {"mem_limit_bytes", e.mem_limit_mib * 1024 * 1024},
        {"disk_used_bytes", dir_bytes(e.directory)},
        {"disk_limit_bytes", e.disk_limit_mib * 1024 * 1024}}}});
  }
  return out;
}

} // namespace

caf::expected<std::unique_ptr<http_server>>
start_agent_http(const std::string& ip, uint16_t port, std::shared_ptr<agent_box> box,
                 std::string sandbox_root, uint16_t& port_out) {
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
  r.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  r.Get("/monitor/statistics", [box](const httplib::Request&, httplib::Response& res) {
    auto v = box->get();
    reply_json(res, v ? statistics(*v) : json::array());
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
    auto p = sandbox_path(*root, req, res);
    if (p.empty())
      return;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      reply_error(res, 404, "no such directory");
      return;
    }
    auto out = json::array();
    for (auto& e : fs::directory_iterator(p, ec)) {
      std::error_code ec2;
      bool dir = e.is_directory(ec2);
      out.push_back(json{{"path", e.path().string()},
                         {"size", dir ? 0 : e.file_size(ec2)},
                         {"mode", dir ? "drwxr-xr-x" : "-rw-r--r--"}});
    }
    reply_json(res, out);
  });
  r.Get("/files/read", [root](const httplib::Request& req, httplib::Response& res) {
    auto offset = query_int(req, res, "offset", 0, -1, (1LL << 50));
    if (!offset)
      return;
    auto length = query_int(req, res, "length", 64 * 1024, 0, 1 << 20);
    if (!length)
      return;
    auto p = sandbox_path(*root, req, res);
    if (p.empty())
      return;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) {
      reply_error(res, 404, "no such file");
      return;
    }
    auto size = static_cast<long long>(fs::file_size(p, ec));
    if (*offset == -1) {
      reply_json(res, json{{"data", ""}, {"offset", size}});
      return;
    }
    std::ifstream in{p, std::ios::binary};
    in.seekg(std::min(*offset, size));
    std::string buf(static_cast<size_t>(*length), '\0');
    in.read(buf.data(), *length);
    buf.resize(static_cast<size_t>(in.gcount()));
    reply_json(res, json{{"data", buf}, {"offset", std::min(*offset, size)}});
  });
  auto port_or = srv->start(ip, port);
  if (!port_or)
    return port_or.error();
  port_out = *port_or;
  return srv;
}

} // namespace caldera
