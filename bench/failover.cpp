// bench-failover: how long a failover of standby masters takes (issue 16).
//
//   build/bin/bench-failover [--agents 1000] [--tasks 10000] [--mode failover|restart]
//
// Starts a 3-member etcd and two caldera-master processes on it (lease TTL
// 2 s), registers `--agents` emulated agents (actors of this process, not
// real agents) that report `--tasks` running tasks between them, and an SDK
// scheduler that takes offers. Then kill -9 of the leader, and times from
// the kill:
// - detect_ms: the first emulated agent sees its master go;
// - elect_ms: etcd names the standby as leader (polled every 5 ms);
// - registry_load_ms: the standby's `elected` to `registry_loaded` (its log);
// - all_agents_back_ms: the last emulated agent re-registered, with its
//   tasks, at the new leader (told its address at elect_ms: as an agent
//   that finds it through etcd);
// - offers_again_ms: the scheduler (a process of its own: `--probe URL`),
//   which finds the new leader by itself,
//   has an offer again;
// - real_agent_back_ms: one real caldera-agent on etcd://, which finds the
//   new leader by itself (watching the leader key), re-registered (its log).
// Prints one JSON line:
//   {"agents":N,"tasks":M,"lease_ttl_s":2,"detect_ms":..,"elect_ms":..,
//    "registry_load_ms":..,"all_agents_back_ms":..,"offers_again_ms":..,
//    "real_agent_back_ms":..}
//
// With `--mode restart`: one master alone (no etcd), `kill -9` and started
// again on its work dir (issue 17's master restart); times from the new
// process's start: listening_ms (it accepts a connection; the agents are
// told then), all_agents_back_ms, offers_again_ms (the probe reconnects by
// itself, every second as the SDK does with HOST:PORT).
// Exits 1 with a message on stderr when a step does not complete in 60 s.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/coordinator.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/master_address.hpp"
#include "actors/node.hpp"
#include "actors/resources.hpp"
#include "actors/scheduler.hpp"
#include "actors/types.hpp"
#include "bench/emulated_agent.hpp"
#include "support/etcd_util.hpp"
#include "support/process_util.hpp"

using namespace caldera;
using namespace caldera::bench;
using namespace std::chrono_literals;

namespace {

using new_master_atom = caf::atom_constant<caf::atom("newmaster")>;
constexpr auto step_timeout = 60s;

// What the emulated agents and the offer probe tell the main thread.
struct shared {
  std::atomic<size_t> registered{0}; // with their tasks, at the first leader
  std::atomic<size_t> back{0};       // re-registered at the new leader
  std::atomic<int64_t> first_down{0};
  std::atomic<int64_t> last_back{0};
};

void set_once(std::atomic<int64_t>& x, int64_t v) {
  int64_t zero = 0;
  x.compare_exchange_strong(zero, v);
}

register_agent_msg registration(size_t k, const std::string& id, size_t ntasks) {
  static const auto agent_res = *resources::parse("cpus:8;mem:32768");
  return bench::registration(k, id, ntasks, agent_res);
}

struct emu_state {
  caf::actor master;
  std::string id;
  int phase = 0; // 0: first registration, 1: with tasks, 2: at the new leader
};

using emu_actor = caf::stateful_actor<emu_state>;

void send_registration(emu_actor* self, size_t k, size_t ntasks, std::shared_ptr<shared> sh) {
  auto& st = self->state;
  self->request(st.master, 30s, registration(k, st.id, ntasks))
    .then(
      [=](const agent_registered_msg& m) {
        auto& st = self->state;
        st.id = m.read()->getAgentId();
        if (st.phase == 0) {
          st.phase = 1;
          send_registration(self, k, ntasks, sh);
        } else if (st.phase == 1) {
          ++sh->registered;
        } else {
          auto t = now_ns();
          auto prev = sh->last_back.load();
          while (prev < t && !sh->last_back.compare_exchange_weak(prev, t)) {
          }
          ++sh->back;
        }
      },
      [=](caf::error&) { // refused for now or timed out: again
        self->delayed_send(self, 1s, retry_atom::value);
      });
}

// An agent that only registers, reports its tasks and answers pings.
caf::behavior emu_agent(emu_actor* self, caf::actor master, size_t k, size_t ntasks,
                        std::shared_ptr<shared> sh) {
  self->set_default_handler(caf::drop);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.master.address())
      set_once(sh->first_down, now_ns());
  });
  self->state.master = master;
  self->monitor(master);
  send_registration(self, k, ntasks, sh);
  return {
    [=](ping_atom) {
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), pong_atom::value);
    },
    [=](retry_atom) { send_registration(self, k, ntasks, sh); },
    [=](new_master_atom, const caf::actor& m) {
      self->state.master = m;
      self->state.phase = 2;
      self->monitor(m);
      send_registration(self, k, ntasks, sh);
    },
  };
}

