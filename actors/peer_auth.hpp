// Who the peers of a daemon are and what they may do: the server half of the
// challenge-response of actors/auth.hpp and the ACL checks, as a plain class
// that the master and the agent hold and a unit test drives without an actor
// system (plus the thin handlers that feed it the current sender). Peers are keyed by their actor address: a principal proven on a
// link is bound to the actor that proved it; a challenge is used once. At
// most `max_peers` peers are in the middle of a handshake or proven (a peer
// that floods challenges costs a bounded amount: past it, the first entry
// by address makes room).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>
#include <caf/result.hpp>

#include "actors/auth.hpp"
#include "actors/error.hpp"
#include "actors/types.hpp"

namespace caldera {

class runtime_env;

class peer_auth {
public:
  static constexpr size_t max_peers = 10'000;

  struct policy {
    /// The principals peers may prove (null: none: every challenge is empty
    /// and every proof is taken, Mesos' default without --credentials).
    std::shared_ptr<const credentials> creds;
    /// What principals may do (null: everything).
    std::shared_ptr<const acls> acl;
    /// Operator calls (weights, quota, teardown, listing and killing actors)
    /// need a proven principal (--authenticate_operators).
    bool authenticate_operators = false;
  };

  peer_auth() = default;
  explicit peer_auth(policy p) : policy_(std::move(p)) {}

  const policy& rules() const { return policy_; }

  /// A challenge for `peer` claiming `principal`: a fresh nonce, or "" when
  /// nothing is checked.
  std::string challenge(const caf::actor_addr& peer, const std::string& principal,
                        runtime_env& env);

  /// Checks `peer`'s answer; binds the principal to it on success. Errors
  /// are `unauthenticated` with the reason.
  caf::expected<std::string> check(const caf::actor_addr& peer, const std::string& principal,
                                   const std::string& nonce, const std::string& proof);

  /// The principal `peer` proved ("" : none).
  std::string principal_of(const caf::actor_addr& peer) const;
  bool proven(const caf::actor_addr& peer) const { return principals_.count(peer) > 0; }

  /// `unauthenticated` when operator calls need a principal and `peer` has
  /// proven none (for calls no ACL action governs: `what` names the call).
  caf::error require_principal(const caf::actor_addr& peer, const std::string& what) const;

  /// Whether `peer` may make operator call `a` on `object`: `unauthenticated`
  /// when it must prove a principal and has not, `unauthorized` when the ACL
  /// says no (the message names the principal, the action and the object).
  caf::error authorize_operator(const caf::actor_addr& peer, acls::action a,
                                const std::string& object) const;

  size_t peers() const { return challenges_.size() + principals_.size(); }

private:
  template <class Map>
  static void bound(Map& m) {
    if (m.size() >= max_peers)
      m.erase(m.begin());
  }

  policy policy_;
  std::map<caf::actor_addr, std::pair<std::string, std::string>> challenges_;
  std::map<caf::actor_addr, std::string> principals_;
};

/// Counts (caldera_refusals_total{type}), logs (peer_refused) and returns a
/// refusal.
caf::error refusal(const char* type, errc code, const std::string& why);

/// A daemon's handlers for Authenticate and AuthenticateProof from the
/// current sender of `self`; a message that does not decode is answered with
/// an error.
caf::result<auth_challenge_msg> serve_challenge(caf::local_actor* self, peer_auth& auth,
                                                runtime_env& env, const authenticate_msg& m);
caf::result<authenticated_msg> serve_proof(caf::local_actor* self, peer_auth& auth,
                                           const authenticate_proof_msg& m);

/// `auth.authorize_operator` / `require_principal` for the current sender
/// of `self`, the refusal counted and logged.
caf::error authorize_operator(caf::local_actor* self, const peer_auth& auth, acls::action a,
                              const std::string& object);
caf::error require_operator(caf::local_actor* self, const peer_auth& auth,
                            const std::string& what);

} // namespace caldera
