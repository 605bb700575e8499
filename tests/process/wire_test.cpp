// The actor ports against hostile peers (actors/wire_guard.hpp): the 32-byte
// header that made a master allocate 4 GiB, a connection that never speaks,
// and bad limits in the configuration.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <csignal>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

// Reads (and drops) until the peer closes; false if `timeout` passes first.
bool closed_by_peer(int fd, std::chrono::milliseconds timeout) {
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      return true;
  }
  return false;
}

// Resident memory of a process in MiB.
long rss_mib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  long kib = -1;
  while (in >> key)
    if (key == "VmRSS:") {
      in >> kib;
      break;
    }
  return kib / 1024;
}

// A BASP client handshake header (CAF 0.17: operation 1, flags, payload
// length, operation data, source and destination actor; network order)
// claiming a payload of 4 GiB - 1.
std::string huge_handshake_header() {
  std::string h(32, '\0');
  h[0] = 0x01;
  h[4] = h[5] = h[6] = h[7] = static_cast<char>(0xff);
  return h;
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("a 32-byte header claiming 4 GiB closes its connection; the master stays small and "
          "answers") {
  temp_dir dir;
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child master{{bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
                dir.path + "/m", "--handshake-timeout", "2s"}};
  REQUIRE_MESSAGE(master.wait_for("master_listening"), master.output());

  int fd = connect_loopback(port);
  REQUIRE(fd >= 0);
  auto h = huge_handshake_header();
  REQUIRE(::write(fd, h.data(), h.size()) == static_cast<ssize_t>(h.size()));
  CHECK(closed_by_peer(fd, 10s));
  ::close(fd);
  CHECK_MESSAGE(master.wait_for("peer_message_too_large"), master.output());
  CHECK(rss_mib(master.pid()) < 512);

  // A connection that never sends its handshake is closed after the timeout.
  int idle = connect_loopback(port);
  REQUIRE(idle >= 0);
  CHECK(closed_by_peer(idle, 10s));
  ::close(idle);
  CHECK_MESSAGE(master.wait_for("peer_handshake_timeout"), master.output());

  // Honest clients are served as before.
  child st{{bin("caldera"), "state", "--master", ep}};
  CHECK_MESSAGE(st.wait_exit(30s) == 0, st.output());
  master.signal(SIGTERM);
  CHECK(master.wait_exit(20s) == 0);
}

TEST_CASE("wire limits out of range are refused with the option's name") {
  temp_dir dir;
  child small{{bin("caldera-master"), "--work-dir", dir.path + "/m", "--max-message-size", "1000"}};
  CHECK(small.wait_exit(30s) != 0);
  CHECK_MESSAGE(small.output().find("option 'max-message-size'") != std::string::npos,
                small.output());
  child never{{bin("caldera-agent"), "--work-dir", dir.path + "/a", "--handshake-timeout", "0s"}};
  CHECK(never.wait_exit(30s) != 0);
  CHECK_MESSAGE(never.output().find("option 'handshake-timeout'") != std::string::npos,
                never.output());
}

}
