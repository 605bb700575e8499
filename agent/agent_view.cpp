// What the agent's HTTP API shows: executors, their sandboxes and tasks,
// rebuilt by the agent actor and published for HTTP threads.
#include <filesystem>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/resources.hpp"
#include "actors/http.hpp"
#include "agent/agent_impl.hpp"

namespace caldera::agent_detail {

nlohmann::json task_json(const key_t& key, const task_rec& t) {
  auto v = t.launch.read();
  auto r = resources::from_capnp(v->getTask().getResources());
  auto res = r ? resources_json(*r) : nlohmann::json::object();
  return {{"id", key.second},       {"name", t.name},
          {"framework_id", key.first}, {"executor_id", t.executor_id},
          {"state", state_name(t.state)}, {"role", t.role},
          {"resources", res}};
}

void remember_task(agent_actor* self, const key_t& key, const task_rec& t) {
  auto& done = self->state.completed_tasks[{key.first, t.executor_id}];
  done.push_back(task_json(key, t));
  if (done.size() > 200)
    done.erase(done.begin());
}

nlohmann::json executor_json(agent_actor* self, const key_t& ekey, const std::string& sandbox,
                             bool include_done) {
  auto& d = self->state;
  auto tasks = nlohmann::json::array();
  for (auto& [key, t] : d.tasks)
    if (key.first == ekey.first && t.executor_id == ekey.second)
      (is_terminal(t.state) ? void() : tasks.push_back(task_json(key, t)));
  auto done = nlohmann::json::array();
  if (auto i = d.completed_tasks.find(ekey); i != d.completed_tasks.end())
    for (auto& j : i->second)
      done.push_back(j);
  for (auto& [key, t] : d.tasks)
    if (key.first == ekey.first && t.executor_id == ekey.second && is_terminal(t.state))
      done.push_back(task_json(key, t));
  if (include_done)
    for (auto& j : tasks)
      done.push_back(j);
  return {{"id", ekey.second},
          {"framework_id", ekey.first},
          {"directory", sandbox},
          {"tasks", include_done ? nlohmann::json::array() : tasks},
          {"completed_tasks", done},
          {"queued_tasks", nlohmann::json::array()}};
}

// The HTTP API's view: rebuilt on a timer, read by HTTP threads.
void publish_view(agent_actor* self) {
  auto& d = self->state;
  auto v = std::make_shared<agent_view>();
  std::map<std::string, nlohmann::json> fws;
  for (auto& [key, ex] : d.executors) {
    auto& f = fws[key.first];
    if (f.is_null())
      f = {{"id", key.first}, {"executors", nlohmann::json::array()},
           {"completed_executors", nlohmann::json::array()}};
    f["executors"].push_back(executor_json(self, key, ex.sandbox, false));
    agent_view::executor e;
    e.framework_id = key.first;
    e.executor_id = key.second;
    e.directory = ex.sandbox;
    e.container_id = ex.container_id;
    for (auto& [tk, t] : d.tasks)
      if (tk.first == key.first && t.executor_id == key.second && !is_terminal(t.state)) {
        auto tv = t.launch.read();
        if (auto r = resources::from_capnp(tv->getTask().getResources())) {
          e.cpus_limit += r->scalar("cpus");
          e.mem_limit_mib += r->scalar("mem");
          e.disk_limit_mib += r->scalar("disk");
        }
      }
    v->executors.push_back(std::move(e));
  }
  for (auto& ce : d.completed_executors) {
    auto fid = ce["framework_id"].get<std::string>();
    auto& f = fws[fid];
    if (f.is_null())
      f = {{"id", fid}, {"executors", nlohmann::json::array()},
           {"completed_executors", nlohmann::json::array()}};
    f["completed_executors"].push_back(ce);
  }
  // Each framework's user (what the view ACLs judge by), remembered past
  // its last task.
  for (auto& [key, t] : d.tasks)
    if (!d.framework_users.count(key.first))
      guarded("RunTask.framework", [&, &fid = key.first] {
        d.framework_users[fid] = t.launch.read()->getFramework().getUser();
      });
  auto frameworks = nlohmann::json::array();
  for (auto& [fid, f] : fws) {
    if (auto u = d.framework_users.find(fid); u != d.framework_users.end())
      f["user"] = u->second;
    frameworks.push_back(std::move(f));
  }
  auto res = resources_json(d.opts.res);
  nlohmann::json attrs = nlohmann::json::object();
  for (auto& [k, x] : d.opts.attributes)
    attrs[k] = x;
  for (auto& [k, uq] : d.updates)
    v->pending_updates += uq.q.size();
  v->unhealthy = d.unhealthy;
  v->state_json = nlohmann::json{{"id", d.agent_id},
                                 {"hostname", d.opts.hostname},
                                 {"version", "0.1.0"},
                                 {"http_endpoint", d.opts.http_endpoint},
                                 {"resources", res},
                                 {"attributes", attrs},
                                 {"registered", d.ph == phase::registered},
                                 {"unhealthy", d.unhealthy},
                                 {"frameworks", frameworks},
                                 {"completed_frameworks", nlohmann::json::array()}}
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Published (and logged, for tests to wait on) only when it changed.
  if (d.published_view && d.published_view->state_json == v->state_json
      && d.published_view->pending_updates == v->pending_updates)
    return;
  log::debug("view_published", {{"executors", v->executors.size()},
                                {"completed_executors", d.completed_executors.size()}});
  d.published_view = v;
  d.opts.publish->publish(std::move(v));
}

} // namespace caldera::agent_detail
