// bench-http: what slow and idle HTTP clients cost a master's API (issue 15).
//
//   build/bin/bench-http [--idle 500] [--stalled 8] [--requests 2000]
//
// Starts caldera-master as a process with its HTTP API and times
// `--requests` sequential GET /health on one keep-alive connection (p50,
// p99), first alone, then while `--idle` connections that never send a byte
// and `--stalled` connections that sent half a request head are held open
// (the slowloris attack of issue 15). Also the master's RSS with and
// without them. Prints one JSON line per run and the ratios held / alone.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <httplib.h>

#include "support/process_util.hpp"

using namespace caldera;
using namespace std::chrono_literals;

namespace {

struct figures {
  double p50_us = 0;
  double p99_us = 0;
  long rss_kib = 0;
  size_t failed = 0;
};

long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

figures time_requests(uint16_t port, size_t n, pid_t master) {
  httplib::Client cli{"127.0.0.1", port};
  cli.set_keep_alive(true);
  cli.set_read_timeout(10, 0);
  std::vector<double> us;
  figures f;
  for (size_t i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = cli.Get("/health");
    auto t1 = std::chrono::steady_clock::now();
    if (!r || r->status != 200) {
      ++f.failed;
      continue;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    f.p50_us = us[us.size() / 2];
    f.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  }
  f.rss_kib = rss_kib(master);
  return f;
}

std::vector<int> hold(uint16_t port, size_t n, const std::string& first_bytes) {
  std::vector<int> fds;
  for (size_t i = 0; i < n; ++i) {
    int fd = test::connect_loopback(port);
    if (fd < 0)
      break;
    if (!first_bytes.empty())
      ::send(fd, first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  return fds;
}

void print(const char* run, size_t idle, size_t stalled, const figures& f) {
  std::printf("{\"run\":\"%s\",\"idle\":%zu,\"stalled\":%zu,\"health_p50_us\":%.1f,"
              "\"health_p99_us\":%.1f,\"failed\":%zu,\"master_rss_kib\":%ld}\n",
              run, idle, stalled, f.p50_us, f.p99_us, f.failed, f.rss_kib);
}

} // namespace

int run(int argc, char** argv) {
  size_t idle = 500, stalled = 8, n = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--idle")
      idle = std::stoul(argv[i + 1]);
    else if (a == "--stalled")
      stalled = std::stoul(argv[i + 1]);
    else if (a == "--requests")
      n = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench-http [--idle N] [--stalled N] [--requests N]\n");
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  test::raise_fd_limit();
  test::temp_dir dir;
  // Deadlines longer than the run: the held connections stay for all of it.
  test::child m{{test::bin("caldera-master"), "--port", std::to_string(test::free_port()),
                 "--work-dir", dir.path + "/m", "--http-port", "0", "--http-request-timeout",
                 "10min", "--http-idle-timeout", "10min"}};
  auto ep = test::logged_endpoint(m, "http_listening");
  auto port = static_cast<uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
  time_requests(port, 100, m.pid()); // warm up
  auto alone = time_requests(port, n, m.pid());
  print("alone", 0, 0, alone);
  auto a = hold(port, idle, "");
  auto b = hold(port, stalled, "GET /master/state HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n");
  auto held = time_requests(port, n, m.pid());
  print("held", a.size(), b.size(), held);
  std::printf("{\"held_over_alone_p50\":%.2f,\"held_over_alone_p99\":%.2f,"
              "\"rss_kib_per_held_connection\":%.1f}\n",
              held.p50_us / alone.p50_us, held.p99_us / alone.p99_us,
              double(held.rss_kib - alone.rss_kib) / double(std::max<size_t>(1, a.size() + b.size())));
  for (int fd : a)
    ::close(fd);
  for (int fd : b)
    ::close(fd);
  return held.failed == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) { // the master did not start: it is stopped on the way out
    std::fprintf(stderr, "bench-http: %s\n", e.what());
    return 1;
  }
}
