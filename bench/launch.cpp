// bench-launch: how fast caldera launches trivial tasks.
//
//   build/bin/bench-launch --tasks 1000 [--mode in-process|processes|both] [--agents 2]
//                          [--in-flight K]   (at most K tasks launched and unfinished;
//                                             0, the default: as many as offers hold)
//                          [--isolation NAMES] (the agents' --isolation; default theirs)
//                          [--tls]  (processes also with mutual TLS on every link,
//                                    certificates from scripts/make-certs)
//                          [--api sdk|v1|both] (processes: the framework on the C++
//                                    SDK, on Mesos' v1 Scheduler HTTP API
//                                    (bench/v1_launch.py, Python), or both on
//                                    the same cluster, one after the other)
//
// in-process: master, registrar, agents and executors are actors of this
//   process (executors report RUNNING then FINISHED at once).
// processes: caldera-master and caldera-agent run as processes on loopback,
//   every task is `true` run by its own caldera-executor process; this
//   process is the framework.
//
// Prints one JSON line per mode:
//   {"mode":..., "tasks":N, "tasks_per_s":X, "p50_ms":Y, "p99_ms":Z}
// tasks_per_s: tasks finished per second from the framework's registration
// to the last TASK_FINISHED; latency: from the accept to TASK_RUNNING.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/scheduler.hpp"
#include "agent/agent.hpp"
#include "master/master.hpp"
#include "master/registrar.hpp"
#include "support/instant_executor.hpp"
#include "support/process_util.hpp"

using namespace caldera;
using clock_type = std::chrono::steady_clock;

namespace {

struct result {
  std::vector<double> latencies_ms;
  clock_type::time_point start;
  clock_type::time_point end;
  size_t finished = 0;
  size_t failed = 0;
};

class launch_scheduler : public scheduler {
public:
  launch_scheduler(caf::actor_config& cfg, scheduler_options opts, size_t total,
                   size_t in_flight, std::string command, std::shared_ptr<result> out)
    : scheduler(cfg, std::move(opts)), total_(total), in_flight_(in_flight),
      command_(std::move(command)), out_(std::move(out)) {
  }

protected:
  void registered(const std::string&, const std::string&) override {
    out_->start = clock_type::now();
  }

  void resource_offers(const std::vector<offer>& offers) override {
    for (auto& o : offers) {
      std::vector<task_spec> tasks;
      auto left = o.res;
      while (launched_ < total_ && left.contains(task_res_)
             && (in_flight_ == 0
                 || launched_ - out_->finished - out_->failed < in_flight_)) {
        task_spec t;
        t.task_id = "t" + std::to_string(launched_++);
        t.res = task_res_;
        t.command = command_;
        left -= task_res_;
        accepted_[t.task_id] = clock_type::now();
        tasks.push_back(std::move(t));
      }
      // With a cap on tasks in flight, leftovers come back at once.
      double refuse = in_flight_ == 0 ? 1 : 0;
      if (tasks.empty())
        decline({o.id}, refuse);
      else
        accept({o.id}, tasks, refuse);
    }
  }

  void status_update(const status_info& st) override {
    if (st.state == schema::TaskState::RUNNING) {
      auto i = accepted_.find(st.task_id);
      if (i != accepted_.end()) {
        out_->latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(clock_type::now() - i->second).count());
        accepted_.erase(i);
      }
    } else if (is_terminal(st.state)) {
      if (st.state == schema::TaskState::FINISHED) {
        ++out_->finished;
      } else {
        if (out_->failed++ == 0)
          std::fprintf(stderr, "bench-launch: first failure: %s %s %s\n", state_name(st.state),
                       st.reason.c_str(), st.message.c_str());
      }
      if (in_flight_ > 0)
        revive(); // ask for the freed resources now, not at the next cycle
      if (out_->finished + out_->failed == total_) {
        out_->end = clock_type::now();
        acknowledge(st);
        stop();
      }
    }
  }

private:
  size_t total_;
  size_t in_flight_;
  size_t launched_ = 0;
  std::string command_;
  resources task_res_ = *resources::parse("cpus:0.1;mem:16");
  std::map<std::string, clock_type::time_point> accepted_;
  std::shared_ptr<result> out_;
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(idx, xs.size() - 1)];
}

