#include "master/http_api.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <httplib.h>
#include <zlib.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "actors/guard.hpp"
#include "actors/leader_json.hpp"
#include "actors/log.hpp"
#include "actors/metrics_export.hpp"
#include "actors/ids.hpp"
#include "actors/resources.hpp"
#include "actors/status.hpp"
#include "master/state_json.hpp"
#include "master/state_render.hpp"
#include "master/v1_operator.hpp"
#include "master/web_ui.hpp"

namespace caldera {

namespace {

using json = nlohmann::json;

std::string str(capnp::Text::Reader t) {
  return std::string{t.cStr(), t.size()};
}

std::map<std::string, double> scalars_of(capnp::List<schema::Resource>::Reader xs) {
  std::map<std::string, double> out;
  if (auto r = resources::from_capnp(xs))
    for (auto& [k, v] : r->scalars())
      out[k] += v;
  return out;
}

// What both metric endpoints count in a snapshot.
struct tally {
  std::map<std::string, double> total, used, offered; // active agents, by resource
  std::map<std::pair<std::string, std::string>, double> used_by_role, offered_by_role;
  size_t agents_active = 0, agents_disconnected = 0, agents_unreachable = 0;
  size_t frameworks_active = 0, frameworks_inactive = 0;
  std::map<std::string, size_t> tasks; // by state name
  uint32_t offers = 0;
};

bool accepts_gzip(const httplib::Request& req) {
  auto v = req.get_header_value("Accept-Encoding");
  return v.find("gzip") != std::string::npos;
}

// `text` as a gzip stream (fast level: it is made while a reader waits).
std::string gzip(const std::string& text) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return {};
  std::string out;
  out.resize(deflateBound(&z, text.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string{};
}

tally count(schema::State::Reader v) {
  tally t;
  for (auto a : v.getAgents()) {
    (a.getUnreachable() ? t.agents_unreachable
     : a.getActive()    ? t.agents_active
                        : t.agents_disconnected)++;
    if (!a.getActive())
      continue;
    for (auto& [k, x] : scalars_of(a.getResources()))
      t.total[k] += x;
    for (auto& [k, x] : scalars_of(a.getUsedResources()))
      t.used[k] += x;
    for (auto& [k, x] : scalars_of(a.getOfferedResources()))
      t.offered[k] += x;
  }
  for (auto f : v.getFrameworks()) {
    (f.getActive() ? t.frameworks_active : t.frameworks_inactive)++;
    std::string role = f.getRoles().size() > 0 ? str(f.getRoles()[0]) : "*";
    for (auto& [k, x] : scalars_of(f.getUsedResources()))
      t.used_by_role[{k, role}] += x;
    for (auto& [k, x] : scalars_of(f.getOfferedResources()))
      t.offered_by_role[{k, role}] += x;
  }
  for (auto task : v.getTasks())
    ++t.tasks[state_name(task.getState())];
  t.offers = v.getOutstandingOffers();
  return t;
}

json metrics_snapshot(const published_state& p) {
  auto v = p.state.read_trusted();
  auto t = count(v.get());
  json j = json::object();
  for (auto k : {"cpus", "mem", "disk", "gpus"}) {
    j[std::string{"master/"} + k + "_total"] = t.total[k];
    j[std::string{"master/"} + k + "_used"] = t.used[k];
    j[std::string{"master/"} + k + "_offered"] = t.offered[k];
    j[std::string{"master/"} + k + "_percent"] = t.total[k] > 0 ? t.used[k] / t.total[k] : 0.0;
  }
  j["master/slaves_active"] = t.agents_active;
  j["master/slaves_inactive"] = t.agents_disconnected;
  j["master/slaves_unreachable"] = t.agents_unreachable;
  j["master/slaves_connected"] = t.agents_active;
  j["master/frameworks_active"] = t.frameworks_active;
  j["master/frameworks_inactive"] = t.frameworks_inactive;
  for (auto s : {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED",
                 "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE"}) {
    std::string name = s + 5; // "STAGING"
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    j["master/tasks_" + name] = t.tasks[s];
  }
  j["master/outstanding_offers"] = t.offers;
  j["master/elected"] = 1;
  j["master/uptime_secs"] = wall_seconds() - v->getStartedAt();
  j["allocator/allocation_run_ms"] = v->getLastAllocationMs();
  return j;
}

// Gauges of a snapshot, for /metrics.
void snapshot_gauges(const published_state& p, prometheus::Registry& reg) {
  auto v = p.state.read_trusted();
  auto t = count(v.get());
  auto gauge = [&](const char* name, const char* help) -> prometheus::Family<prometheus::Gauge>& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(reg);
  };
  auto& total = gauge("caldera_resources_capacity",
                      "Resources of active agents, by resource (cpus, mem in MiB, ...)");
  for (auto& [k, x] : t.total)
    total.Add({{"resource", k}}).Set(x);
  auto& used = gauge("caldera_resources_used", "Resources used by tasks, by resource and role");
  for (auto& [k, x] : t.used_by_role)
    used.Add({{"resource", k.first}, {"role", k.second}}).Set(x);
  auto& offered = gauge("caldera_resources_offered",
                        "Resources in outstanding offers, by resource and role");
  for (auto& [k, x] : t.offered_by_role)
    offered.Add({{"resource", k.first}, {"role", k.second}}).Set(x);
  auto& agents = gauge("caldera_agents", "Agents known to the master, by state");
  agents.Add({{"state", "active"}}).Set(double(t.agents_active));
  agents.Add({{"state", "disconnected"}}).Set(double(t.agents_disconnected));
  agents.Add({{"state", "unreachable"}}).Set(double(t.agents_unreachable));
  auto& fws = gauge("caldera_frameworks", "Frameworks known to the master, by state");
  fws.Add({{"state", "active"}}).Set(double(t.frameworks_active));
  fws.Add({{"state", "inactive"}}).Set(double(t.frameworks_inactive));
  auto& tasks = gauge("caldera_tasks", "Tasks the master knows (completed ones as retained), by state");
  for (auto& [st, n] : t.tasks)
    tasks.Add({{"state", st}}).Set(double(n));
  gauge("caldera_offers_outstanding", "Offers sent and not yet answered").Add({}).Set(t.offers);
}

// /master/leader of the leader (standbys answer it from master/standby.hpp).
void leader_reply(const master_http_info& info, httplib::Response& res) {
  reply_json(res, {{"role", "leader"},
                   {"coordinator", info.coordinator},
                   {"leader", leader_json(info.leader)}});
}

// Whether this master leads (it does: standbys serve master/standby.hpp's
// API) and, with standby masters, its epoch.
void leader_gauges(const master_http_info& info, prometheus::Registry& reg) {
  prometheus::BuildGauge()
    .Name("caldera_master_elected")
    .Help("1 while this master leads, 0 while it is a standby")
    .Register(reg)
    .Add({})
    .Set(1);
  if (info.leader)
    prometheus::BuildGauge()
      .Name("caldera_master_epoch")
      .Help("The epoch of this master's leadership (the leader key's create revision)")
      .Register(reg)
      .Add({})
      .Set(double(info.leader->epoch));
}

} // namespace

state_box::~state_box() {
  {
    std::lock_guard<std::mutex> g{mtx_};
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void state_box::visible(std::shared_ptr<published_state> p) {
  // Debug: lets tests wait for what the API will show.
  log::debug("state_published", {{"active_tasks", p->active_tasks},
                                 {"completed_tasks", p->completed_tasks},
                                 {"agents", p->agents}});
  p_ = std::move(p);
}

void state_box::publish(std::shared_ptr<published_state> p) {
  std::lock_guard<std::mutex> g{mtx_};
  if (!prepare_) {
    visible(std::move(p));
    return;
  }
  pending_ = std::move(p);
  cv_.notify_one();
}

std::shared_ptr<const published_state> state_box::get() const {
  std::lock_guard<std::mutex> g{mtx_};
  return p_;
}

void state_box::set_preparer(prepare_fn prepare) {
  std::lock_guard<std::mutex> g{mtx_};
  prepare_ = std::move(prepare);
  if (!thread_.joinable()) // a second server on the same box renders its way
    thread_ = std::thread{[this] { loop(); }};
}

void state_box::loop() {
  lower_thread_priority();
  std::unique_lock<std::mutex> lk{mtx_};
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || pending_; });
    if (stop_)
      return;
    auto p = std::move(pending_);
    auto prepare = prepare_;
    lk.unlock();
    prepare(p);
    lk.lock();
    visible(std::move(p));
  }
}