// Declines every offer (for a while: the new leader's filters start empty)
// and prints when offers come (steady clock, comparable across processes),
// first from the new leader. It runs in a process of its own (`--probe`),
// as a framework does: in the bench's process its registration would queue
// on the one connection behind the 10,000 emulated agents'.
class offer_probe : public scheduler {
public:
  offer_probe(caf::actor_config& cfg, scheduler_options o) : scheduler(cfg, std::move(o)) {
  }

protected:
  void reregistered(const std::string&) override {
    failed_over_ = true;
  }
  void resource_offers(const std::vector<offer>& offers) override {
    auto t = static_cast<long long>(now_ns());
    if (!offered_)
      std::printf("first_offer %lld\n", t);
    if (failed_over_ && !offered_after_)
      std::printf("offer_after_failover %lld\n", t);
    std::fflush(stdout);
    offered_ = true;
    offered_after_ = offered_after_ || failed_over_;
    std::vector<std::string> ids;
    for (auto& o : offers)
      ids.push_back(o.id);
    decline(ids, 5);
  }

private:
  bool failed_over_ = false, offered_ = false, offered_after_ = false;
};

// The logged steady-clock time after `event` in the probe's output.
int64_t probe_time(test::child& probe, const std::string& event) {
  if (!probe.wait_for(event + " ", step_timeout))
    throw std::runtime_error("the offer probe saw no " + event + ":\n" + probe.output());
  auto out = probe.output();
  return std::stoll(out.substr(out.find(event + " ") + event.size() + 1));
}

std::unique_ptr<test::child> start_master(const std::string& dir, const std::string& url,
                                          uint16_t port) {
  return std::make_unique<test::child>(std::vector<std::string>{
    test::bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
    dir + "/m" + std::to_string(port), "--etcd", url, "--http-port", "-1", "--log-level",
    "info", "--agent-ping-timeout", "60s"});
}

// Milliseconds of the day of the first log line of `out` with ` EVENT `
// (lines begin 2026-11-28T01:53:58.566Z); -1 if none.
double logged_ms(const std::string& out, const std::string& event) {
  auto at = out.find(" " + event + " ");
  if (at == std::string::npos)
    return -1;
  auto line = out.rfind('\n', at);
  line = line == std::string::npos ? 0 : line + 1;
  auto t = out.find('T', line);
  if (t == std::string::npos || t + 13 > out.size())
    return -1;
  auto hh = std::stoi(out.substr(t + 1, 2));
  auto mm = std::stoi(out.substr(t + 4, 2));
  auto ss = std::stod(out.substr(t + 7, 6));
  return (hh * 3600 + mm * 60) * 1000.0 + ss * 1000.0;
}

// The tasks the agents reported in their registrations logged after `from`
// (agent_registered ... tasks=N).
size_t tasks_reported(const std::string& out, const std::string& from) {
  size_t n = 0;
  const std::string field = " tasks=";
  for (auto at = out.find(" agent_registered ", out.find(from)); at != std::string::npos;
       at = out.find(" agent_registered ", at + 1)) {
    auto f = out.find(field, at);
    auto eol = out.find('\n', at);
    if (f != std::string::npos && f < eol)
      n += std::stoul(out.substr(f + field.size()));
  }
  return n;
}