size_t in_flight_opt = 0;

void print(const char* mode, size_t n, const result& r) {
  double secs = std::chrono::duration<double>(r.end - r.start).count();
  std::printf("{\"mode\":\"%s\",\"tasks\":%zu,\"tasks_per_s\":%.1f,\"p50_ms\":%.3f,"
              "\"p99_ms\":%.3f,\"failed\":%zu,\"in_flight\":%zu}\n",
              mode, n, secs > 0 ? static_cast<double>(r.finished) / secs : 0.0,
              percentile(r.latencies_ms, 0.5), percentile(r.latencies_ms, 0.99), r.failed, in_flight_opt);
  std::fflush(stdout);
}

int run_in_process(size_t n, size_t n_agents, size_t in_flight) {
  node_config cfg{"bench"};
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  test::temp_dir dir;
  auto store = registry_store::open(dir.path + "/master");
  if (!store)
    return 1;
  auto registrar = spawn_registrar(sys, std::move(*store));
  auto master = spawn_master(sys, registrar, master_options{});
  std::shared_ptr<containerizer> cont = make_in_process_containerizer(
    sys, [](caf::actor_system& s, executor_options o) {
      return s.spawn<test::instant_executor>(std::move(o));
    });
  std::vector<caf::actor> agents;
  for (size_t i = 0; i < n_agents; ++i) {
    agent_options ao;
    ao.master = master;
    ao.res = *resources::parse("cpus:16;mem:16384");
    ao.work_dir = dir.path + "/agent" + std::to_string(i);
    ao.containers = cont;
    agents.push_back(spawn_agent(sys, ao));
    caf::send_as(agents.back(), agents.back(), start_atom::value, std::string{});
  }
  auto out = std::make_shared<result>();
  scheduler_options so;
  so.name = "bench-launch";
  so.master = master;
  auto s = sys.spawn<launch_scheduler>(so, n, in_flight, std::string{"true"}, out);
  {
    caf::scoped_actor self{sys};
    self->wait_for(s);
  }
  print("in-process", n, *out);
  for (auto& a : agents)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
  return 0;
}

std::vector<std::string> tls_args(const std::string& pki, const std::string& who) {
  if (pki.empty())
    return {};
  return {"--openssl.certificate", pki + "/" + who + ".pem", "--openssl.key",
          pki + "/" + who + "-key.pem", "--openssl.cafile", pki + "/ca.pem"};
}

// The v1 HTTP API's run on the same cluster: bench/v1_launch.py prints its line.
int run_v1(size_t n, size_t in_flight, const std::string& http) {
  test::child py{{"/usr/bin/python3", test::source("bench/v1_launch.py"), "--master", http,
                  "--tasks", std::to_string(n), "--in-flight", std::to_string(in_flight)}};
  int rc = py.wait_exit(std::chrono::minutes(30));
  auto out = py.output();
  std::fputs(out.c_str(), rc == 0 ? stdout : stderr);
  std::fflush(stdout);
  return rc == 0 ? 0 : 1;
}

