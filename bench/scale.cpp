// bench-scale: one master and many agents (issue 17).
//
//   build/bin/bench-scale [--agents 10000] [--tasks-per-agent 2] [--seconds 10]
//                         [--per-batch 5] [--task-seconds 1]
//
// Starts caldera-master as a process, then `--agents` emulated agents (actors
// of this process speaking the agent's side of the protocol: registration,
// pings, RunTask answered with TASK_RUNNING and, `--task-seconds` later,
// TASK_FINISHED) all at once: the registration storm. Each registers, then
// re-registers with `--tasks-per-agent` running tasks, as a restarted agent
// does. Then a framework (an SDK scheduler in a process of its own, as a
// framework is) launches steadily for `--seconds`: of each batch of offers it
// accepts `--per-batch` with one task each (the rest of the agent's
// resources offered again at once) and declines the rest for 60 s.
// Prints one JSON line:
//   {"agents":N,"tasks_per_agent":T,"register_s":..,"master_bytes_per_agent":..,
//    "launched":..,"launches_per_s":..,"offer_to_running_p50_ms":..,
//    "offer_to_running_p99_ms":..}
// register_s: from the first agent's registration to the last one's tasks
// admitted; master_bytes_per_agent: the master's resident memory after the
// storm less before it, per agent; offer_to_running: from the offer's
// arrival at the framework (which accepts at once) to TASK_RUNNING there.
// Exits 1 with a message on stderr when a step does not complete in 120 s.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/master_address.hpp"
#include "actors/node.hpp"
#include "actors/resources.hpp"
#include "actors/scheduler.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"
#include "bench/emulated_agent.hpp"
#include "support/process_util.hpp"

using namespace caldera;
using namespace caldera::bench;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

using finish_atom = caf::atom_constant<caf::atom("finish")>;
constexpr auto step_timeout = 120s;

struct options {
  size_t agents = 10000;
  size_t tasks_per_agent = 2;
  double seconds = 10;
  size_t per_batch = 5;
  double task_seconds = 1;
  std::string scheduler_url; // --scheduler: the framework's process
};

struct shared {
  std::atomic<size_t> registered{0}; // with their tasks
  std::atomic<int64_t> last_registered{0};
};

struct emu_state {
  caf::actor master;
  std::string id;
  bool with_tasks = false;
  uint64_t updates = 0;
};

using emu_actor = caf::stateful_actor<emu_state>;

void send_registration(emu_actor* self, size_t k, const options& o, std::shared_ptr<shared> sh) {
  static const auto agent_res = *resources::parse("cpus:8;mem:32768;disk:100000");
  auto& st = self->state;
  auto m = registration(k, st.id, o.tasks_per_agent, agent_res);
  self->request(st.master, step_timeout, std::move(m))
    .then(
      [=](const agent_registered_msg& m) {
        auto& st = self->state;
        st.id = m.read()->getAgentId();
        if (!st.with_tasks) {
          st.with_tasks = true;
          send_registration(self, k, o, sh);
          return;
        }
        sh->last_registered = now_ns();
        ++sh->registered;
      },
      [=](caf::error&) { self->delayed_send(self, 1s, retry_atom::value); });
}

// A status update of the task as an executor's, to be acknowledged.
void report(emu_actor* self, const std::string& fid, const std::string& tid,
            schema::TaskState state) {
  status_info st;
  st.task_id = tid;
  st.framework_id = fid;
  st.agent_id = self->state.id;
  st.state = state;
  st.source = schema::StatusSource::EXECUTOR;
  st.uuid = self->state.id + "/" + std::to_string(++self->state.updates);
  self->send(self->state.master, make_status_update(st));
}

void run_task(emu_actor* self, const run_task_msg& m, const options& o) {
  auto r = m.read();
  std::string fid = r->getFramework().getId();
  std::string tid = r->getTask().getTaskId();
  report(self, fid, tid, schema::TaskState::RUNNING);
  self->delayed_send(self, std::chrono::duration_cast<caf::timespan>(
                             std::chrono::duration<double>(o.task_seconds)),
                     finish_atom::value, fid, tid);
}

// An agent that registers, reports its tasks, answers pings and runs tasks
// that end by themselves; acknowledgements are dropped (it never resends).
caf::behavior emu_agent(emu_actor* self, caf::actor master, size_t k, options o,
                        std::shared_ptr<shared> sh) {
  self->set_default_handler(caf::drop);
  self->state.master = master;
  send_registration(self, k, o, sh);
  return {
    [=](ping_atom) {
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), pong_atom::value);
    },
    [=](retry_atom) { send_registration(self, k, o, sh); },
    [=](const run_task_msg& m) { run_task(self, m, o); },
    [=](finish_atom, const std::string& fid, const std::string& tid) {
      report(self, fid, tid, schema::TaskState::FINISHED);
    },
  };
}