void register_agents(caf::actor_system& sys, caf::actor master, size_t n, size_t m,
                     std::shared_ptr<shared> sh, actors_guard& g) {
  const size_t batch = 500;
  for (size_t i = 0; i < n; i += batch) {
    auto end = std::min(n, i + batch);
    for (size_t k = i; k < end; ++k)
      g.all.push_back(sys.spawn(emu_agent, master, k, m / n + (k < m % n ? 1 : 0), sh));
    wait_until([&] { return sh->registered.load() >= end; },
               "agents " + std::to_string(i) + ".." + std::to_string(end) + " to register",
               step_timeout);
    std::fprintf(stderr, "bench-failover: %zu/%zu agents registered\n", end, n);
  }
}

caf::actor connect_new_leader(caf::actor_system& sys, uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + step_timeout;
  for (;;) {
    if (auto m = connect_master_blocking(sys, master_address{endpoint{"127.0.0.1", port}}))
      return *m;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the new leader did not accept a connection in 60 s");
    std::this_thread::sleep_for(10ms);
  }
}

} // namespace

int run(size_t n, size_t m) {
  test::temp_dir dir;
  test::etcd_cluster etcd{dir.path, 3};
  if (!etcd.ready())
    throw std::runtime_error("etcd did not start: " + etcd.output(0));
  auto url = etcd.url();
  auto p1 = test::free_port();
  auto m1 = start_master(dir.path, url, p1);
  // Listening, not only elected: the bench connects to it next.
  if (!m1->wait_for("master_listening", 30s))
    throw std::runtime_error("the first master was not elected:\n" + m1->output());
  auto p2 = test::free_port();
  auto m2 = start_master(dir.path, url, p2);
  if (!m2->wait_for("standby leader=", 30s))
    throw std::runtime_error("the second master did not stand by:\n" + m2->output());
  std::fprintf(stderr, "bench-failover: leader pid %d, standby pid %d\n", int(m1->pid()),
               int(m2->pid()));

  node_config cfg{"bench"};
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  auto addr = *parse_master_address(url);
  auto leader = connect_master_blocking(sys, addr);
  if (!leader)
    throw std::runtime_error("cannot connect to the leader: " + describe(leader.error()));
  auto sh = std::make_shared<shared>();
  actors_guard g;
  register_agents(sys, *leader, n, m, sh, g);
  test::child probe{{test::bin("bench-failover"), "--probe", url}};
  probe_time(probe, "first_offer");
  test::child agent{{test::bin("caldera-agent"), "--master", url, "--port",
                     std::to_string(test::free_port()), "--work-dir", dir.path + "/agent",
                     "--resources", "cpus:1;mem:256"}};
  if (!agent.wait_for("agent_registered", 30s))
    throw std::runtime_error("the real agent did not register:\n" + agent.output());

  auto coord = make_etcd_coordinator(*parse_coordinator_url(url));
  auto t0 = now_ns();
  auto ms = [t0](int64_t t) { return double(t - t0) / 1e6; };
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  double killed_at = double(std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()
                            % 86'400'000); // as logged_ms counts
  m1->signal(SIGKILL);
  auto want = "127.0.0.1:" + std::to_string(p2);
  wait_until(
    [&] {
      auto l = coord->leader();
      return l && *l && (*l)->address == want;
    },
    "etcd to name the standby leader", step_timeout);
  auto elect = ms(now_ns());
  auto m2a = connect_new_leader(sys, p2);
  for (size_t k = 0; k < n; ++k)
    caf::anon_send(g.all[k], new_master_atom::value, m2a);
  wait_until([&] { return sh->back.load() >= n; }, "all agents to re-register", step_timeout);
  std::fprintf(stderr, "bench-failover: %zu agents back\n", n);
  auto offer_after = probe_time(probe, "offer_after_failover");
  if (!agent.wait_for("agent_reregistered", 30s))
    throw std::runtime_error("the real agent did not re-register:\n" + agent.output());
  auto real_back = logged_ms(agent.output(), "agent_reregistered") - killed_at;
  if (!m2->wait_for("registry_loaded", 10s))
    throw std::runtime_error("no registry_loaded in the new leader's log");
  auto out = m2->output();
  if (const char* keep = std::getenv("BENCH_FAILOVER_LOG")) // the new leader's log, to study
    std::ofstream{keep} << out;
  auto load = logged_ms(out, "registry_loaded") - logged_ms(out, "elected");
  std::fprintf(stderr, "bench-failover: the agents reported %zu tasks to the new leader\n",
               tasks_reported(out, " elected "));
  std::printf("{\"agents\":%zu,\"tasks\":%zu,\"lease_ttl_s\":2,\"detect_ms\":%.1f,"
              "\"elect_ms\":%.1f,\"registry_load_ms\":%.1f,\"all_agents_back_ms\":%.1f,"
              "\"offers_again_ms\":%.1f,\"real_agent_back_ms\":%.1f}\n",
              n, m, ms(sh->first_down.load()), elect, load, ms(sh->last_back.load()),
              ms(offer_after), real_back);
  std::fflush(stdout);
  return 0;
}

