// Credentials, the challenge-response proof and Mesos-shaped ACLs
// (actors/auth.hpp), without an actor system.
#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/auth.hpp"
#include "actors/peer_auth.hpp"
#include "actors/error.hpp"
#include "actors/runtime_env.hpp"

using namespace caldera;

TEST_SUITE("unit") {

TEST_CASE("credentials: Mesos' JSON and plain lines; bad files are refused with the reason") {
  auto c = credentials::parse(
    R"({"credentials": [{"principal": "alice", "secret": "s3cret"}, {"principal": "bob", "secret": "b0b"}]})",
    "creds");
  REQUIRE(c);
  CHECK(c->size() == 2);
  CHECK(c->check_secret("alice", "s3cret"));
  CHECK_FALSE(c->check_secret("alice", "b0b"));
  CHECK_FALSE(c->check_secret("carol", "s3cret"));
  auto lines = credentials::parse("# ops\nops 0ps\n\nalice a\n", "creds");
  REQUIRE(lines);
  CHECK(lines->has("ops"));
  auto msg = [](const caf::expected<credentials>& x) { return x ? "" : error_message(x.error()); };
  CHECK(msg(credentials::parse("{\"credentials\": 3}", "f")).find("expected") != std::string::npos);
  CHECK(msg(credentials::parse("{oops", "f")).find("not valid JSON") != std::string::npos);
  CHECK(msg(credentials::parse("alice", "f")).find("line 1") != std::string::npos);
  CHECK(msg(credentials::parse("", "f")).find("no credentials") != std::string::npos);
  CHECK(msg(credentials::parse(
              R"({"credentials": [{"principal": "a", "secret": "x"}, {"principal": "a", "secret": "y"}]})",
              "f"))
          .find("twice") != std::string::npos);
  CHECK(msg(credentials::load("/nonexistent/creds")).find("/nonexistent/creds") != std::string::npos);
}

TEST_CASE("challenge-response: a proof answers one nonce for one principal, never reveals the secret") {
  auto c = credentials::parse("alice s3cret\nbob b0b\n", "creds");
  REQUIRE(c);
  auto env = make_real_env(0);
  auto n1 = make_nonce(*env);
  auto n2 = make_nonce(*env);
  CHECK(n1.size() == 32);
  CHECK(n1 != n2);
  auto proof = prove("s3cret", n1, "alice");
  CHECK(proof.size() == 64);
  CHECK(proof.find("s3cret") == std::string::npos);
  CHECK(c->verify("alice", n1, proof));
  CHECK_FALSE(c->verify("alice", n2, proof));      // another challenge
  CHECK_FALSE(c->verify("bob", n1, proof));        // another principal
  CHECK_FALSE(c->verify("alice", n1, prove("wrong", n1, "alice")));
  CHECK_FALSE(c->verify("carol", n1, proof));      // unknown principal
  CHECK_FALSE(c->verify("alice", "", prove("s3cret", "", "alice")));
}

TEST_CASE("ACLs: first match wins, NONE denies, permissive decides the rest") {
  auto a = acls::parse(R"({
    "permissive": false,
    "register_frameworks": [
      {"principals": {"values": ["alice", "ops"]}, "roles": {"type": "ANY"}},
      {"principals": {"values": ["bob"]}, "roles": {"values": ["bob"]}}
    ],
    "run_tasks": [
      {"principals": {"type": "NONE"}, "users": {"values": ["root"]}},
      {"principals": {"values": ["alice", "bob"]}, "users": {"type": "ANY"}}
    ],
    "kill_actors": [{"principals": {"values": ["ops"]}, "actors": {"type": "ANY"}}]
  })", "acls");
  REQUIRE_MESSAGE(a, error_message(a.error()));
  using A = acls::action;
  CHECK(a->allows(A::register_frameworks, "alice", "anything"));
  CHECK(a->allows(A::register_frameworks, "bob", "bob"));
  CHECK_FALSE(a->allows(A::register_frameworks, "bob", "eng"));
  CHECK_FALSE(a->allows(A::register_frameworks, "carol", "bob"));
  CHECK(a->allows(A::run_tasks, "alice", "nobody"));
  CHECK_FALSE(a->allows(A::run_tasks, "alice", "root"));
  CHECK_FALSE(a->allows(A::run_tasks, "ops", "nobody")); // no rule: not permissive
  CHECK(a->allows(A::kill_actors, "ops", "master"));
  CHECK_FALSE(a->allows(A::kill_actors, "alice", "master"));
  CHECK(acls{}.allows(A::kill_actors, "", "master")); // no ACL file: everything
  auto permissive = acls::parse(R"({"permissive": true})", "acls");
  REQUIRE(permissive);
  CHECK(permissive->allows(A::update_quotas, "anyone", "eng"));
}

