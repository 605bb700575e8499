#include "frameworks/mpi_like/scheduler.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include "actors/app_message.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "frameworks/mpi_like/mpi.capnp.h"

namespace caldera::mpi {

namespace {

using gang_timeout_atom = caf::atom_constant<caf::atom("gangtime")>;
using backoff_atom = caf::atom_constant<caf::atom("backoff")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;

double seconds(caf::timespan t) {
  return std::chrono::duration<double>(t).count();
}

} // namespace

mpi_scheduler::mpi_scheduler(caf::actor_config& cfg, scheduler_options so, mpi_options mo,
                             std::shared_ptr<mpi_report> report)
  : caldera::scheduler(cfg, std::move(so)), mo_(std::move(mo)), report_(std::move(report)) {
  if (auto r = resources::parse(mo_.rank_resources))
    per_rank_ = *r;
  mo_.ranks = std::max<uint32_t>(mo_.ranks, 1);
}

void mpi_scheduler::resource_offers(const std::vector<offer>& offers) {
  if (ph_ != phase::gathering) {
    std::vector<std::string> ids;
    for (auto& o : offers)
      ids.push_back(o.id);
    decline(ids, ph_ == phase::backing_off ? seconds(mo_.backoff) : 30);
    if (ph_ == phase::running && !suppressed_) {
      suppressed_ = true;
      suppress();
    }
    return;
  }
  // Hold only offers that can host a rank: holding the rest (memory alone,
  // a sliver of cpu) would count against this framework's DRF share for
  // nothing and keep it from others.
  std::vector<std::string> useless;
  for (auto& o : offers) {
    if (o.res.contains(per_rank_))
      held_[o.id] = o;
    else
      useless.push_back(o.id);
  }
  decline(useless, 1);
  if (held_.empty())
    return;
  if (!gathering_timer_) {
    gathering_timer_ = true;
    delayed_send(this, mo_.gang_timeout, gang_timeout_atom::value, ++epoch_);
  }
  try_launch();
}

void mpi_scheduler::try_launch() {
  if (per_rank_.empty()) {
    finish(false, "rank resources '" + mo_.rank_resources + "' are not valid");
    return;
  }
  std::map<std::string, resources> avail;
  for (auto& [id, o] : held_)
    avail[o.agent_id] += o.res;
  std::vector<std::string> placement; // agent of each rank
  for (auto& [aid, r] : avail) {
    auto left = r;
    while (placement.size() < mo_.ranks && left.contains(per_rank_)) {
      left -= per_rank_;
      placement.push_back(aid);
    }
  }
  if (placement.size() < mo_.ranks)
    return; // keep gathering
  ++attempt_;
  ++report_->attempts;
  std::set<std::string> used{placement.begin(), placement.end()};
  std::vector<std::string> gang_offers, rest;
  for (auto& [id, o] : held_)
    (used.count(o.agent_id) > 0 ? gang_offers : rest).push_back(id);
  ranks_.assign(mo_.ranks, rank_state{});
  std::vector<task_spec> tasks;
  for (uint32_t i = 0; i < mo_.ranks; ++i) {
    task_spec t;
    t.task_id = "rank-" + std::to_string(attempt_) + "-" + std::to_string(i);
    t.agent_id = placement[i];
    t.res = per_rank_;
    t.executor_id = t.task_id;
    t.executor_command = mo_.executor_command;
    t.data = to_bytes(make<RankTask>([&](RankTask::Builder b) {
      b.setAttempt(attempt_);
      b.setRank(i);
      b.setSize(mo_.ranks);
      b.setVectorLength(mo_.vector_length);
      b.setSamplesPerBlock(mo_.samples_per_block);
    }));
    ranks_[i].task_id = t.task_id;
    ranks_[i].agent_id = t.agent_id;
    rank_of_task_[t.task_id] = i;
    tasks.push_back(std::move(t));
  }
  accept_gang(gang_offers, tasks, 5);
  decline(rest, 1);
  held_.clear();
  ph_ = phase::running;
  gathering_timer_ = false;
  ++epoch_;
  report_->launched += tasks.size();
  log::info("gang_launch", {{"attempt", static_cast<int64_t>(attempt_)},
                            {"ranks", static_cast<int64_t>(mo_.ranks)},
                            {"agents", used.size()}});
  if (mo_.verbose) {
    std::printf("mpi-like: gang of %u ranks launched on %zu agents (attempt %u)\n",
                mo_.ranks, used.size(), attempt_);
    std::fflush(stdout);
  }
}

void mpi_scheduler::registered(const std::string&, const std::string&) {
  if (!reconcile_timer_) // registered again (a new master): one timer is enough
    delayed_send(this, mo_.reconcile_interval, reconcile_atom::value);
  reconcile_timer_ = true;
}

void mpi_scheduler::reregistered(const std::string&) {
  reconcile_ranks(); // what became of them while the master was away
}

// Asks the master about the running gang's ranks that have not ended. One it
// does not know comes back TASK_LOST and the gang is relaunched; without
// asking, the gang would wait for it forever.
void mpi_scheduler::reconcile_ranks() {
  if (ph_ != phase::running || !connected())
    return;
  std::vector<caldera::task_ref> ids;
  for (auto& rs : ranks_)
    if (!is_terminal(rs.state))
      ids.push_back({rs.task_id, rs.agent_id});
  if (!ids.empty())
    reconcile(ids);
}

void mpi_scheduler::offer_rescinded(const std::string& offer_id) {
  held_.erase(offer_id);
}

caf::message_handler mpi_scheduler::extra_handlers() {
  return {
    [this](gang_timeout_atom, uint64_t epoch) {
      if (epoch != epoch_ || ph_ != phase::gathering)
        return;
      // Not enough for the whole gang: give everything back for a while, so
      // that nobody waits on what this framework holds.
      ++report_->gang_timeouts;
      std::vector<std::string> ids;
      for (auto& [id, o] : held_)
        ids.push_back(id);
      log::info("gang_timeout", {{"held_offers", ids.size()}});
      if (mo_.verbose) {
        std::printf("mpi-like: cannot place %u ranks yet; backing off\n", mo_.ranks);
        std::fflush(stdout);
      }
      decline(ids, seconds(mo_.backoff));
      held_.clear();
      gathering_timer_ = false;
      ph_ = phase::backing_off;
      delayed_send(this, mo_.backoff, backoff_atom::value, ++epoch_);
    },
    [this](reconcile_atom) {
      if (ph_ == phase::over)
        return;
      reconcile_ranks();
      delayed_send(this, mo_.reconcile_interval, reconcile_atom::value);
    },
    [this](backoff_atom, uint64_t epoch) {
      if (epoch != epoch_ || ph_ != phase::backing_off)
        return;
      ph_ = phase::gathering;
      suppressed_ = false;
      revive();
    },
  };
}

void mpi_scheduler::status_update(const status_info& st) {
  auto i = rank_of_task_.find(st.task_id);
  if (i == rank_of_task_.end() || ph_ == phase::over)
    return;
  uint32_t r = i->second;
  bool current = r < ranks_.size() && ranks_[r].task_id == st.task_id;
  if (!current) {
    if (!is_terminal(st.state))
      kill(st.task_id, st.agent_id);
    return;
  }
  using S = schema::TaskState;
  auto before = ranks_[r].state;
  ranks_[r].state = st.state;
  if (st.state == S::RUNNING) {
    for (auto& other : ranks_)
      if (other.state == S::ERROR)
        ++report_->partial;
    return;
  }
  if (!is_terminal(st.state) || before == st.state)
    return;
  if (st.state == S::FINISHED) {
    ++report_->finished;
    if (r == 0) {
      auto at = st.message.find("result=");
      if (at != std::string::npos)
        report_->result = std::strtod(st.message.c_str() + at + 7, nullptr);
    }
    for (auto& rs : ranks_)
      if (rs.state != S::FINISHED)
        return;
    double err = std::fabs(report_->result - M_PI);
    char buf[128];
    std::snprintf(buf, sizeof(buf), "result=%.15f error=%.3g", report_->result, err);
    finish(err < 1e-8, buf);
    return;
  }
  if (st.state == S::ERROR
      && (st.reason == "REASON_TASK_GROUP_INVALID" || st.reason == "REASON_INVALID_OFFERS")) {
    // The master refused the gang as a whole: nothing runs; gather again.
    if (ph_ == phase::running) {
      ++report_->refused;
      --report_->attempts;
      ph_ = phase::gathering;
      suppressed_ = false;
      revive();
    }
    return;
  }
  ++report_->failed;
  relaunch("rank " + std::to_string(r) + " " + state_name(st.state) + ": " + st.message);
}

void mpi_scheduler::relaunch(const std::string& why) {
  if (ph_ != phase::running)
    return;
  log::warn("gang_failed", {{"attempt", static_cast<int64_t>(attempt_)}, {"why", why}});
  for (auto& rs : ranks_)
    if (!is_terminal(rs.state))
      kill(rs.task_id, rs.agent_id);
  if (mo_.verbose) {
    std::printf("mpi-like: gang attempt %u failed (%s); killing all ranks\n", attempt_,
                why.c_str());
    std::fflush(stdout);
  }
  if (report_->attempts >= mo_.max_attempts) {
    finish(false, "gave up after " + std::to_string(report_->attempts) + " attempts: " + why);
    return;
  }
  ph_ = phase::gathering;
  suppressed_ = false;
  revive();
}

void mpi_scheduler::framework_message(const std::string&, const std::string&,
                                      const std::string& data) {
  if (ph_ != phase::running)
    return;
  guarded("Hello", [&] {
    auto m = from_bytes<Hello>(data);
    auto v = m.read();
    if (v->getAttempt() != attempt_ || v->getRank() >= ranks_.size())
      return;
    ranks_[v->getRank()].address = v->getAddress();
  });
  for (auto& rs : ranks_)
    if (rs.address.empty())
      return;
  auto roster = to_bytes(make<Roster>([&](Roster::Builder b) {
    b.setAttempt(attempt_);
    auto l = b.initAddresses(static_cast<unsigned>(ranks_.size()));
    for (unsigned i = 0; i < ranks_.size(); ++i)
      l.set(i, ranks_[i].address);
  }));
  for (auto& rs : ranks_)
    send_framework_message(rs.agent_id, rs.task_id, roster);
}

void mpi_scheduler::agent_lost(const std::string& agent_id) {
  for (auto& rs : ranks_)
    if (rs.agent_id == agent_id && rs.state != schema::TaskState::FINISHED) {
      ++report_->failed;
      relaunch("agent " + agent_id + " lost");
      return;
    }
}

void mpi_scheduler::executor_lost(const std::string& executor_id, const std::string&, int) {
  for (auto& rs : ranks_)
    if (rs.task_id == executor_id && !is_terminal(rs.state)) {
      ++report_->failed;
      relaunch("executor of " + executor_id + " lost");
      return;
    }
}

void mpi_scheduler::finish(bool ok, const std::string& message) {
  ph_ = phase::over;
  report_->done = true;
  report_->succeeded = ok;
  report_->message = message;
  if (mo_.verbose || !ok) {
    std::printf("mpi-like: %s %s (ranks=%u attempts=%d gang_timeouts=%d)\n",
                message.c_str(), ok ? "verified" : "NOT VERIFIED", mo_.ranks,
                report_->attempts, report_->gang_timeouts);
    std::fflush(stdout);
  }
  stop();
}

} // namespace caldera::mpi
