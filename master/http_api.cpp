#include "master/http_api.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <httplib.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "actors/metrics.hpp"
#include "actors/ids.hpp"
#include "actors/resources.hpp"
#include "actors/status.hpp"
#include "master/state_json.hpp"
#include "master/web_ui.hpp"

namespace caldera {

namespace {

using json = nlohmann::json;

std::string str(capnp::Text::Reader t) {
  return std::string{t.cStr(), t.size()};
}

const char* source_name(schema::StatusSource s) {
  switch (s) {
    case schema::StatusSource::MASTER:
      return "SOURCE_MASTER";
    case schema::StatusSource::AGENT:
      return "SOURCE_SLAVE";
    default:
      return "SOURCE_EXECUTOR";
  }
}

json task_json(schema::TaskEntry::Reader t) {
  auto statuses = json::array();
  for (auto s : t.getStatuses()) {
    json sj{{"state", state_name(s.getState())},
            {"timestamp", s.getTimestamp()},
            {"source", source_name(s.getSource())}};
    if (s.getReason().size() > 0)
      sj["reason"] = str(s.getReason());
    if (s.getMessage().size() > 0)
      sj["message"] = str(s.getMessage());
    if (s.getHasExitCode())
      sj["exit_code"] = s.getExitCode();
    statuses.push_back(std::move(sj));
  }
  return json{{"id", str(t.getId())},
              {"name", str(t.getName())},
              {"framework_id", str(t.getFrameworkId())},
              {"executor_id", str(t.getExecutorId())},
              {"slave_id", str(t.getAgentId())},
              {"agent_id", str(t.getAgentId())},
              {"state", state_name(t.getState())},
              {"resources", res_json(t.getResources())},
              {"statuses", std::move(statuses)}};
}

double first_time(schema::TaskEntry::Reader t) {
  auto ss = t.getStatuses();
  return ss.size() > 0 ? ss[0].getTimestamp() : 0;
}

json agent_json(schema::AgentState::Reader a) {
  json attrs = json::object();
  for (auto at : a.getAttributes())
    attrs[str(at.getName())] = str(at.getValue());
  auto total = resources::from_capnp(a.getResources());
  json unreserved = json::object();
  if (total)
    for (auto& [k, v] : total->entries())
      if (k.second == "*")
        unreserved[k.first] = v.is_ranges ? json(nullptr) : json(double(v.milli) / 1000.0);
  return json{{"id", str(a.getId())},
              {"hostname", str(a.getHostname())},
              {"pid", "agent@" + str(a.getEndpoint())},
              {"endpoint", str(a.getEndpoint())},
              {"http_endpoint", str(a.getHttpEndpoint())},
              {"active", a.getActive()},
              {"unreachable", a.getUnreachable()},
              {"registered_time", a.getRegisteredAt()},
              {"attributes", std::move(attrs)},
              {"resources", res_json(a.getResources())},
              {"used_resources", res_json(a.getUsedResources())},
              {"offered_resources", res_json(a.getOfferedResources())},
              {"unreserved_resources", std::move(unreserved)}};
}

bool completed(schema::FrameworkState::Reader f) {
  // Frameworks the master tore down stay in its state, inactive and without
  // used or offered resources; the API lists them as completed.
  return f.getCompleted();
}

json framework_json(schema::FrameworkState::Reader f, const std::vector<json>& tasks,
                    const std::vector<json>& done, size_t max_done) {
  auto roles = json::array();
  for (auto r : f.getRoles())
    roles.push_back(str(r));
  auto used = resources::from_capnp(f.getUsedResources());
  auto offered = resources::from_capnp(f.getOfferedResources());
  resources both;
  if (used)
    both += *used;
  if (offered)
    both += *offered;
  json completed_tasks = json::array();
  size_t start = done.size() > max_done ? done.size() - max_done : 0;
  for (size_t i = start; i < done.size(); ++i)
    completed_tasks.push_back(done[i]);
  return json{{"id", str(f.getId())},
              {"name", str(f.getName())},
              {"user", str(f.getUser())},
              {"role", roles.empty() ? json("*") : roles[0]},
              {"roles", roles},
              {"active", f.getActive()},
              {"connected", f.getActive()},
              {"registered_time", f.getRegisteredAt()},
              {"resources", resources_json(both)},
              {"used_resources", res_json(f.getUsedResources())},
              {"offered_resources", res_json(f.getOfferedResources())},
              {"tasks", tasks},
              {"completed_tasks", std::move(completed_tasks)},
              {"unreachable_tasks", json::array()},
              {"executors", json::array()}};
}

// Tasks of a snapshot split by framework: active and terminal.
struct task_index {
  std::map<std::string, std::vector<json>> active, done;
  std::set<std::string> framework_ids;
};

task_index index_tasks(schema::State::Reader st) {
  task_index ix;
  std::vector<schema::TaskEntry::Reader> all;
  for (auto t : st.getTasks())
    all.push_back(t);
  std::stable_sort(all.begin(), all.end(),
                   [](auto a, auto b) { return first_time(a) < first_time(b); });
  for (auto t : all) {
    auto fid = str(t.getFrameworkId());
    ix.framework_ids.insert(fid);
    if (is_terminal(t.getState()) || t.getState() == schema::TaskState::UNREACHABLE)
      ix.done[fid].push_back(task_json(t));
    else
      ix.active[fid].push_back(task_json(t));
  }
  return ix;
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

} // namespace

namespace {

// "frameworks" (with their tasks), "completed_frameworks" and
// "unregistered_frameworks" of a snapshot, into `j`.
void add_frameworks(json& j, schema::State::Reader v, const master_http_info& info) {
  auto ix = index_tasks(v);
  auto frameworks = json::array();
  auto completed_frameworks = json::array();
  static const std::vector<json> none;
  for (auto f : v.getFrameworks()) {
    auto fid = str(f.getId());
    auto ai = ix.active.find(fid);
    auto di = ix.done.find(fid);
    auto fj = framework_json(f, ai == ix.active.end() ? none : ai->second,
                             di == ix.done.end() ? none : di->second,
                             info.max_completed_tasks_per_framework);
    (completed(f) ? completed_frameworks : frameworks).push_back(std::move(fj));
  }
  while (completed_frameworks.size() > info.max_completed_frameworks)
    completed_frameworks.erase(completed_frameworks.begin());
  j["frameworks"] = std::move(frameworks);
  j["completed_frameworks"] = std::move(completed_frameworks);
  j["unregistered_frameworks"] = json::array();
}

} // namespace

json master_state_json(const published_state& p, const master_http_info& info) {
  auto v = p.state.read_trusted();
  json j;
  j["version"] = "0.1.0";
  j["id"] = str(v->getMasterId());
  j["pid"] = info.pid;
  j["hostname"] = info.hostname;
  j["start_time"] = v->getStartedAt();
  j["elected_time"] = v->getStartedAt();
  size_t activated = 0, deactivated = 0, unreachable = 0;
  auto slaves = json::array();
  for (auto a : v->getAgents()) {
    if (a.getUnreachable())
      ++unreachable;
    else if (a.getActive())
      ++activated;
    else
      ++deactivated;
    slaves.push_back(agent_json(a));
  }
  j["activated_slaves"] = activated;
  j["deactivated_slaves"] = deactivated;
  j["unreachable_slaves"] = unreachable;
  j["flags"] = info.flags;
  j["slaves"] = std::move(slaves);
  add_frameworks(j, v.get(), info);
  j["orphan_tasks"] = json::array();
  return j;
}

caf::expected<std::unique_ptr<http_server>>
start_master_http(const std::string& ip, uint16_t port, std::shared_ptr<state_box> box,
                  master_http_info info, uint16_t& port_out) {
  auto srv = std::make_unique<http_server>(4);
  auto& r = srv->routes();
  auto shared_info = std::make_shared<master_http_info>(std::move(info));
  // Every handler reads the latest snapshot; none exists only at start.
  auto snap = [box](httplib::Response& res) -> std::shared_ptr<const published_state> {
    auto p = box->get();
    if (!p)
      reply_error(res, 503, "the master has not published its state yet");
    return p;
  };
  auto state = [snap, shared_info](const httplib::Request&, httplib::Response& res) {
    auto p = snap(res);
    if (!p)
      return;
    std::call_once(p->once, [&] { p->state_json = master_state_json(*p, *shared_info).dump(); });
    reply_json_text(res, p->state_json);
  };
  r.Get("/state", state);
  r.Get("/master/state", state);
  r.Get("/master/state.json", state);
  r.Get("/master/state-summary", [snap, shared_info](const httplib::Request&,
                                                    httplib::Response& res) {
    auto p = snap(res);
    if (!p)
      return;
    auto v = p->state.read_trusted();
    std::map<std::string, std::map<std::string, size_t>> by_agent, by_fw;
    std::map<std::string, std::set<std::string>> fw_agents;
    for (auto t : v->getTasks()) {
      std::string s = state_name(t.getState());
      ++by_agent[str(t.getAgentId())][s];
      ++by_fw[str(t.getFrameworkId())][s];
      if (!is_terminal(t.getState()))
        fw_agents[str(t.getFrameworkId())].insert(str(t.getAgentId()));
    }
    auto counts = [](json& j, const std::map<std::string, size_t>& c) {
      for (auto s : {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED",
                     "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
                     "TASK_UNREACHABLE"}) {
        auto i = c.find(s);
        j[s] = i == c.end() ? 0 : i->second;
      }
    };
    auto slaves = json::array();
    for (auto a : v->getAgents()) {
      auto aj = agent_json(a);
      counts(aj, by_agent[str(a.getId())]);
      slaves.push_back(std::move(aj));
    }
    auto fws = json::array();
    for (auto f : v->getFrameworks()) {
      auto fid = str(f.getId());
      auto roles = json::array();
      for (auto r : f.getRoles())
        roles.push_back(str(r));
      json fj{{"id", fid},
              {"name", str(f.getName())},
              {"roles", roles},
              {"active", f.getActive()},
              {"used_resources", res_json(f.getUsedResources())},
              {"offered_resources", res_json(f.getOfferedResources())},
              {"slave_ids", fw_agents[fid]}};
      counts(fj, by_fw[fid]);
      fws.push_back(std::move(fj));
    }
    reply_json(res, json{{"hostname", shared_info->hostname},
                         {"id", str(v->getMasterId())},
                         {"slaves", std::move(slaves)},
                         {"frameworks", std::move(fws)}});
  });
  r.Get("/master/frameworks", [snap, shared_info](const httplib::Request& req,
                                                 httplib::Response& res) {
    auto p = snap(res);
    if (!p)
      return;
    auto v = p->state.read_trusted();
    json out;
    add_frameworks(out, v.get(), *shared_info);
    if (req.has_param("framework_id")) {
      auto id = req.get_param_value("framework_id");
      json keep = json::array();
      for (auto& f : out["frameworks"])
        if (f["id"] == id)
          keep.push_back(f);
      out["frameworks"] = keep;
    }
    reply_json(res, out);
  });
  auto slaves = [snap](const httplib::Request& req, httplib::Response& res) {
    auto p = snap(res);
    if (!p)
      return;
    auto v = p->state.read_trusted();
    auto list = json::array();
    std::string only = req.has_param("slave_id") ? req.get_param_value("slave_id") : "";
    for (auto a : v->getAgents())
      if (only.empty() || str(a.getId()) == only)
        list.push_back(agent_json(a));
    reply_json(res, json{{"slaves", list}, {"agents", list}, {"recovered_slaves", json::array()}});
  };
  r.Get("/master/slaves", slaves);
  r.Get("/master/agents", slaves);
  r.Get("/agents", slaves);
  r.Get("/slaves", slaves);
  r.Get("/master/tasks", [snap](const httplib::Request& req, httplib::Response& res) {
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
    auto p = snap(res);
    if (!p)
      return;
    auto v = p->state.read_trusted();
    std::string fid = req.has_param("framework_id") ? req.get_param_value("framework_id") : "";
    std::string tid = req.has_param("task_id") ? req.get_param_value("task_id") : "";
    std::vector<schema::TaskEntry::Reader> all;
    for (auto t : v->getTasks())
      if ((fid.empty() || str(t.getFrameworkId()) == fid) && (tid.empty() || str(t.getId()) == tid))
        all.push_back(t);
    std::stable_sort(all.begin(), all.end(), [&](auto a, auto b) {
      return order == "asc" ? first_time(a) < first_time(b) : first_time(a) > first_time(b);
    });
    auto out = json::array();
    for (size_t i = static_cast<size_t>(*offset);
         i < all.size() && out.size() < static_cast<size_t>(*limit); ++i)
      out.push_back(task_json(all[i]));
    reply_json(res, json{{"tasks", out}});
  });
  r.Get("/master/roles", [snap](const httplib::Request&, httplib::Response& res) {
    auto p = snap(res);
    if (!p)
      return;
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
  });
  r.Get("/master/flags", [shared_info](const httplib::Request&, httplib::Response& res) {
    reply_json(res, json{{"flags", shared_info->flags}});
  });
  r.Get("/flags", [shared_info](const httplib::Request&, httplib::Response& res) {
    reply_json(res, json{{"flags", shared_info->flags}});
  });
  r.Get("/version", [](const httplib::Request&, httplib::Response& res) {
    reply_json(res, json{{"version", "0.1.0"}, {"build_user", "caldera"}});
  });
  r.Get("/master/health", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
  });
  r.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  r.Get("/metrics/snapshot", [snap](const httplib::Request&, httplib::Response& res) {
    auto p = snap(res);
    if (!p)
      return;
    auto j = metrics_snapshot(*p);
    auto counters = json::parse(metrics::counters_json());
    for (auto& [k, x] : counters.items())
      j[k] = x;
    reply_json(res, j);
  });
  r.Get("/metrics", [box](const httplib::Request&, httplib::Response& res) {
    auto p = box->get();
    auto text = metrics::exposition([&](prometheus::Registry& reg) {
      if (p)
        snapshot_gauges(*p, reg);
    });
    res.set_content(text, "text/plain; version=0.0.4");
  });
  r.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_ui_html(), "text/html; charset=utf-8");
  });
  auto port_or = srv->start(ip, port);
  if (!port_or)
    return port_or.error();
  port_out = *port_or;
  return srv;
}

} // namespace caldera