namespace {

const std::set<std::string> viewed_paths{"/state",           "/master/state",
                                         "/master/state.json", "/master/frameworks",
                                         "/master/tasks",   "/master/state-summary"};

} // namespace

void restrict_view(const state_box& box, const http_security& sec, const httplib::Request& req,
                   httplib::Response& res) {
  if (!sec.acl || res.status != 200 || res.body.empty() || viewed_paths.count(req.path) == 0)
    return;
  auto p = box.get();
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  if (!p || j.is_discarded())
    return;
  std::map<std::string, std::string> users;
  for (auto f : p->state.read_trusted()->getFrameworks())
    users[f.getId()] = f.getUser();
  filter_state(j, *sec.acl, http_principal(req, sec), users);
  // The handler set the length of the whole state: the filtered one is shorter.
  res.headers.erase("Content-Length");
  res.body = j.dump();
}

namespace {

using snapshot_ptr = std::shared_ptr<const published_state>;

// The latest snapshot; null (503 said) while none was published.
snapshot_ptr latest(const state_box& box, httplib::Response& res) {
  auto p = box.get();
  if (!p)
    reply_error(res, 503, "the master has not published its state yet");
  return p;
}

// A handler that answers from the latest snapshot.
template <class F>
http_handler on_snapshot(std::shared_ptr<state_box> box, F f) {
  return [box, f](const httplib::Request& req, httplib::Response& res) {
    if (auto p = latest(*box, res))
      f(p, req, res);
  };
}

// /master/state: the text rendered with the snapshot, gzip for clients that
// take it (a tenth of the bytes, compressed once per snapshot), streamed
// from the shared text (40 MB are not copied per request).
void state_reply(const snapshot_ptr& p, const master_http_info& info, bool filtered,
                 const httplib::Request& req, httplib::Response& res) {
  auto text = p->state_json;
  if (!text) // published before the server started
    text = std::make_shared<const std::string>(state_renderer{info}.render(*p));
  if (filtered) { // each principal's view is its own (restrict_view)
    reply_json_text(res, *text);
    return;
  }
  if (accepts_gzip(req)) {
    std::call_once(p->gzip_once, [&] {
      p->state_gzip = std::make_shared<const std::string>(gzip(*text));
    });
    if (!p->state_gzip->empty()) {
      text = p->state_gzip;
      res.set_header("Content-Encoding", "gzip");
    }
  }
  res.status = 200;
  res.set_content_provider(
    text->size(), "application/json",
    [text](size_t offset, size_t length, httplib::DataSink& sink) {
      return sink.write(text->data() + offset, std::min(length, text->size() - offset));
    });
}

using state_counts = std::map<std::string, size_t>;

// Task counts by state, every state named.
void write_counts(json_writer& w, const state_counts& c) {
  static const char* const states[] = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING",
                                       "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED",
                                       "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE"};
  for (auto s : states) {
    auto i = c.find(s);
    w.field(s, static_cast<uint64_t>(i == c.end() ? 0 : i->second));
  }
}

