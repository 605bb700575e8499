// bench-links: what TLS on actor links costs (issue 15).
//
//   build/bin/bench-links [--links 100] [--seconds 10] [--round-trips 2000]
//
// For plain links, then mutual TLS (certificates from scripts/make-certs in
// a temporary directory), starts caldera-master as a process and:
// - opens `--links` idle links to it (one actor system each: one link per
//   node) and measures the master's CPU time over `--seconds` (CAF issue 1060
//   made 0.17's TLS links spin while idle);
// - times `--round-trips` sequential GetRoles -> Roles round trips from one
//   client (p50, p99), a small request the master answers at once;
// - sends 500,000 small messages back to back on one link and prints how many
//   per second the master took in (pipelined).
// Prints one JSON line per kind:
//   {"links":"plain","idle_links":100,"master_cpu_pct":X,"rtt_p50_us":Y,"rtt_p99_us":Z,
//    "pipelined_msgs_per_s":W}
// and the TLS / plain ratios of the round trip.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/types.hpp"
#include "support/process_util.hpp"

using namespace caldera;
using namespace std::chrono_literals;

namespace {

struct figures {
  double cpu_pct = 0;
  double p50_us = 0;
  double p99_us = 0;
  double pipelined_per_s = 0;
};

// utime + stime of `pid` in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::vector<std::string> fields;
  std::string f;
  for (size_t i = close + 2; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      fields.push_back(f);
      f.clear();
    } else {
      f += text[i];
    }
  }
  // fields[0] is field 3 (state): utime is field 14, stime 15.
  return fields.size() > 12 ? std::stol(fields[11]) + std::stol(fields[12]) : 0;
}

void use_tls(node_config& cfg, const std::string& pki) {
  if (pki.empty())
    return;
  cfg.openssl_certificate = pki + "/client.pem";
  cfg.openssl_key = pki + "/client-key.pem";
  cfg.openssl_cafile = pki + "/ca.pem";
}

double idle_cpu(pid_t master, const endpoint& ep, const std::string& pki, size_t links,
                int seconds) {
  std::vector<std::unique_ptr<node_config>> cfgs;
  std::vector<std::unique_ptr<caf::actor_system>> systems;
  std::vector<caf::actor> peers;
  for (size_t i = 0; i < links; ++i) {
    cfgs.push_back(std::make_unique<node_config>("bench-link"));
    use_tls(*cfgs.back(), pki);
    apply_runtime_defaults(*cfgs.back());
    cfgs.back()->set("scheduler.max-threads", size_t{1});
    systems.push_back(std::make_unique<caf::actor_system>(*cfgs.back()));
    auto p = connect_blocking(*systems.back(), ep);
    if (!p) {
      std::fprintf(stderr, "bench-links: link %zu: %s\n", i, describe(p.error()).c_str());
      return -1;
    }
    peers.push_back(*p);
  }
  std::this_thread::sleep_for(1s); // handshakes and first pings settle
  auto before = cpu_ticks(master);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  auto used = cpu_ticks(master) - before;
  peers.clear();
  systems.clear();
  return 100.0 * static_cast<double>(used) / static_cast<double>(::sysconf(_SC_CLK_TCK))
         / seconds;
}

void round_trips(const endpoint& ep, const std::string& pki, size_t n, figures& out) {
  node_config cfg{"bench-rtt"};
  use_tls(cfg, pki);
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  auto master = connect_blocking(sys, ep);
  if (!master)
    return;
  caf::scoped_actor self{sys};
  std::vector<double> us;
  for (size_t i = 0; i < n + 100; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    self->request(*master, 10s, get_roles_msg{}).receive([](const roles_msg&) {},
                                                          [](caf::error&) {});
    auto t = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0);
    if (i >= 100) // the first ones warm the link up
      us.push_back(t.count());
  }
  std::sort(us.begin(), us.end());
  out.p50_us = us[us.size() / 2];
  out.p99_us = us[us.size() * 99 / 100];
}

// Messages per second the master takes in from one link when they come back
// to back: `n` pongs (an agent's answer to a ping; from an unknown sender the
// master only looks it up) sent without waiting, then one GetRoles whose answer
// comes after the master has handled them all (one link, one mailbox: in order).
double pipelined(const endpoint& ep, const std::string& pki, size_t n) {
  node_config cfg{"bench-pipelined"};
  use_tls(cfg, pki);
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  auto master = connect_blocking(sys, ep);
  if (!master)
    return 0;
  caf::scoped_actor self{sys};
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    self->send(*master, pong_atom::value);
  bool answered = false;
  self->request(*master, 60s, get_roles_msg{}).receive([&](const roles_msg&) { answered = true; },
                                                       [](caf::error&) {});
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return answered ? double(n) / s : 0;
}

figures measure(const std::string& pki, size_t links, int seconds, size_t n) {
  test::temp_dir dir;
  auto port = test::free_port();
  std::vector<std::string> argv{test::bin("caldera-master"), "--port", std::to_string(port),
                                "--work-dir", dir.path + "/m", "--log-level", "warn"};
  if (!pki.empty())
    argv.insert(argv.end(), {"--openssl.certificate", pki + "/master.pem", "--openssl.key",
                             pki + "/master-key.pem", "--openssl.cafile", pki + "/ca.pem"});
  test::child master{argv};
  figures f;
  endpoint ep{"127.0.0.1", port};
  for (int i = 0; i < 100; ++i) { // wait until it listens
    node_config probe{"bench-probe"};
    use_tls(probe, pki);
    caf::actor_system sys{probe};
    if (connect_blocking(sys, ep))
      break;
    std::this_thread::sleep_for(100ms);
  }
  round_trips(ep, pki, n, f);
  f.pipelined_per_s = pipelined(ep, pki, 500'000);
  f.cpu_pct = idle_cpu(master.pid(), ep, pki, links, seconds);
  master.signal(SIGTERM);
  master.wait_exit(20s);
  return f;
}

void print(const char* kind, size_t links, const figures& f) {
  std::printf("{\"links\":\"%s\",\"idle_links\":%zu,\"master_cpu_pct\":%.2f,"
              "\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,\"pipelined_msgs_per_s\":%.0f}\n",
              kind, links, f.cpu_pct, f.p50_us, f.p99_us, f.pipelined_per_s);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  size_t links = 100;
  int seconds = 10;
  size_t n = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--links")
      links = std::stoul(argv[i + 1]);
    else if (a == "--seconds")
      seconds = std::stoi(argv[i + 1]);
    else if (a == "--round-trips")
      n = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench-links [--links N] [--seconds S] [--round-trips N]\n");
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  log::set_level(log::level::error);
  test::temp_dir dir;
  auto pki = dir.path + "/pki";
  if (auto err = test::make_certs(pki); !err.empty()) {
    std::fprintf(stderr, "bench-links: make-certs failed:\n%s\n", err.c_str());
    return 1;
  }
  auto plain = measure("", links, seconds, n);
  print("plain", links, plain);
  auto tls = measure(pki, links, seconds, n);
  print("tls", links, tls);
  std::printf("{\"tls_over_plain_rtt_p50\":%.2f,\"tls_over_plain_rtt_p99\":%.2f}\n",
              tls.p50_us / plain.p50_us, tls.p99_us / plain.p99_us);
  return 0;
}
