#include "master/state_json.hpp"

#include <cstdio>
#include <map>
#include <sstream>

#include "actors/http.hpp"
#include "actors/resources.hpp"
#include "actors/status.hpp"

namespace caldera {

nlohmann::json res_json(capnp::List<schema::Resource>::Reader xs) {
  auto r = resources::from_capnp(xs);
  return r ? resources_json(*r) : nlohmann::json::object();
}

namespace {

std::string res_text(capnp::List<schema::Resource>::Reader xs) {
  auto r = resources::from_capnp(xs);
  return r ? r->to_string() : std::string{"?"};
}

double scalar(capnp::List<schema::Resource>::Reader xs, const char* name) {
  auto r = resources::from_capnp(xs);
  return r ? r->scalar(name) : 0;
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i)
        w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string out;
  for (auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size())
        out += std::string(w[i] - r[i].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

} // namespace

nlohmann::json state_to_json(schema::State::Reader st) {
  nlohmann::json j;
  j["master_id"] = std::string{st.getMasterId()};
  j["id"] = std::string{st.getMasterId()};
  j["start_time"] = st.getStartedAt();
  j["recovered_agents"] = st.getRecoveredAgents();
  j["recovered_frameworks"] = st.getRecoveredFrameworks();
  auto agents = nlohmann::json::array();
  for (auto a : st.getAgents()) {
    agents.push_back({{"id", std::string{a.getId()}},
                      {"hostname", std::string{a.getHostname()}},
                      {"endpoint", std::string{a.getEndpoint()}},
                      {"active", a.getActive()},
                      {"unreachable", a.getUnreachable()},
                      {"unhealthy", std::string{a.getUnhealthy()}},
                      {"registered_time", a.getRegisteredAt()},
                      {"resources", res_json(a.getResources())},
                      {"used_resources", res_json(a.getUsedResources())},
                      {"offered_resources", res_json(a.getOfferedResources())}});
  }
  j["agents"] = agents;
  auto fws = nlohmann::json::array();
  for (auto f : st.getFrameworks()) {
    auto roles = nlohmann::json::array();
    for (auto r : f.getRoles())
      roles.push_back(std::string{r});
    fws.push_back({{"id", std::string{f.getId()}},
                   {"name", std::string{f.getName()}},
                   {"user", std::string{f.getUser()}},
                   {"roles", roles},
                   {"active", f.getActive()},
                   {"registered_time", f.getRegisteredAt()},
                   {"used_resources", res_json(f.getUsedResources())},
                   {"offered_resources", res_json(f.getOfferedResources())}});
  }
  j["frameworks"] = fws;
  auto tasks = nlohmann::json::array();
  for (auto t : st.getTasks()) {
    auto statuses = nlohmann::json::array();
    for (auto s : t.getStatuses()) {
      nlohmann::json sj{{"state", state_name(s.getState())},
                        {"timestamp", s.getTimestamp()},
                        {"source", s.getSource() == schema::StatusSource::MASTER ? "SOURCE_MASTER"
                                   : s.getSource() == schema::StatusSource::AGENT ? "SOURCE_AGENT"
                                                                                   : "SOURCE_EXECUTOR"}};
      if (s.getMessage().size() > 0)
        sj["message"] = std::string{s.getMessage()};
      if (s.getReason().size() > 0)
        sj["reason"] = std::string{s.getReason()};
      if (s.getHasExitCode())
        sj["exit_code"] = s.getExitCode();
      statuses.push_back(sj);
    }
    tasks.push_back({{"id", std::string{t.getId()}},
                     {"name", std::string{t.getName()}},
                     {"framework_id", std::string{t.getFrameworkId()}},
                     {"agent_id", std::string{t.getAgentId()}},
                     {"slave_id", std::string{t.getAgentId()}},
                     {"executor_id", std::string{t.getExecutorId()}},
                     {"state", state_name(t.getState())},
                     {"resources", res_json(t.getResources())},
                     {"statuses", statuses}});
  }
  j["tasks"] = tasks;
  return j;
}

std::string state_to_table(schema::State::Reader st, const std::string& section) {
  std::string out;
  bool all = section.empty();
  if (all)
    out = "master " + std::string{st.getMasterId()} + "\n\n";
  std::vector<std::vector<std::string>> rows;
  if (all || section == "agents") {
    if (all)
      out += "AGENTS\n";
    rows = {{"ID", "HOSTNAME", "ACTIVE", "CPUS USED/TOTAL", "MEM USED/TOTAL", "HTTP",
             "RESOURCES"}};
    for (auto a : st.getAgents())
      rows.push_back({a.getId(), a.getHostname(),
                      a.getActive() ? "yes" : (a.getUnreachable() ? "unreachable" : "no"),
                      num(scalar(a.getUsedResources(), "cpus")) + "/"
                        + num(scalar(a.getResources(), "cpus")),
                      num(scalar(a.getUsedResources(), "mem")) + "/"
                        + num(scalar(a.getResources(), "mem")),
                      a.getHttpEndpoint().size() ? std::string{a.getHttpEndpoint()} : "-",
                      res_text(a.getResources())});
    out += table(rows);
  }
  if (all || section == "frameworks") {
    if (all)
      out += "\nFRAMEWORKS\n";
    std::map<std::string, int> task_count;
    for (auto t : st.getTasks())
      if (!is_terminal(t.getState()))
        ++task_count[t.getFrameworkId()];
    rows = {{"ID", "NAME", "USER", "ACTIVE", "RUNNING TASKS", "USED"}};
    for (auto f : st.getFrameworks())
      rows.push_back({f.getId(), f.getName(), f.getUser(),
                      f.getCompleted() ? "completed" : f.getActive() ? "yes" : "no",
                      std::to_string(task_count[f.getId()]), res_text(f.getUsedResources())});
    out += table(rows);
  }
  if (all || section == "tasks") {
    if (all)
      out += "\nTASKS\n";
    rows = {{"ID", "FRAMEWORK", "AGENT", "STATE", "RESOURCES", "LAST MESSAGE"}};
    for (auto t : st.getTasks()) {
      std::string last;
      if (t.getStatuses().size() > 0)
        last = t.getStatuses()[t.getStatuses().size() - 1].getMessage();
      rows.push_back({t.getId(), t.getFrameworkId(), t.getAgentId(),
                      state_name(t.getState()), res_text(t.getResources()), last});
    }
    out += table(rows);
  }
  return out;
}

} // namespace caldera
