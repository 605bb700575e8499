#include "sim/workload.hpp"

#include <set>
#include <sstream>

#include <caf/all.hpp>

#include "actors/log.hpp"

namespace caldera::sim {

namespace {

bool nobody_knows(const status_info& st) {
  return st.reason == "REASON_RECONCILIATION"
         && (st.message.find("does not know") != std::string::npos
             || st.message.find("unknown to the master") != std::string::npos);
}

} // namespace

std::set<schema::TaskState> terminal_states(const std::vector<status_info>& ups) {
  std::set<schema::TaskState> out;
  for (auto& st : ups) {
    // Mesos' terminal states: TASK_UNKNOWN says nothing of the task itself.
    if (!is_terminal(st.state) || st.state == schema::TaskState::UNKNOWN)
      continue;
    // A restarted master forgot a completed task: its answer is no new state.
    if (!out.empty() && nobody_knows(st))
      continue;
    out.insert(st.state);
  }
  return out;
}

sim_framework::sim_framework(caf::actor_config& cfg, scheduler_options opts, job_spec job,
                             std::shared_ptr<job_log> log)
  : scheduler(cfg, std::move(opts)), job_(std::move(job)), log_(std::move(log)) {
  rng_.seed(job_.seed);
  if (log_->started)
    return; // a restarted scheduler: the job goes on
  log_->started = true;
  log_->name = job_.name;
  log_->tasks = job_.tasks;
  log_->attempts.assign(job_.tasks, 0);
  for (size_t k = 0; k < job_.tasks; ++k)
    log_->pending.push_back(k);
}

void sim_framework::registered(const std::string& fid, const std::string&) {
  log_->framework_id = fid;
  reconcile_in_flight(); // after a failover: what became of them meanwhile
  delayed_send(this, std::chrono::seconds(30), std::string{"reconcile"});
}

void sim_framework::reregistered(const std::string&) {
  reconcile_in_flight();
}

void sim_framework::reconcile_in_flight() {
  std::vector<caldera::task_ref> ids;
  for (auto& id : log_->in_flight)
    ids.push_back({id, ""});
  if (!ids.empty())
    reconcile(ids);
}

caf::message_handler sim_framework::extra_handlers() {
  return {[this](const std::string& cmd) {
    if (cmd != "reconcile" || log_->stopped)
      return;
    reconcile_in_flight();
    delayed_send(this, std::chrono::seconds(30), std::string{"reconcile"});
  }};
}

std::string sim_framework::next_attempt(size_t k) {
  auto id = job_.name + "-" + std::to_string(k) + "." + std::to_string(++log_->attempts[k]);
  log_->of[id] = k;
  return id;
}

void sim_framework::fill(const offer& o) {
  auto left = o.res;
  std::vector<task_spec> ts;
  auto& pending = log_->pending;
  // Executors running there with tasks (charged), and those this accept starts.
  std::set<std::string> running(o.executor_ids.begin(), o.executor_ids.end());
  auto need = [&](const std::string& eid) {
    return running.count(eid) > 0 ? job_.per_task : job_.per_task + job_.per_executor;
  };
  auto executor_of = [&](const std::string& tid) {
    return job_.shared_executor ? job_.name + "-tracker" : "e-" + tid;
  };
  while (!pending.empty() && left.contains(need(executor_of("next")))) {
    auto k = pending.back();
    pending.pop_back();
    task_spec t;
    t.task_id = next_attempt(k);
    t.name = job_.name;
    t.res = job_.per_task;
    t.executor_id = executor_of(t.task_id);
    t.executor_command = "sim";
    t.executor_res = job_.per_executor;
    left -= need(t.executor_id);
    running.insert(t.executor_id);
    auto run_ms = 1 + static_cast<int>(rng_() % static_cast<uint64_t>(job_.max_run_ms));
    bool fail = static_cast<double>(rng_() % 1000) < job_.fail_chance * 1000;
    t.data = std::to_string(run_ms) + " " + (fail ? "1" : "0") + " "
             + (job_.shared_executor ? "1" : "0");
    log_->in_flight.insert(t.task_id);
    ++log_->launched;
    ts.push_back(std::move(t));
  }
  if (ts.empty())
    decline({o.id}, 1);
  else
    accept({o.id}, ts, 1);
}

void sim_framework::resource_offers(const std::vector<offer>& offers) {
  if (log_->done()) {
    std::vector<std::string> ids;
    for (auto& o : offers)
      ids.push_back(o.id);
    decline(ids, 3600);
    return;
  }
  for (auto& o : offers)
    fill(o);
}

void sim_framework::attempt_ended(const std::string& tid, const status_info& st) {
  if (log_->in_flight.erase(tid) == 0)
    return; // a later copy of a terminal update
  auto k = log_->of.at(tid);
  if (st.state == schema::TaskState::FINISHED)
    ++log_->finished;
  else if (log_->attempts[k] >= job_.max_attempts)
    ++log_->abandoned;
  else
    log_->pending.push_back(k);
  if (log_->done() && log_->in_flight.empty() && !log_->stopped) {
    log_->stopped = true;
    stop();
  }
}

void sim_framework::status_update(const status_info& st) {
  auto& ups = log_->updates[st.task_id];
  ups.push_back(st);
  auto terms = terminal_states(ups);
  if (terms.size() > 1) {
    std::string seen;
    for (auto& u : ups)
      seen += std::string{" "} + state_name(u.state) + "(" + u.reason + ")";
    log_->violations.push_back("task " + st.task_id + " of " + job_.name
                               + " reached two terminal states:" + seen);
  }
  if (log_->of.count(st.task_id) == 0)
    return;
  if (is_terminal(st.state)) {
    attempt_ended(st.task_id, st);
  } else if (log_->in_flight.count(st.task_id) == 0 && terms.empty()) {
    // Given up as TASK_UNKNOWN and tried again, yet it runs: one copy too many.
    kill(st.task_id, st.agent_id);
  }
}

void sim_framework::error(const std::string& message) {
  log::debug("sim_framework_error", {{"framework", job_.name}, {"message", message}});
}

// -- executor -------------------------------------------------------------------

void sim_executor::launch_task(const task_info& t) {
  std::istringstream in{t.data};
  int run_ms = 1;
  in >> run_ms;
  send_status(t.task_id, schema::TaskState::RUNNING);
  delayed_send(this, std::chrono::milliseconds(run_ms), std::string{"end"}, t.task_id);
}

void sim_executor::kill_task(const std::string& task_id) {
  if (active_tasks().count(task_id) == 0)
    return;
  send_status(task_id, schema::TaskState::KILLED, "killed");
  if (active_tasks().empty())
    finish();
}

caf::message_handler sim_executor::extra_handlers() {
  return {[this](const std::string& cmd, const std::string& tid) {
    auto i = active_tasks().find(tid);
    if (cmd != "end" || i == active_tasks().end())
      return;
    std::istringstream in{i->second.data};
    int run_ms = 0, fail = 0, shared = 0;
    in >> run_ms >> fail >> shared;
    if (fail)
      send_status(tid, schema::TaskState::FAILED, "exited with status 1", 1);
    else
      send_status(tid, schema::TaskState::FINISHED, "exited with status 0", 0);
    if (!shared && active_tasks().empty())
      finish();
  }};
}

} // namespace caldera::sim
