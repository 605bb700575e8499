// Slow and idle HTTP clients (issue 15): 500 idle connections and clients
// that send half a request head (and stall, as one sending a header line
// every few seconds does), on a plain and an HTTPS master, never keep the API
// from answering others; the server closes them at its deadlines, and at its
// connection limit a new client displaces the one that waited longest.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

struct sockets {
  std::vector<int> fds;
  ~sockets() {
    for (int fd : fds)
      ::close(fd);
  }
  void open(uint16_t port, size_t n, const std::string& first_bytes = "") {
    for (size_t i = 0; i < n; ++i) {
      int fd = connect_loopback(port);
      REQUIRE(fd >= 0);
      if (!first_bytes.empty())
        REQUIRE(::send(fd, first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL)
                == static_cast<ssize_t>(first_bytes.size()));
      fds.push_back(fd);
    }
  }
};

// Whether the server closes `fd` within `limit` (EOF or reset; no bytes
// other than a refusal it may write first).
bool closed_by_server(int fd, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0)
      continue;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      return true;
  }
  return false;
}

// How many of `fds` the server has closed, once it closed one (at most
// `limit`); a connection with bytes waiting to be read counts as open.
size_t wait_first_closed(const std::vector<int>& fds, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::vector<pollfd> ps;
    for (int fd : fds)
      ps.push_back({fd, POLLIN, 0});
    if (::poll(ps.data(), ps.size(), 100) <= 0)
      continue;
    size_t closed = 0;
    char c;
    for (auto& p : ps)
      if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0
          && ::recv(p.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
        ++closed;
    if (closed > 0)
      return closed;
  }
  return 0;
}

uint16_t port_of(const std::string& ep) {
  return static_cast<uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
}

template <class Client>
int status_of(Client& cli, const char* path) {
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(5, 0);
  auto r = cli.Get(path);
  return r ? r->status : -1;
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("500 idle and 8 stalled HTTP clients: the master's API still answers, and the "
          "server closes them at its deadlines") {
  raise_fd_limit();
  temp_dir dir;
  child m{{bin("caldera-master"), "--port", std::to_string(free_port()), "--work-dir",
           dir.path + "/m", "--http-port", "0", "--http-request-timeout", "2s",
           "--http-idle-timeout", "2s", "--log-level", "debug"}};
  auto ep = logged_endpoint(m, "http_listening");
  auto port = port_of(ep);
  sockets idle, stalled;
  idle.open(port, 500);
  // Half a head each: a client that sends one header line every 3 s looks
  // so between its lines.
  stalled.open(port, 8, "GET /master/state HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n");

  httplib::Client cli{"127.0.0.1", port};
  CHECK(status_of(cli, "/health") == 200);
  CHECK(status_of(cli, "/metrics") == 200);
  REQUIRE(m.wait_for("state_published", 30s));
  CHECK(status_of(cli, "/master/state") == 200);

  // Stalled heads are cut at the request deadline (2 s), idle connections
  // at the same one (a new connection's first request is due by then).
  for (int fd : stalled.fds)
    CHECK(closed_by_server(fd, 10s));
  for (int fd : idle.fds)
    CHECK(closed_by_server(fd, 10s));
  auto metrics = cli.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("caldera_http_connections_total{type=\"timed_out\"} 8")
        != std::string::npos);
  CHECK(metrics->body.find("caldera_http_connections_total{type=\"idle\"} 500")
        != std::string::npos);
}

TEST_CASE("at http-max-connections a new HTTP client displaces the one that waited longest") {
  raise_fd_limit();
  temp_dir dir;
  child m{{bin("caldera-master"), "--port", std::to_string(free_port()), "--work-dir",
           dir.path + "/m", "--http-port", "0", "--http-max-connections", "20",
           "--http-request-timeout", "60s"}};
  auto port = port_of(logged_endpoint(m, "http_listening"));
  sockets held;
  held.open(port, 20, "GET /health HTTP/1.1\r\n");
  httplib::Client cli{"127.0.0.1", port};
  CHECK(status_of(cli, "/health") == 200);
  // One held connection went (the one whose request began first: the
  // server reads their heads in its own order); the others stay.
  CHECK(wait_first_closed(held.fds, 10s) == 1);
  CHECK(status_of(cli, "/health") == 200);
}

TEST_CASE("an HTTPS master: clients that never finish their TLS handshake cost it nothing") {
  raise_fd_limit();
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755);
  auto pki = dir.path + "/pki";
  auto certs = make_certs(pki);
  REQUIRE_MESSAGE(certs.empty(), certs);
  child m{{bin("caldera-master"), "--port", std::to_string(free_port()), "--work-dir",
           dir.path + "/m", "--http-port", "0", "--http-request-timeout", "2s",
           "--openssl.certificate", pki + "/master.pem", "--openssl.key",
           pki + "/master-key.pem", "--openssl.cafile", pki + "/ca.pem"}};
  auto port = port_of(logged_endpoint(m, "http_listening"));
  sockets silent, half;
  silent.open(port, 200);
  // The first bytes of a TLS record header, then nothing.
  half.open(port, 8, std::string{"\x16\x03\x01\x02\x00\x01", 6});
  httplib::SSLClient cli{"127.0.0.1", port};
  cli.set_ca_cert_path((pki + "/ca.pem").c_str());
  cli.enable_server_certificate_verification(true);
  CHECK(status_of(cli, "/health") == 200);
  for (int fd : half.fds)
    CHECK(closed_by_server(fd, 10s));
  for (int fd : silent.fds)
    CHECK(closed_by_server(fd, 10s));
  CHECK(status_of(cli, "/health") == 200);
}

} // TEST_SUITE
