// Who a peer is and what it may do (issue 15): plain classes the daemons
// call, driven by unit tests without an actor system.
//
// - `credentials`: Mesos' --credentials file,
//     {"credentials": [{"principal": "alice", "secret": "..."}]}
//   (a principal per line "alice secret" is accepted too, as Mesos does).
// - challenge-response: the server draws a nonce (from its runtime's seed:
//   `make_nonce`), the client answers `prove(secret, nonce, principal)`, an
//   HMAC-SHA256 in hex; the server checks it with `credentials::verify`. The
//   secret never crosses the wire; a nonce is used once.
// - `acls`: Mesos' ACL file: ordered rules per action, first match wins,
//   `permissive` when none matches. A rule has a subject (`principals`) and
//   an object (`roles`, `users`, `framework_principals`, `actors`), each
//   {"type": "ANY"}, {"type": "NONE"} or {"values": [...]}. NONE matches
//   everything and denies: {"principals": {"type": "NONE"}, "users":
//   {"values": ["root"]}} means nobody runs tasks as root.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace caldera {

class credentials {
public:
  /// Reads a credentials file; the error names the file and the reason.
  static caf::expected<credentials> load(const std::string& path);
  /// Parses the file's text (JSON, or "principal secret" lines).
  static caf::expected<credentials> parse(const std::string& text, const std::string& what);

  bool empty() const { return secrets_.empty(); }
  size_t size() const { return secrets_.size(); }
  bool has(const std::string& principal) const { return secrets_.count(principal) > 0; }

  /// Whether `proof` answers `nonce` for `principal` (constant-time compare).
  bool verify(const std::string& principal, const std::string& nonce,
              const std::string& proof) const;
  /// HTTP Basic: whether `secret` is `principal`'s (constant-time compare).
  bool check_secret(const std::string& principal, const std::string& secret) const;

private:
  std::map<std::string, std::string> secrets_;
};

/// The client's answer to a challenge: hex HMAC-SHA256 over the nonce and
/// the principal, keyed with the secret.
std::string prove(const std::string& secret, const std::string& nonce,
                  const std::string& principal);

class runtime_env;

/// A fresh challenge: 32 hex characters of the runtime's secure randomness
/// (the machine's CSPRNG; the seed's stream in the simulator).
std::string make_nonce(runtime_env& env);

/// Whether two secrets are equal, in time independent of where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

/// Reads a secret file (trailing newline dropped); the error names the file.
caf::expected<std::string> read_secret_file(const std::string& path);

/// One principal and its secret: Mesos' --credential file of an agent,
/// {"principal": "agent", "secret": "..."} or a line "agent secret".
struct credential {
  std::string principal;
  std::string secret;
};

caf::expected<credential> parse_credential(const std::string& text, const std::string& what);
caf::expected<credential> load_credential(const std::string& path);

class acls {
public:
  /// What the ACLs govern, with the object each rule names.
  enum class action {
    register_frameworks, // object: roles
    run_tasks,           // object: users
    teardown_frameworks, // object: framework_principals
    update_weights,      // object: roles
    update_quotas,       // object: roles
    view_frameworks,     // object: users
    view_tasks,          // object: users
    access_sandboxes,    // object: users
    kill_actors,         // object: actors (caldera's own)
  };

  /// Everything allowed (no ACL file).
  acls() = default;
  static caf::expected<acls> load(const std::string& path);
  /// Parses an ACL file's text; an unknown action, a rule without its
  /// subject or object, or a malformed entity is an error naming it.
  static caf::expected<acls> parse(const std::string& text, const std::string& what);

  /// Whether `principal` ("" : not authenticated) may do `a` on `object`.
  bool allows(action a, const std::string& principal, const std::string& object) const;

  static const char* name(action a);
  static const char* object_key(action a);

private:
  struct entity {
    enum class kind { any, none, values } k = kind::any;
    std::vector<std::string> values;
    bool matches(const std::string& v) const;
  };
  struct rule {
    entity subject;
    entity object;
  };
  bool permissive_ = true;
  std::map<action, std::vector<rule>> rules_;
};

} // namespace caldera