TEST_CASE("peer_auth: a principal proven once is bound to its peer; operators as the ACLs say") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto idle = [] { return caf::behavior{[](int) {}}; };
  auto p1 = sys.spawn(idle), p2 = sys.spawn(idle);
  auto creds = credentials::parse("ops 0ps\nalice a\n", "creds");
  auto rules = acls::parse(R"({"permissive": false, "kill_actors": [
    {"principals": {"values": ["ops"]}, "actors": {"type": "ANY"}}]})", "acls");
  REQUIRE(creds);
  REQUIRE(rules);
  peer_auth auth{{std::make_shared<const credentials>(*creds),
                  std::make_shared<const acls>(*rules), true}};
  auto env = make_real_env(0);
  auto kill = acls::action::kill_actors;
  // Nobody proven: operators must authenticate.
  auto err = auth.authorize_operator(p1.address(), kill, "master");
  CHECK(err.code() == static_cast<uint8_t>(errc::unauthenticated));
  // A wrong proof, a proof without a challenge, a replayed challenge.
  auto nonce = auth.challenge(p1.address(), "ops", *env);
  CHECK_FALSE(auth.check(p1.address(), "ops", nonce, prove("guess", nonce, "ops")));
  CHECK_FALSE(auth.check(p1.address(), "ops", nonce, prove("0ps", nonce, "ops")));
  nonce = auth.challenge(p1.address(), "ops", *env);
  CHECK_FALSE(auth.check(p1.address(), "alice", nonce, prove("a", nonce, "alice")));
  nonce = auth.challenge(p1.address(), "ops", *env);
  auto ok = auth.check(p1.address(), "ops", nonce, prove("0ps", nonce, "ops"));
  REQUIRE(ok);
  CHECK(*ok == "ops");
  CHECK(auth.principal_of(p1.address()) == "ops");
  CHECK(auth.principal_of(p2.address()).empty());
  CHECK_FALSE(auth.authorize_operator(p1.address(), kill, "master"));
  // alice proves herself, the ACL says no.
  nonce = auth.challenge(p2.address(), "alice", *env);
  REQUIRE(auth.check(p2.address(), "alice", nonce, prove("a", nonce, "alice")));
  err = auth.authorize_operator(p2.address(), kill, "master");
  CHECK(err.code() == static_cast<uint8_t>(errc::unauthorized));
  CHECK(error_message(err).find("principal 'alice' may not kill_actors 'master'")
        != std::string::npos);
  // Without credentials nothing is checked: empty challenges, any proof.
  peer_auth open;
  CHECK(open.challenge(p1.address(), "x", *env).empty());
  CHECK(open.check(p1.address(), "x", "", ""));
  CHECK_FALSE(open.require_principal(p2.address(), "list"));
  caf::anon_send_exit(p1, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(p2, caf::exit_reason::user_shutdown);
}

TEST_CASE("ACLs: an unknown action or a malformed rule is refused naming it") {
  auto msg = [](const std::string& text) {
    auto a = acls::parse(text, "acls.json");
    return a ? std::string{} : error_message(a.error());
  };
  CHECK(msg(R"({"launch_rockets": []})").find("unknown action 'launch_rockets'") != std::string::npos);
  CHECK(msg(R"({"run_tasks": [{"principals": {"type": "ANY"}}]})").find("run_tasks[0]")
        != std::string::npos);
  CHECK(msg(R"({"run_tasks": [{"principals": {"type": "SOME"}, "users": {"type": "ANY"}}]})")
          .find("ANY") != std::string::npos);
  CHECK(msg(R"({"permissive": "yes"})").find("permissive") != std::string::npos);
  CHECK(msg("[1, 2]").find("acls.json") != std::string::npos);
  CHECK(msg(R"({"run_tasks": [{"principals": {"values": [1]}, "users": {"type": "ANY"}}]})")
          .find("strings") != std::string::npos);
}

}
