// Mutual TLS on actor links (actors/tls.hpp), on real processes with the
// certificates of scripts/make-certs: a master, an agent, its executors and
// the command line run a task over TLS; a plain client, a client whose
// certificate another CA signed, and a TLS client that sends the 32-byte
// 4 GiB header are refused quickly; bad TLS files stop a daemon with the
// file and the reason.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <csignal>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

bool has(const std::string& out, const std::string& text) {
  return out.find(text) != std::string::npos;
}

void certs_into(const std::string& dir) {
  auto err = make_certs(dir);
  REQUIRE_MESSAGE(err.empty(), err);
}

std::vector<std::string> tls_args(const std::string& pki, const std::string& who) {
  return {"--openssl.certificate", pki + "/" + who + ".pem", "--openssl.key",
          pki + "/" + who + "-key.pem", "--openssl.cafile", pki + "/ca.pem"};
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A TLS connection with the client certificate of `pki` that sends the BASP
// header claiming 4 GiB - 1; true if the master closes it within 10 s.
bool huge_header_over_tls(uint16_t port, const std::string& pki) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_client_method()),
                                                      SSL_CTX_free};
  REQUIRE(SSL_CTX_use_certificate_file(ctx.get(), (pki + "/client.pem").c_str(),
                                       SSL_FILETYPE_PEM) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), (pki + "/client-key.pem").c_str(),
                                      SSL_FILETYPE_PEM) == 1);
  REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), (pki + "/ca.pem").c_str(), nullptr) == 1);
  int fd = connect_loopback(port);
  REQUIRE(fd >= 0);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx.get()), SSL_free};
  SSL_set_fd(ssl.get(), fd);
  REQUIRE(SSL_connect(ssl.get()) == 1);
  std::string h(32, '\0');
  h[0] = 0x01;
  h[4] = h[5] = h[6] = h[7] = static_cast<char>(0xff);
  REQUIRE(SSL_write(ssl.get(), h.data(), static_cast<int>(h.size())) == 32);
  bool closed = false;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 10000) > 0) {
    if (SSL_read(ssl.get(), buf, sizeof(buf)) <= 0) {
      closed = true;
      break;
    }
  }
  ::close(fd);
  return closed;
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("TLS links: a task runs over mutual TLS; a plain client, another CA's certificate "
          "and a 4 GiB header are refused at once") {
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755); // executors run as nobody and read their key in pki/
  auto pki = dir.path + "/pki";
  auto other = dir.path + "/other";
  certs_into(pki);
  certs_into(other);
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child m{cat({bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
               dir.path + "/m", "--http-port", "0"},
              tls_args(pki, "master"))};
  REQUIRE_MESSAGE(m.wait_for("master_listening"), m.output());
  child a{cat(cat({bin("caldera-agent"), "--master", ep, "--port", std::to_string(free_port()),
                   "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:256"},
                  tls_args(pki, "agent")),
              {"--executor-certificate", pki + "/executor.pem", "--executor-key",
               pki + "/executor-key.pem"})};
  REQUIRE_MESSAGE(a.wait_for("agent_registered"), a.output());

  child run{{bin("caldera"), "run", "--master", ep, "--config", pki + "/client.conf",
             "--resources", "cpus:0.1;mem:8", "--offer-timeout", "20", "--", "echo",
             "over-tls"}};
  CHECK_MESSAGE(run.wait_exit(60s) == 0, (run.output() + "\n" + m.output() + a.output()));
  CHECK_MESSAGE(has(run.output(), "TASK_FINISHED"), run.output());

  auto refused = [&](std::vector<std::string> extra) {
    auto argv = cat({bin("caldera"), "state", "--master", ep}, extra);
    auto before = std::chrono::steady_clock::now();
    child c{argv};
    auto rc = c.wait_exit(30s);
    auto took = std::chrono::steady_clock::now() - before;
    CHECK_MESSAGE(rc == 1, c.output());
    CHECK_MESSAGE(has(c.output(), "cannot reach the master"), c.output());
    CHECK(took < 15s); // refused by the handshake, not by a timeout
  };
  refused({});
  refused({"--config", other + "/client.conf"});
  CHECK_MESSAGE(m.wait_for("unknown ca"), m.output());

  CHECK(huge_header_over_tls(port, pki));
  CHECK_MESSAGE(m.wait_for("peer_message_too_large"), m.output());

  child st{{bin("caldera"), "state", "--master", ep, "--config", pki + "/client.conf"}};
  CHECK_MESSAGE(st.wait_exit(30s) == 0, st.output());
  a.signal(SIGTERM);
  CHECK(a.wait_exit(30s) == 0);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(30s) == 0);
}

TEST_CASE("bad TLS files stop a daemon with the file and the reason") {
  temp_dir dir;
  auto pki = dir.path + "/pki";
  auto other = dir.path + "/other";
  certs_into(pki);
  certs_into(other);
  auto refuses = [&](std::vector<std::string> tls, const std::string& why) {
    child c{cat({bin("caldera-master"), "--port", std::to_string(free_port()), "--work-dir",
                 dir.path + "/m"},
                tls)};
    CHECK(c.wait_exit(30s) == 2);
    CHECK_MESSAGE(has(c.output(), why), c.output());
  };
  refuses({"--openssl.certificate", pki + "/master.pem"}, "option 'openssl.key' is not set");
  refuses({"--openssl.certificate", pki + "/nope.pem", "--openssl.key", pki + "/master-key.pem",
           "--openssl.cafile", pki + "/ca.pem"},
          "nope.pem'): cannot read the file");
  refuses({"--openssl.certificate", pki + "/master.pem", "--openssl.key",
           pki + "/agent-key.pem", "--openssl.cafile", pki + "/ca.pem"},
          "agent-key.pem') does not belong to option 'openssl.certificate'");
  refuses({"--openssl.certificate", pki + "/master.pem", "--openssl.key",
           pki + "/master-key.pem", "--openssl.cafile", other + "/ca.pem"},
          "does not verify against option 'openssl.cafile'");
  std::ofstream{dir.path + "/garbage.pem"} << "not a certificate\n";
  refuses({"--openssl.certificate", dir.path + "/garbage.pem", "--openssl.key",
           pki + "/master-key.pem", "--openssl.cafile", pki + "/ca.pem"},
          "garbage.pem'): error:");

  child agent{cat({bin("caldera-agent"), "--work-dir", dir.path + "/a"}, tls_args(pki, "agent"))};
  CHECK(agent.wait_exit(30s) == 2);
  CHECK_MESSAGE(has(agent.output(), "executor-certificate"), agent.output());
}

}