void write_summary_framework(json_writer& w, schema::FrameworkState::Reader f,
                             const std::set<std::string>& agents, const state_counts& counts) {
  w.begin_object();
  w.field("id", str(f.getId()));
  w.field("name", str(f.getName()));
  w.key("roles").begin_array();
  for (auto r : f.getRoles())
    w.value(str(r));
  w.end_array();
  w.field("active", f.getActive());
  w.key("used_resources");
  write_resources(w, f.getUsedResources());
  w.key("offered_resources");
  write_resources(w, f.getOfferedResources());
  w.key("slave_ids").begin_array();
  for (auto& a : agents)
    w.value(a);
  w.end_array();
  write_counts(w, counts);
  w.end_object();
}

// /master/state-summary: agents and frameworks with task counts by state.
void summary_reply(const snapshot_ptr& p, const master_http_info& info, httplib::Response& res) {
  auto v = p->state.read_trusted();
  std::map<std::string, state_counts> by_agent, by_fw;
  std::map<std::string, std::set<std::string>> fw_agents;
  for (auto t : v->getTasks()) {
    std::string s = state_name(t.getState());
    ++by_agent[str(t.getAgentId())][s];
    ++by_fw[str(t.getFrameworkId())][s];
    if (!is_terminal(t.getState()))
      fw_agents[str(t.getFrameworkId())].insert(str(t.getAgentId()));
  }
  std::string out;
  json_writer w{out};
  w.begin_object();
  w.field("hostname", info.hostname);
  w.field("id", str(v->getMasterId()));
  w.key("slaves").begin_array();
  for (auto a : v->getAgents())
    write_agent(w, a, [&](json_writer& aw) { write_counts(aw, by_agent[str(a.getId())]); });
  w.end_array();
  w.key("frameworks").begin_array();
  for (auto f : v->getFrameworks())
    write_summary_framework(w, f, fw_agents[str(f.getId())], by_fw[str(f.getId())]);
  w.end_array();
  w.end_object();
  reply_json_text(res, out);
}

std::string param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : "";
}

