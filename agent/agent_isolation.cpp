// The agent's side of isolation: limits from task resources, task users,
// limitations (a container over its memory or disk is destroyed and its
// tasks fail with the limitation's reason), and sandbox GC.
#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>
#include <pwd.h>
#include <unistd.h>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include <caf/send.hpp>
#include "agent/agent_impl.hpp"
#include "agent/usage.hpp"

namespace caldera::agent_detail {

namespace {

resources task_resources(const run_task_msg& m) {
  auto r = resources::from_capnp(m.read()->getTask().getResources());
  return r ? *r : resources{};
}

std::string agent_user() {
  if (auto* pw = ::getpwuid(::geteuid()))
    return pw->pw_name;
  return std::to_string(::geteuid());
}

} // namespace

resources executor_own(const run_task_msg& m) {
  auto r = resources::from_capnp(m.read()->getTask().getExecutor().getResources());
  return r ? *r : resources{};
}

container_limits to_limits(const resources& r) {
  container_limits lim;
  lim.cpus = r.scalar("cpus");
  lim.mem_bytes = static_cast<uint64_t>(r.scalar("mem") * (1 << 20));
  lim.disk_bytes = static_cast<uint64_t>(r.scalar("disk") * (1 << 20));
  return lim;
}

container_limits limits_of(agent_actor* self, const key_t& ekey) {
  auto& d = self->state;
  auto ex = d.executors.find(ekey);
  if (ex == d.executors.end())
    return {};
  resources total = ex->second.own;
  for (auto& tid : ex->second.tasks)
    if (auto t = d.tasks.find({ekey.first, tid}); t != d.tasks.end())
      total += task_resources(t->second.launch);
  return to_limits(total);
}

caf::expected<std::string> task_user(agent_actor* self, const run_task_msg& m) {
  auto& d = self->state;
  auto v = m.read();
  std::string user = v->getTask().getCommand().getUser();
  if (user.empty())
    user = v->getTask().getExecutor().getCommand().getUser();
  if (user.empty())
    user = v->getFramework().getUser();
  std::string effective = d.opts.switch_user && !user.empty() ? user : agent_user();
  auto& allowed = d.opts.allowed_users;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), effective) == allowed.end()) {
    std::string list;
    for (auto& a : allowed)
      list += (list.empty() ? "" : ",") + a;
    return make_error(errc::invalid_config, "user '" + effective
                                              + "' may not run tasks on this agent (allowed_users: "
                                              + list + ")");
  }
  return d.opts.switch_user ? user : std::string{};
}

namespace {

// Records the limit an executor's container hit and destroys it.
void apply_limitation(agent_actor* self, const key_t& ekey, executor_rec& rec,
                      const limitation& l) {
  rec.limited = l;
  log::warn("container_limitation", {{"framework_id", ekey.first},
                                     {"executor_id", ekey.second},
                                     {"reason", l.reason},
                                     {"message", l.message}});
  self->state.opts.containers->destroy(rec.container_id);
}

} // namespace

std::optional<limitation> container_limited(agent_actor* self, const key_t& ekey) {
  auto& d = self->state;
  auto ex = d.executors.find(ekey);
  if (ex == d.executors.end() || ex->second.container_id.empty())
    return std::nullopt;
  auto& rec = ex->second;
  if (rec.limited)
    return rec.limited;
  auto l = d.opts.containers->check(rec.container_id, false);
  if (l)
    apply_limitation(self, ekey, rec, *l);
  return l;
}

void disk_limited(agent_actor* self, const std::string& container_id, const limitation& l) {
  for (auto& [k, ex] : self->state.executors)
    if (ex.container_id == container_id && !ex.limited) {
      apply_limitation(self, k, ex, l);
      return;
    }
}

void schedule_leftover_sandboxes(agent_actor* self) {
  auto& d = self->state;
  if (!d.gc)
    return;
  namespace fs = std::filesystem;
  std::set<std::string> running;
  for (auto& [k, ex] : d.executors)
    running.insert(fs::absolute(ex.sandbox).lexically_normal().string());
  std::error_code ec;
  size_t n = 0;
  auto root = fs::absolute(fs::path{d.opts.work_dir} / "sandboxes", ec);
  for (auto& fw : fs::directory_iterator(root, ec))
    for (auto& ex : fs::directory_iterator(fw.path(), ec)) {
      auto p = ex.path().lexically_normal().string();
      if (running.count(p) > 0)
        continue;
      std::error_code ec2;
      auto mtime = fs::last_write_time(ex.path(), ec2);
      auto since = ec2 ? gc_now(self)
                       : gc_now(self)
                           - std::chrono::duration_cast<sandbox_gc::clock::duration>(
                             fs::file_time_type::clock::now() - mtime);
      d.gc->schedule(p, since);
      ++n;
    }
  if (n > 0)
    log::info("sandboxes_scheduled_for_gc", {{"count", n}});
}

void check_containers(agent_actor* self) {
  auto& d = self->state;
  auto now = d.opts.runtime->now();
  bool disk = now - d.last_disk_watch >= d.opts.disk_watch_interval;
  if (disk)
    d.last_disk_watch = now;
  std::vector<key_t> keys;
  for (auto& [k, ex] : d.executors)
    if (!ex.limited && !ex.container_id.empty())
      keys.push_back(k);
  for (auto& k : keys)
    container_limited(self, k);
  if (disk && !d.disk_watch_busy) {
    // Measuring sandboxes walks their files: off the agent's thread. A
    // container over a limit comes back as (disk_atom, container, reason,
    // message), the end of the round as (disk_atom).
    d.disk_watch_busy = true;
    std::vector<std::string> ids;
    for (auto& k : keys)
      ids.push_back(d.executors[k].container_id);
    d.opts.runtime->run_blocking([containers = d.opts.containers, ids = std::move(ids),
                                  me = caf::actor_cast<caf::actor>(self)] {
      for (auto& id : ids)
        if (auto l = containers->check(id, true))
          caf::send_as(me, me, disk_atom::value, id, l->reason, l->message);
      caf::send_as(me, me, disk_atom::value);
    });
  }
  if (disk && d.gc) {
    double usage = filesystem_usage(d.opts.work_dir);
    for (auto& p : d.gc->prune(gc_now(self), usage))
      log::info("sandbox_removed", {{"path", p}, {"disk_usage", usage}});
  }
}

usage_msg usage_of(agent_actor* self) {
  auto& d = self->state;
  capnp::MallocMessageBuilder mb;
  auto u = mb.initRoot<schema::Usage>();
  u.setAgentId(d.agent_id);
  u.setIsolators(d.opts.containers->isolators());
  struct row {
    const key_t* key;
    const executor_rec* ex;
    container_usage usage;
  };
  std::vector<row> rows;
  for (auto& [k, ex] : d.executors) {
    if (ex.container_id.empty())
      continue;
    auto cu = d.opts.containers->usage(ex.container_id);
    // No isolator measures in-process executors: their limits only.
    rows.push_back({&k, &ex, cu ? *cu : limits_only(limits_of(self, k))});
  }
  auto list = u.initExecutors(static_cast<unsigned>(rows.size()));
  for (unsigned i = 0; i < rows.size(); ++i) {
    auto e = list[i];
    e.setFrameworkId(rows[i].key->first);
    e.setExecutorId(rows[i].key->second);
    e.setContainerId(rows[i].ex->container_id);
    e.setDirectory(rows[i].ex->sandbox);
    usage_to_capnp(rows[i].usage, e.initStatistics());
  }
  return usage_msg{mb};
}

} // namespace caldera::agent_detail