int run_processes(size_t n, size_t n_agents, size_t in_flight, const std::string& isolation,
                  bool tls, const std::string& api) {
  test::temp_dir dir;
  std::string pki;
  if (tls) {
    pki = dir.path + "/pki";
    if (auto err = test::make_certs(pki); !err.empty()) {
      std::fprintf(stderr, "make-certs failed:\n%s\n", err.c_str());
      return 1;
    }
  }
  auto mport = test::free_port();
  std::string ep = "127.0.0.1:" + std::to_string(mport);
  std::vector<std::string> margv{test::bin("caldera-master"), "--port", std::to_string(mport),
                                 "--work-dir", dir.path + "/master", "--log-level", "info",
                                 "--http-port", "0"};
  for (auto& a : tls_args(pki, "master"))
    margv.push_back(a);
  test::child master{margv};
  auto http = test::logged_endpoint(master, "http_listening");
  std::vector<std::unique_ptr<test::child>> agents;
  for (size_t i = 0; i < n_agents; ++i) {
    std::vector<std::string> argv{test::bin("caldera-agent"), "--master", ep, "--port",
                                  std::to_string(test::free_port()), "--work-dir",
                                  dir.path + "/agent" + std::to_string(i), "--resources",
                                  "cpus:16;mem:16384", "--log-level", "info"};
    if (!isolation.empty()) {
      argv.push_back("--isolation");
      argv.push_back(isolation);
    }
    for (auto& a : tls_args(pki, "agent"))
      argv.push_back(a);
    if (tls)
      argv.insert(argv.end(), {"--executor-certificate", pki + "/executor.pem",
                               "--executor-key", pki + "/executor-key.pem"});
    agents.push_back(std::make_unique<test::child>(argv));
  }
  for (auto& a : agents)
    if (!a->wait_for("agent_registered", std::chrono::seconds(30))) {
      std::fprintf(stderr, "agent did not register:\n%s\n", a->output().c_str());
      return 1;
    }
  node_config cfg{"bench"};
  apply_runtime_defaults(cfg);
  if (tls) {
    cfg.openssl_certificate = pki + "/client.pem";
    cfg.openssl_key = pki + "/client-key.pem";
    cfg.openssl_cafile = pki + "/ca.pem";
  }
  caf::actor_system sys{cfg};
  auto out = std::make_shared<result>();
  if (api != "v1") {
    scheduler_options so;
    so.name = "bench-launch";
    so.master_endpoint = *parse_endpoint(ep);
    auto s = sys.spawn<launch_scheduler>(so, n, in_flight, std::string{"true"}, out);
    {
      caf::scoped_actor self{sys};
      self->wait_for(s);
    }
    print(tls ? "processes-tls" : "processes", n, *out);
  }
  int rc = 0;
  if (api != "sdk" && !tls)
    rc = run_v1(n, in_flight, http);
  if (out->failed > 0)
    for (auto& a : agents) {
      auto text = a->output();
      auto from = text.size() > 3000 ? text.size() - 3000 : 0;
      std::fprintf(stderr, "--- agent output (tail)\n%s\n", text.substr(from).c_str());
    }
  for (auto& a : agents) {
    a->signal(SIGTERM);
    a->wait_exit(std::chrono::seconds(20));
  }
  master.signal(SIGTERM);
  master.wait_exit(std::chrono::seconds(20));
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  size_t tasks = 1000;
  size_t agents = 2;
  std::string mode = "both";
  std::string isolation; // the agent's default
  bool tls = false;
  std::string api = "sdk";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench-launch: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tasks")
      tasks = std::stoul(next());
    else if (a == "--agents")
      agents = std::stoul(next());
    else if (a == "--mode")
      mode = next();
    else if (a == "--in-flight")
      in_flight_opt = std::stoul(next());
    else if (a == "--isolation")
      isolation = next();
    else if (a == "--tls")
      tls = true;
    else if (a == "--api")
      api = next();
    else {
      std::fprintf(stderr,
                   "usage: bench-launch [--tasks N] [--agents N] "
                   "[--mode in-process|processes|both] [--in-flight K] "
                   "[--isolation NAMES] [--tls] [--api sdk|v1|both]\n");
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  log::set_level(log::level::error);
  int rc = 0;
  if (mode == "in-process" || mode == "both")
    rc |= run_in_process(tasks, agents, in_flight_opt);
  if (mode == "processes" || mode == "both") {
    rc |= run_processes(tasks, agents, in_flight_opt, isolation, false, api);
    if (tls) // the same run: TLS on vs off
      rc |= run_processes(tasks, agents, in_flight_opt, isolation, true, api);
  }
  return rc;
}
