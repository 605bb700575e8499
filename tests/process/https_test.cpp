// The HTTP APIs of a secure cluster (issue 15): HTTPS with the nodes' TLS
// files, Basic authentication against the credentials file, and what each
// principal may see and read (view_frameworks, access_sandboxes).
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <sys/stat.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/process_util.hpp"

using namespace caldera::test;
using namespace std::chrono_literals;

namespace {

bool has(const std::string& out, const std::string& text) {
  return out.find(text) != std::string::npos;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::string s;
  std::getline(in, s);
  return s;
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

} // namespace

TEST_SUITE("process") {

TEST_CASE("HTTPS with Basic authentication: no or wrong credentials get 401, each principal "
          "sees its frameworks, another's sandbox is 403") {
  temp_dir dir;
  ::chmod(dir.path.c_str(), 0755);
  auto pki = dir.path + "/pki";
  auto certs = make_certs(pki);
  REQUIRE_MESSAGE(certs.empty(), certs);
  // bob sees no framework; only ops reads sandboxes.
  std::ofstream{dir.path + "/acls.json"} << R"({"permissive": false,
    "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
    "run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
    "view_frameworks": [{"principals": {"values": ["ops", "alice"]}, "users": {"type": "ANY"}}],
    "view_tasks": [{"principals": {"values": ["ops", "alice"]}, "users": {"type": "ANY"}}],
    "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}]})";
  auto sec = [&](const std::string& who) -> std::vector<std::string> {
    return {"--openssl.certificate", pki + "/" + who + ".pem", "--openssl.key",
            pki + "/" + who + "-key.pem", "--openssl.cafile", pki + "/ca.pem", "--credentials",
            pki + "/credentials.json", "--acls", dir.path + "/acls.json",
            "--authenticate_http_readonly", "--log-level", "debug"};
  };
  auto port = free_port();
  auto ep = "127.0.0.1:" + std::to_string(port);
  child m{with({bin("caldera-master"), "--port", std::to_string(port), "--work-dir",
                dir.path + "/m", "--http-port", "0"},
               sec("master"))};
  REQUIRE_MESSAGE(m.wait_for("master_listening"), m.output());
  auto mhttp = logged_endpoint(m, "http_listening");
  child a{with(with({bin("caldera-agent"), "--master", ep, "--port", std::to_string(free_port()),
                     "--work-dir", dir.path + "/a", "--resources", "cpus:2;mem:256",
                     "--http-port", "0", "--executor-certificate", pki + "/executor.pem",
                     "--executor-key", pki + "/executor-key.pem"},
                    sec("agent")),
               {})};
  REQUIRE_MESSAGE(a.wait_for("agent_registered"), a.output());
  auto ahttp = logged_endpoint(a, "http_listening");
  child run{{bin("caldera"), "run", "--master", ep, "--config", pki + "/client.conf",
             "--resources", "cpus:0.1;mem:8", "--user", "nobody", "--", "echo", "secret-output"}};
  REQUIRE_MESSAGE(run.wait_exit(60s) == 0, run.output());

  auto client = [&](const std::string& hostport) {
    auto c = std::make_unique<httplib::Client>("https://" + hostport);
    c->set_ca_cert_path((pki + "/ca.pem").c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(10, 0);
    return c;
  };
  // One client (one keep-alive connection) per endpoint and principal.
  std::map<std::string, std::unique_ptr<httplib::Client>> clients;
  auto get = [&](const std::string& hostport, const std::string& path, const std::string& who,
                 const std::string& secret) {
    auto& c = clients[hostport + " " + who + " " + secret];
    if (!c) {
      c = client(hostport);
      if (!who.empty())
        c->set_basic_auth(who.c_str(), secret.c_str());
    }
    return c->Get(path.c_str());
  };
  auto none = get(mhttp, "/master/state", "", "");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(none->has_header("WWW-Authenticate"));
  auto wrong = get(mhttp, "/master/state", "ops", "guess");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto health = get(mhttp, "/health", "", "");
  REQUIRE(health);
  CHECK(health->status == 200);
  // The daemons publish their state for HTTP readers a moment after it
  // changed; they log it (debug), and the tests wait for that.
  REQUIRE_MESSAGE(m.wait_for("completed_tasks=1"), m.output());
  REQUIRE_MESSAGE(a.wait_for("completed_executors=1"), a.output());
  auto published = [&](const std::string& hostport, const std::string& path) {
    auto r = get(hostport, path, "ops", slurp(pki + "/ops.secret"));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return nlohmann::json::parse(r->body);
  };
  auto ops_state = published(mhttp, "/master/state");
  CHECK(ops_state["frameworks"].size() + ops_state["completed_frameworks"].size() == 1);
  auto bob = get(mhttp, "/master/state", "bob", slurp(pki + "/bob.secret"));
  REQUIRE(bob);
  REQUIRE(bob->status == 200);
  auto bob_state = nlohmann::json::parse(bob->body);
  CHECK(bob_state["frameworks"].size() + bob_state["completed_frameworks"].size() == 0);
  CHECK(bob_state["slaves"].size() == 1);

  // Plain HTTP against the HTTPS port is no answer.
  httplib::Client plain{"http://" + mhttp};
  plain.set_read_timeout(5, 0);
  auto p = plain.Get("/health");
  CHECK((!p || p->status != 200));

  // The task's sandbox, found in the agent's state (ops may read it).
  auto aj = published(ahttp, "/state");
  std::string sandbox;
  for (auto& f : aj["completed_frameworks"])
    for (auto& e : f["completed_executors"])
      sandbox = e["directory"].get<std::string>();
  for (auto& f : aj["frameworks"])
    for (auto& e : f["completed_executors"])
      sandbox = e["directory"].get<std::string>();
  REQUIRE_MESSAGE(!sandbox.empty(), aj.dump());
  auto bob_agent = get(ahttp, "/state", "bob", slurp(pki + "/bob.secret"));
  REQUIRE(bob_agent);
  REQUIRE(bob_agent->status == 200);
  auto bj = nlohmann::json::parse(bob_agent->body);
  CHECK_MESSAGE(bj["frameworks"].size() + bj["completed_frameworks"].size() == 0, bj.dump());
  CHECK(aj["frameworks"][0]["user"] == "nobody");
  auto path = "/files/read?path=" + sandbox + "/stdout&offset=0";
  auto alice = get(ahttp, path, "alice", slurp(pki + "/alice.secret"));
  REQUIRE(alice);
  CHECK(alice->status == 403);
  CHECK(has(alice->body, "ACL access_sandboxes"));
  auto opsread = get(ahttp, path, "ops", slurp(pki + "/ops.secret"));
  REQUIRE(opsread);
  CHECK(opsread->status == 200);
  CHECK(has(opsread->body, "secret-output"));

  a.signal(SIGTERM);
  CHECK(a.wait_exit(30s) == 0);
  m.signal(SIGTERM);
  CHECK(m.wait_exit(30s) == 0);
}

}