// --mode restart (above).
int run_restart(size_t n, size_t m) {
  test::temp_dir dir;
  auto port = test::free_port();
  auto start = [&] {
    return std::make_unique<test::child>(std::vector<std::string>{
      test::bin("caldera-master"), "--port", std::to_string(port), "--work-dir", dir.path + "/m",
      "--http-port", "-1", "--log-level", "info", "--agent-ping-timeout", "60s"});
  };
  auto m1 = start();
  if (!m1->wait_for("master_listening", 30s))
    throw std::runtime_error("the master did not start:\n" + m1->output());
  node_config cfg{"bench"};
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  auto sh = std::make_shared<shared>();
  actors_guard g;
  auto first = connect_new_leader(sys, port);
  register_agents(sys, first, n, m, sh, g);
  auto url = "127.0.0.1:" + std::to_string(port);
  test::child probe{{test::bin("bench-failover"), "--probe", url}};
  probe_time(probe, "first_offer");
  m1->signal(SIGKILL);
  wait_until([&] { return sh->first_down.load() != 0; }, "the agents to see the master go",
             step_timeout);
  auto t0 = now_ns();
  auto ms = [t0](int64_t t) { return double(t - t0) / 1e6; };
  auto m2 = start();
  // The same port: a connection to the old process may still be cached.
  auto again = connect_new_leader(sys, port);
  while (again.node() == first.node()) {
    std::this_thread::sleep_for(10ms);
    again = connect_new_leader(sys, port);
  }
  auto listening = ms(now_ns());
  for (size_t k = 0; k < n; ++k)
    caf::anon_send(g.all[k], new_master_atom::value, again);
  try {
    wait_until([&] { return sh->back.load() >= n; }, "all agents to re-register", step_timeout);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string{e.what()} + " (" + std::to_string(sh->back.load())
                             + " did); the master's log:\n" + m2->output().substr(0, 4000));
  }
  auto offer_after = probe_time(probe, "offer_after_failover");
  std::printf("{\"mode\":\"restart\",\"agents\":%zu,\"tasks\":%zu,\"listening_ms\":%.1f,"
              "\"all_agents_back_ms\":%.1f,\"offers_again_ms\":%.1f}\n",
              n, m, listening, ms(sh->last_back.load()), ms(offer_after));
  std::fflush(stdout);
  return 0;
}

int main(int argc, char** argv) {
  size_t n = 1000, m = 10000;
  std::string probe, mode = "failover";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--probe")
      probe = argv[i + 1];
    else if (a == "--agents")
      n = std::stoul(argv[i + 1]);
    else if (a == "--tasks")
      m = std::stoul(argv[i + 1]);
    else if (a == "--mode" && (std::string{argv[i + 1]} == "failover"
                               || std::string{argv[i + 1]} == "restart"))
      mode = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: bench-failover [--agents N] [--tasks M] [--mode failover|restart]\n");
      return 2;
    }
  }
  if (n == 0) {
    std::fprintf(stderr, "bench-failover: --agents must be at least 1\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  test::raise_fd_limit();
  log::set_level(log::level::error);
  log::set_component("bench");
  try {
    if (!probe.empty())
      return run_framework<offer_probe>(probe, "bench-offers", 3600);
    return mode == "restart" ? run_restart(n, m) : run(n, m);
  } catch (const std::exception& e) { // the processes are stopped on the way out
    std::fprintf(stderr, "bench-failover: %s\n", e.what());
    return 1;
  }
}
