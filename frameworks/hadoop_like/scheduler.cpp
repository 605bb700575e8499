#include "frameworks/hadoop_like/scheduler.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/app_message.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "frameworks/hadoop_like/hadoop.capnp.h"

namespace caldera::hadoop {

namespace {

using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;

// The value after "name=" in a status message, up to the next space.
std::string field(const std::string& message, const std::string& name) {
  auto at = message.find(name + "=");
  if (at == std::string::npos)
    return {};
  at += name.size() + 1;
  return message.substr(at, message.find(' ', at) - at);
}

void fill_job(JobSpec::Builder b, const hadoop_options& o) {
  b.setKind(o.kind == job_kind::grep ? JobKind::GREP : JobKind::WORDCOUNT);
  b.setPattern(o.pattern);
  b.setReducers(o.reducers);
  b.setOutput(o.output);
}

} // namespace

hadoop_scheduler::hadoop_scheduler(caf::actor_config& cfg, scheduler_options so,
                                   hadoop_options ho, std::shared_ptr<hadoop_report> report)
  : caldera::scheduler(cfg, std::move(so)), ho_(std::move(ho)), report_(std::move(report)) {
  if (auto r = resources::parse(ho_.task_resources))
    per_task_ = *r;
}

void hadoop_scheduler::registered(const std::string& fid, const std::string&) {
  if (!maps_.empty() || over_)
    return;
  auto splits = make_splits(ho_.input, ho_.split_bytes);
  if (!splits) {
    fail_job(describe(splits.error()));
    return;
  }
  std::map<std::string, std::vector<std::string>> placement;
  if (!ho_.placement.empty()) {
    auto p = read_placement(ho_.placement);
    if (!p) {
      fail_job(describe(p.error()));
      return;
    }
    placement = std::move(*p);
  }
  if (per_task_.empty()) {
    fail_job("task resources '" + ho_.task_resources + "' are not valid");
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(ho_.output, ec);
  for (auto& s : *splits) {
    map_task m;
    m.s = s;
    auto name = std::filesystem::path{s.file}.filename().string();
    if (auto i = placement.find(name); i != placement.end())
      m.hosts.insert(i->second.begin(), i->second.end());
    maps_.push_back(std::move(m));
  }
  for (uint32_t r = 0; r < ho_.reducers; ++r) {
    reduce_task t;
    t.partition = r;
    reduces_.push_back(std::move(t));
  }
  report_->maps = maps_.size();
  report_->reduces = reduces_.size();
  log::info("job_started", {{"framework_id", fid}, {"maps", maps_.size()},
                            {"reduces", reduces_.size()}});
  if (!reconcile_timer_) // registered again (a new master): one timer is enough
    delayed_send(this, ho_.reconcile_interval, reconcile_atom::value);
  reconcile_timer_ = true;
  progress();
}

void hadoop_scheduler::reregistered(const std::string&) {
  reconcile_running(); // what became of them while the master was away
}

// Asks the master about every attempt thought running. One it does not know
// (its RunTask was lost, then the master restarted and forgot it) comes back
// TASK_LOST and runs again; without asking, the job would wait for it forever.
void hadoop_scheduler::reconcile_running() {
  if (over_ || !connected())
    return;
  std::vector<caldera::task_ref> ids;
  for (auto& m : maps_)
    if (m.st == phase::running)
      ids.push_back({m.task_id, m.agent_id});
  for (auto& r : reduces_)
    if (r.st == phase::running)
      ids.push_back({r.task_id, r.agent_id});
  if (!ids.empty())
    reconcile(ids);
}

// Reconciles again every `reconcile_interval`: a master that has not heard
// from a task's agent since it restarted defers its answer.
caf::message_handler hadoop_scheduler::extra_handlers() {
  return {[this](reconcile_atom) {
    if (over_)
      return;
    reconcile_running();
    delayed_send(this, ho_.reconcile_interval, reconcile_atom::value);
  }};
}

bool hadoop_scheduler::all_maps_done() const {
  for (auto& m : maps_)
    if (m.st != phase::done)
      return false;
  return true;
}

bool hadoop_scheduler::pending_work() const {
  for (auto& m : maps_)
    if (m.st == phase::pending)
      return true;
  if (!all_maps_done())
    return false;
  for (auto& r : reduces_)
    if (r.st == phase::pending)
      return true;
  return false;
}

bool hadoop_scheduler::avoid(const std::set<std::string>& failed_on,
                             const std::string& agent_id) const {
  return failed_on.count(agent_id) > 0 && failed_on.size() < hostname_.size();
}

task_spec hadoop_scheduler::spec_for(const std::string& task_id, const std::string& agent_id,
                                     std::string data) const {
  task_spec t;
  t.task_id = task_id;
  t.agent_id = agent_id;
  t.res = per_task_;
  t.executor_id = "tasktracker-" + agent_id;
  t.executor_command = ho_.executor_command;
  t.data = std::move(data);
  return t;
}

void hadoop_scheduler::resource_offers(const std::vector<offer>& offers) {
  if (over_ || (maps_.empty() && reduces_.empty())) {
    std::vector<std::string> ids;
    for (auto& o : offers)
      ids.push_back(o.id);
    decline(ids, 5);
    return;
  }
  auto now = clock().now();
  for (auto& o : offers) {
    hostname_[o.agent_id] = o.hostname;
    // Agents that say which input files they hold.
    for (auto& [k, v] : o.attributes) {
      if (k != "data")
        continue;
      std::stringstream ss{v};
      std::string file;
      while (std::getline(ss, file, ','))
        for (auto& m : maps_)
          if (std::filesystem::path{m.s.file}.filename() == file)
            m.hosts.insert(o.hostname);
    }
    resources left = o.res;
    std::vector<task_spec> tasks;
    auto launch_map = [&](map_task& m, bool local) {
      m.st = phase::running;
      ++m.attempts;
      m.local = local;
      m.agent_id = o.agent_id;
      m.task_id = "map-" + std::to_string(m.s.id) + "-" + std::to_string(++next_attempt_);
      by_task_[m.task_id] = {'m', m.s.id};
      auto data = make<MapTask>([&](MapTask::Builder b) {
        fill_job(b.initJob(), ho_);
        b.setMapId(m.s.id);
        b.setFile(m.s.file);
        b.setOffset(m.s.offset);
        b.setLength(m.s.length);
      });
      tasks.push_back(spec_for(m.task_id, o.agent_id, to_bytes(data)));
      left -= per_task_;
    };
    // 1. Node-local maps first; a local launch resets the job's wait.
    for (auto& m : maps_)
      if (m.st == phase::pending && left.contains(per_task_)
          && m.hosts.count(o.hostname) > 0 && !avoid(m.failed_on, o.agent_id)) {
        launch_map(m, true);
        waiting_since_.reset();
      }
    // 2. Other maps once the job has waited `locality_wait` without a local
    //    launch (maps without a location at once).
    for (auto& m : maps_) {
      if (m.st != phase::pending || !left.contains(per_task_) || avoid(m.failed_on, o.agent_id))
        continue;
      if (!m.hosts.empty() && !waiting_since_)
        waiting_since_ = now; // skipped for locality: the wait starts
      if (m.hosts.empty() || now - *waiting_since_ >= ho_.locality_wait)
        launch_map(m, false);
    }
    // 3. Reduces once every map output exists.
    if (all_maps_done()) {
      for (auto& r : reduces_) {
        if (r.st != phase::pending || !left.contains(per_task_)
            || avoid(r.failed_on, o.agent_id))
          continue;
        r.st = phase::running;
        ++r.attempts;
        r.agent_id = o.agent_id;
        r.task_id = "reduce-" + std::to_string(r.partition) + "-"
                    + std::to_string(++next_attempt_);
        by_task_[r.task_id] = {'r', r.partition};
        auto data = make<ReduceTask>([&](ReduceTask::Builder b) {
          fill_job(b.initJob(), ho_);
          b.setPartition(r.partition);
          auto l = b.initOutputs(static_cast<unsigned>(maps_.size()));
          for (unsigned i = 0; i < maps_.size(); ++i) {
            l[i].setMapId(maps_[i].s.id);
            l[i].setAddress(maps_[i].address);
          }
        });
        tasks.push_back(spec_for(r.task_id, o.agent_id, to_bytes(data)));
        left -= per_task_;
      }
    }
    if (tasks.empty()) {
      // Pending maps waiting for a local offer: see this agent again soon.
      decline({o.id}, pending_work() ? 1 : 30);
      continue;
    }
    report_->launched += tasks.size();
    accept({o.id}, tasks, 1);
  }
  if (!pending_work() && !suppressed_) {
    suppressed_ = true;
    suppress();
  }
  progress();
}

void hadoop_scheduler::make_pending(map_task& m) {
  m.st = phase::pending;
  m.task_id.clear();
  m.address.clear();
  if (suppressed_) {
    suppressed_ = false;
    revive();
  }
}

void hadoop_scheduler::status_update(const status_info& st) {
  if (over_)
    return;
  auto i = by_task_.find(st.task_id);
  if (i == by_task_.end())
    return;
  auto [kind, idx] = i->second;
  bool current = kind == 'm' ? maps_.at(idx).task_id == st.task_id
                             : reduces_.at(idx).task_id == st.task_id;
  if (!current) {
    // An attempt given up on (its agent was unreachable) came back: stop it.
    if (!is_terminal(st.state))
      kill(st.task_id, st.agent_id);
    return;
  }
  using S = schema::TaskState;
  if (st.state == S::STAGING || st.state == S::STARTING || st.state == S::RUNNING)
    return;
  if (st.state == S::FINISHED) {
    ++report_->finished;
    if (kind == 'm') {
      auto& m = maps_[idx];
      m.st = phase::done;
      m.address = field(st.message, "shuffle");
      if (all_maps_done() && suppressed_) {
        suppressed_ = false;
        revive();
      }
      if (all_maps_done()) {
        report_->maps_done = maps_.size();
        report_->maps_local = 0;
        for (auto& mm : maps_)
          report_->maps_local += mm.local;
      }
    } else {
      reduces_[idx].st = phase::done;
      size_t done = 0;
      for (auto& r : reduces_)
        done += r.st == phase::done;
      report_->reduces_done = done;
      if (done == reduces_.size()) {
        finish_job();
        return;
      }
    }
    progress();
    return;
  }
  // Failed, lost, killed, unreachable: run it again. An attempt the master
  // refused because its offer was gone never ran: it does not count.
  bool never_ran = st.reason == "REASON_INVALID_OFFERS" || st.state == S::DROPPED;
  if (never_ran) {
    if (kind == 'r')
      --reduces_[idx].attempts;
    else
      --maps_[idx].attempts;
  } else {
    ++report_->failed;
  }
  log::warn("attempt_failed", {{"task_id", st.task_id}, {"state", state_name(st.state)},
                               {"reason", st.reason}, {"message", st.message}});
  if (kind == 'r') {
    auto& r = reduces_[idx];
    r.st = phase::pending;
    r.task_id.clear();
    if (!never_ran && st.reason != "REASON_FETCH_FAILED")
      r.failed_on.insert(r.agent_id);
    if (st.reason == "REASON_FETCH_FAILED") {
      // The map output is gone: recompute it; not the reducer's fault.
      --r.attempts;
      auto map_id = field(st.message, "map");
      if (!map_id.empty()) {
        auto& m = maps_.at(std::stoul(map_id));
        if (m.st == phase::done) {
          ++report_->recomputed;
          make_pending(m);
        }
      }
    } else if (r.attempts >= ho_.max_attempts) {
      fail_job("reduce " + std::to_string(r.partition) + " failed "
               + std::to_string(r.attempts) + " times; last: " + st.message);
      return;
    }
  } else {
    auto& m = maps_[idx];
    if (!never_ran)
      m.failed_on.insert(m.agent_id);
    if (m.attempts >= ho_.max_attempts) {
      fail_job("map " + std::to_string(m.s.id) + " failed " + std::to_string(m.attempts)
               + " times; last: " + st.message);
      return;
    }
    make_pending(m);
  }
  if (suppressed_ && pending_work()) {
    suppressed_ = false;
    revive();
  }
  progress();
}

void hadoop_scheduler::lose_outputs_on(const std::string& agent_id, const std::string& why) {
  if (over_)
    return;
  bool reduces_left = false;
  for (auto& r : reduces_)
    reduces_left = reduces_left || r.st != phase::done;
  if (!reduces_left)
    return;
  size_t n = 0;
  for (auto& m : maps_)
    if (m.st == phase::done && m.agent_id == agent_id) {
      ++report_->recomputed;
      make_pending(m);
      ++n;
    }
  if (n > 0)
    log::warn("map_outputs_lost", {{"agent_id", agent_id}, {"maps", n}, {"why", why}});
  progress();
}

void hadoop_scheduler::agent_lost(const std::string& agent_id) {
  lose_outputs_on(agent_id, "agent lost");
}

void hadoop_scheduler::executor_lost(const std::string&, const std::string& agent_id, int) {
  lose_outputs_on(agent_id, "executor lost");
}

void hadoop_scheduler::error(const std::string& message) {
  log::warn("framework_error", {{"message", message}});
}

void hadoop_scheduler::progress() {
  if (!ho_.verbose)
    return;
  size_t maps_done = 0, reduces_done = 0;
  for (auto& m : maps_)
    maps_done += m.st == phase::done;
  for (auto& r : reduces_)
    reduces_done += r.st == phase::done;
  auto now = std::make_pair(maps_done, reduces_done);
  if (now == last_progress_)
    return;
  last_progress_ = now;
  std::printf("hadoop-like: progress maps=%zu/%zu reduces=%zu/%zu\n", maps_done,
              maps_.size(), reduces_done, reduces_.size());
  std::fflush(stdout);
}

void hadoop_scheduler::finish_job() {
  over_ = true;
  std::ofstream{std::filesystem::path{ho_.output} / "_SUCCESS"};
  report_->succeeded = true;
  report_->done = true;
  report_->message = "output complete in " + ho_.output;
  if (ho_.verbose) {
    std::printf("hadoop-like: done maps=%zu node_local=%zu locality=%.2f reduces=%zu "
                "launched=%zu failed=%zu recomputed=%zu output=%s\n",
                report_->maps, report_->maps_local, report_->locality(), report_->reduces,
                report_->launched, report_->failed, report_->recomputed, ho_.output.c_str());
    std::fflush(stdout);
  }
  stop();
}

void hadoop_scheduler::fail_job(const std::string& why) {
  over_ = true;
  report_->done = true;
  report_->succeeded = false;
  report_->message = why;
  std::fprintf(stderr, "hadoop-like: job failed: %s\n", why.c_str());
  stop();
}

} // namespace caldera::hadoop