void frameworks_reply(const snapshot_ptr& p, const master_http_info& info,
                      const httplib::Request& req, httplib::Response& res) {
  auto v = p->state.read_trusted();
  std::string out;
  json_writer w{out};
  w.begin_object();
  state_renderer::write_frameworks(w, v.get(), info, nullptr, param(req, "framework_id"));
  w.end_object();
  reply_json_text(res, out);
}

// /master/slaves and its aliases (Mesos names both keys).
void agents_reply(const snapshot_ptr& p, const httplib::Request& req, httplib::Response& res) {
  auto v = p->state.read_trusted();
  std::string only = param(req, "slave_id");
  std::string list;
  json_writer lw{list};
  lw.begin_array();
  for (auto a : v->getAgents())
    if (only.empty() || str(a.getId()) == only)
      write_agent(lw, a);
  lw.end_array();
  std::string out;
  json_writer w{out};
  w.begin_object();
  w.key("slaves").raw(list);
  w.key("agents").raw(list);
  w.key("recovered_slaves").begin_array().end_array();
  w.end_object();
  reply_json_text(res, out);
}

// /master/tasks?limit&offset&order&framework_id&task_id: parameters are
// checked before the snapshot is asked for.
void tasks_reply(const state_box& box, const httplib::Request& req, httplib::Response& res) {
  auto limit = query_int(req, res, "limit", 100, 0, 1'000'000);
  if (!limit)
    return;
  auto offset = query_int(req, res, "offset", 0, 0, 1'000'000'000);
  if (!offset)
    return;
  std::string order = req.has_param("order") ? req.get_param_value("order") : "desc";
  if (order != "asc" && order != "desc") {
    reply_error(res, 400, "parameter 'order': '" + order + "' is neither 'asc' nor 'desc'");
    return;
  }
  auto p = latest(box, res);
  if (!p)
    return;
  auto v = p->state.read_trusted();
  std::string fid = param(req, "framework_id");
  std::string tid = param(req, "task_id");
  std::vector<schema::TaskEntry::Reader> all;
  for (auto t : v->getTasks())
    if ((fid.empty() || str(t.getFrameworkId()) == fid) && (tid.empty() || str(t.getId()) == tid))
      all.push_back(t);
  std::stable_sort(all.begin(), all.end(), [&](auto a, auto b) {
    return order == "asc" ? first_status_time(a) < first_status_time(b) : first_status_time(a) > first_status_time(b);
  });
  std::string out;
  json_writer w{out};
  w.begin_object().key("tasks").begin_array();
  for (size_t i = static_cast<size_t>(*offset), n = 0;
       i < all.size() && n < static_cast<size_t>(*limit); ++i, ++n)
    write_task(w, all[i]);
  w.end_array().end_object();
  reply_json_text(res, out);
}

void roles_reply(const snapshot_ptr& p, httplib::Response& res) {
  auto rv = p->roles.read_trusted();
  auto v = p->state.read_trusted();
  auto roles = json::array();
  for (auto ri : rv->getRoles()) {
    std::string name = str(ri.getRole());
    std::map<std::string, double> offered;
    for (auto f : v->getFrameworks())
      if (f.getRoles().size() > 0 && str(f.getRoles()[0]) == name)
        for (auto& [k, x] : scalars_of(f.getOfferedResources()))
          offered[k] += x;
    auto fws = json::array();
    for (auto f : ri.getFrameworks())
      fws.push_back(str(f));
    roles.push_back(json{{"name", name},
                         {"weight", ri.getWeight()},
                         {"quota", {{"guarantee", res_json(ri.getGuarantee())},
                                    {"limit", res_json(ri.getLimit())}}},
                         {"allocated", res_json(ri.getAllocated())},
                         {"resources", res_json(ri.getAllocated())},
                         {"offered", offered},
                         {"reserved", json::object()},
                         {"share", ri.getShare()},
                         {"frameworks", fws}});
  }
  reply_json(res, json{{"roles", roles}});
}

// Unhealthy while the registry cannot be written (a full disk): the master
// cannot admit agents or frameworks then.
void health_reply(const master_http_info& info, httplib::Response& res) {
  if (info.registry) {
    auto [ok, why] = info.registry->get();
    if (!ok) {
      reply_json(res, json{{"healthy", false}, {"reason", "registry write failed: " + why}});
      res.status = 503;
      return;
    }
  }
  res.status = 200;
}

void metrics_snapshot_reply(const snapshot_ptr& p, httplib::Response& res) {
  auto j = metrics_snapshot(*p);
  auto counters = json::parse(metrics::counters_json());
  for (auto& [k, x] : counters.items())
    j[k] = x;
  reply_json(res, j);
}

// Prometheus: the snapshot's gauges (if any yet) and who leads.
void metrics_reply(const state_box& box, const master_http_info& info, httplib::Response& res) {
  auto p = box.get();
  auto text = metrics::exposition([&](prometheus::Registry& reg) {
    if (p)
      snapshot_gauges(*p, reg);
    leader_gauges(info, reg);
  });
  res.set_content(text, "text/plain; version=0.0.4");
}

void flags_reply(const master_http_info& info, httplib::Response& res) {
  reply_json(res, json{{"flags", info.flags}});
}

// Every route, each a call of a named function above.
void add_master_routes(http_router& r, std::shared_ptr<state_box> box,
                       std::shared_ptr<const master_http_info> info) {
  using req_t = const httplib::Request&;
  using res_t = httplib::Response&;
  bool filtered = info->security.acl != nullptr;
  auto state = on_snapshot(box, [info, filtered](const snapshot_ptr& p, req_t q, res_t s) {
    state_reply(p, *info, filtered, q, s);
  });
  auto agents = on_snapshot(box, [](const snapshot_ptr& p, req_t q, res_t s) {
    agents_reply(p, q, s);
  });
  for (auto path : {"/state", "/master/state", "/master/state.json"})
    r.Get(path, state);
  for (auto path : {"/master/slaves", "/master/agents", "/agents", "/slaves"})
    r.Get(path, agents);
  r.Get("/master/state-summary", on_snapshot(box, [info](const snapshot_ptr& p, req_t, res_t s) {
          summary_reply(p, *info, s);
        }));
  r.Get("/master/frameworks", on_snapshot(box, [info](const snapshot_ptr& p, req_t q, res_t s) {
          frameworks_reply(p, *info, q, s);
        }));
  r.Get("/master/tasks", [box](req_t q, res_t s) { tasks_reply(*box, q, s); });
  r.Get("/master/roles", on_snapshot(box, [](const snapshot_ptr& p, req_t, res_t s) {
          roles_reply(p, s);
        }));
  r.Get("/master/flags", [info](req_t, res_t s) { flags_reply(*info, s); });
  r.Get("/flags", [info](req_t, res_t s) { flags_reply(*info, s); });
  r.Get("/version", [](req_t, res_t s) {
    reply_json(s, json{{"version", "0.1.0"}, {"build_user", "caldera"}});
  });
  r.Get("/master/health", [info](req_t, res_t s) { health_reply(*info, s); });
  r.Get("/health", [](req_t, res_t s) { s.status = 200; });
  r.Get("/metrics/snapshot", on_snapshot(box, [](const snapshot_ptr& p, req_t, res_t s) {
          metrics_snapshot_reply(p, s);
        }));
  r.Get("/metrics", [box, info](req_t, res_t s) { metrics_reply(*box, *info, s); });
  r.Get("/master/leader", [info](req_t, res_t s) { leader_reply(*info, s); });
  r.Get("/", [](req_t, res_t s) { s.set_content(web_ui_html(), "text/html; charset=utf-8"); });
}

} // namespace