// The framework: accepts `per_batch` offers of each batch at once (one task
// each, the rest of the agent's resources back at once) and declines the
// others for 60 s; times each offer's arrival to its task's TASK_RUNNING.
class scale_scheduler : public scheduler {
public:
  scale_scheduler(caf::actor_config& cfg, scheduler_options so, size_t per_batch)
    : scheduler(cfg, std::move(so)), per_batch_(per_batch) {
  }

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    auto now = clock_type::now();
    std::vector<std::string> declined;
    size_t taken = 0;
    for (auto& o : offers) {
      if (taken == per_batch_ || !o.res.contains(task_res_)) {
        declined.push_back(o.id);
        continue;
      }
      task_spec t;
      t.task_id = "s" + std::to_string(launched_++);
      t.res = task_res_;
      t.command = "true";
      offered_at_[t.task_id] = now;
      accept({o.id}, {t}, 0);
      ++taken;
    }
    if (!declined.empty())
      decline(declined, 60);
  }

  void status_update(const status_info& st) override {
    if (st.state != schema::TaskState::RUNNING)
      return;
    auto i = offered_at_.find(st.task_id);
    if (i == offered_at_.end())
      return;
    std::printf("running %.3f\n",
                std::chrono::duration<double, std::milli>(clock_type::now() - i->second).count());
    std::fflush(stdout);
    offered_at_.erase(i);
  }

private:
  size_t per_batch_;
  size_t launched_ = 0;
  resources task_res_ = *resources::parse("cpus:0.1;mem:16");
  std::map<std::string, clock_type::time_point> offered_at_;
};

// VmRSS of `pid` in bytes.
double resident_bytes(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) * 1024;
  return 0;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<size_t>(p * double(xs.size())))];
}

// The latencies the framework's process printed ("running MS" lines).
std::vector<double> latencies(const std::string& out) {
  std::vector<double> xs;
  for (auto at = out.find("running "); at != std::string::npos; at = out.find("running ", at + 1))
    xs.push_back(std::stod(out.substr(at + 8)));
  return xs;
}

caf::actor connect_master(caf::actor_system& sys, uint16_t port) {
  auto m = connect_master_blocking(sys, master_address{endpoint{"127.0.0.1", port}});
  if (!m)
    throw std::runtime_error("cannot connect to the master: " + describe(m.error()));
  return *m;
}

// Spawns every agent at once; seconds until the last one's tasks are admitted.
double registration_storm(caf::actor_system& sys, caf::actor master, const options& o,
                          actors_guard& g) {
  auto sh = std::make_shared<shared>();
  auto t0 = now_ns();
  for (size_t k = 0; k < o.agents; ++k)
    g.all.push_back(sys.spawn(emu_agent, master, k, o, sh));
  wait_until([&] { return sh->registered.load() >= o.agents; },
             "the agents to register (" + std::to_string(sh->registered.load()) + " did)",
             step_timeout);
  return double(sh->last_registered.load() - t0) / 1e9;
}

} // namespace

int run(const options& o) {
  test::temp_dir dir;
  auto port = test::free_port();
  test::child master{{test::bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
                      dir.path + "/m", "--http-port", "-1"}};
  if (!master.wait_for("master_listening", 30s))
    throw std::runtime_error("the master did not start:\n" + master.output());
  node_config cfg{"bench-scale"};
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  auto m = connect_master(sys, port);
  auto rss0 = resident_bytes(master.pid());
  actors_guard g;
  auto register_s = registration_storm(sys, m, o, g);
  auto per_agent = (resident_bytes(master.pid()) - rss0) / double(o.agents);
  std::fprintf(stderr, "bench-scale: %zu agents registered in %.2f s\n", o.agents, register_s);
  test::child fw{{test::bin("bench-scale"), "--scheduler", "127.0.0.1:" + std::to_string(port),
                  "--per-batch", std::to_string(o.per_batch)}};
  if (!fw.wait_for("running ", step_timeout))
    throw std::runtime_error("the framework launched nothing:\n" + fw.output());
  auto start = latencies(fw.output()).size();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds)); // the run's length
  auto xs = latencies(fw.output());
  xs.erase(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(std::min(start, xs.size())));
  std::printf("{\"agents\":%zu,\"tasks_per_agent\":%zu,\"register_s\":%.2f,"
              "\"master_bytes_per_agent\":%.0f,\"launched\":%zu,\"launches_per_s\":%.1f,"
              "\"offer_to_running_p50_ms\":%.2f,\"offer_to_running_p99_ms\":%.2f}\n",
              o.agents, o.tasks_per_agent, register_s, per_agent, xs.size(),
              double(xs.size()) / o.seconds, percentile(xs, 0.5), percentile(xs, 0.99));
  std::fflush(stdout);
  return 0;
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--agents")
      o.agents = std::stoul(v);
    else if (a == "--tasks-per-agent")
      o.tasks_per_agent = std::stoul(v);
    else if (a == "--seconds")
      o.seconds = std::stod(v);
    else if (a == "--per-batch")
      o.per_batch = std::stoul(v);
    else if (a == "--task-seconds")
      o.task_seconds = std::stod(v);
    else if (a == "--scheduler")
      o.scheduler_url = v;
    else
      return false;
  }
  return argc % 2 == 1 && o.agents > 0 && o.seconds > 0 && o.per_batch > 0;
}

int main(int argc, char** argv) {
  options o;
  try {
    if (!parse(argc, argv, o)) {
      std::fprintf(stderr, "usage: bench-scale [--agents N] [--tasks-per-agent T] [--seconds S] "
                           "[--per-batch K] [--task-seconds D]\n");
      return 2;
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "bench-scale: option values are numbers\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  test::raise_fd_limit();
  log::set_level(log::level::error);
  log::set_component("bench");
  try {
    if (!o.scheduler_url.empty())
      return run_framework<scale_scheduler>(o.scheduler_url, "bench-scale", 0, o.per_batch);
    return run(o);
  } catch (const std::exception& e) { // the processes are stopped on the way out
    std::fprintf(stderr, "bench-scale: %s\n", e.what());
    return 1;
  }
}