caf::expected<std::unique_ptr<http_server>>
start_master_http(const std::string& ip, uint16_t port, std::shared_ptr<state_box> box,
                  master_http_info info, uint16_t& port_out) {
  auto shared_info = std::make_shared<const master_http_info>(std::move(info));
  auto srv = std::make_unique<http_server>(4, shared_info->security, shared_info->limits);
  // Rendered on the box's thread before the snapshot became visible.
  box->set_preparer([renderer = std::make_shared<state_renderer>(*shared_info),
                     hub = shared_info->v1_operator](const std::shared_ptr<published_state>& p) {
    p->state_json = std::make_shared<const std::string>(renderer->render(*p));
    // On the box's thread: what throws here is logged, never the master's end.
    if (hub)
      guarded("operator_snapshot", [&] { hub->on_snapshot(p); });
  });
  auto& r = srv->routes();
  if (shared_info->security.acl != nullptr)
    r.set_post_routing_handler(
      [box, shared_info](const httplib::Request& req, httplib::Response& res) {
        restrict_view(*box, shared_info->security, req, res);
      });
  add_master_routes(r, box, shared_info);
  if (shared_info->v1)
    add_v1_scheduler_routes(r, shared_info->v1);
  if (shared_info->v1_operator)
    add_v1_operator_routes(r, box, shared_info, shared_info->v1_operator);
  auto port_or = srv->start(ip, port);
  if (!port_or)
    return port_or.error();
  port_out = *port_or;
  return srv;
}

} // namespace caldera
