#include "actors/peer_auth.hpp"

#include <optional>
#include <string_view>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

std::string peer_auth::challenge(const caf::actor_addr& peer, const std::string& principal,
                                 runtime_env& env) {
  std::string nonce = policy_.creds ? make_nonce(env) : "";
  bound(challenges_);
  challenges_[peer] = {principal, nonce};
  return nonce;
}

caf::expected<std::string> peer_auth::check(const caf::actor_addr& peer,
                                            const std::string& principal,
                                            const std::string& nonce, const std::string& proof) {
  auto c = challenges_.find(peer);
  if (c == challenges_.end())
    return make_error(errc::unauthenticated, "no challenge was sent to this peer");
  auto [asked, sent] = c->second;
  challenges_.erase(c); // one proof per challenge
  bool ok = asked == principal && nonce == sent
            && (!policy_.creds || policy_.creds->verify(principal, nonce, proof));
  if (!ok)
    return make_error(errc::unauthenticated,
                      "authentication of principal '" + principal + "' failed");
  bound(principals_);
  principals_[peer] = principal;
  return principal;
}

std::string peer_auth::principal_of(const caf::actor_addr& peer) const {
  auto i = principals_.find(peer);
  return i == principals_.end() ? std::string{} : i->second;
}

caf::error peer_auth::require_principal(const caf::actor_addr& peer,
                                        const std::string& what) const {
  if (!policy_.authenticate_operators || proven(peer))
    return caf::none;
  return make_error(errc::unauthenticated, "operator calls here need a principal (" + what
                                             + "): give --principal P --secret-file F");
}

caf::error peer_auth::authorize_operator(const caf::actor_addr& peer, acls::action a,
                                         const std::string& object) const {
  auto principal = principal_of(peer);
  if (auto err = require_principal(peer, acls::name(a)))
    return err;
  if (policy_.acl && !policy_.acl->allows(a, principal, object))
    return make_error(errc::unauthorized,
                      (principal.empty() ? std::string{"an unauthenticated caller"}
                                         : "principal '" + principal + "'")
                        + " may not " + acls::name(a) + " '" + object + "' (ACL "
                        + acls::name(a) + ")");
  return caf::none;
}

caf::error refusal(const char* type, errc code, const std::string& why) {
  metrics::refused(type);
  log::warn("peer_refused", {{"type", type}, {"reason", why}});
  return make_error(code, why);
}

namespace {

caf::actor_addr sender_addr(caf::local_actor* self) {
  auto s = self->current_sender();
  return s ? s->address() : caf::actor_addr{};
}

// Runs a handler whose message may not decode: a malformed one is answered
// with an error, never ends the daemon.
template <class R, class F>
caf::result<R> decoded(std::string_view what, F&& f) {
  std::optional<caf::result<R>> out;
  if (guarded(what, [&] { out.emplace(f()); }) && out)
    return std::move(*out);
  return make_error(errc::invalid_message, std::string{what} + " does not decode");
}

} // namespace

caf::result<auth_challenge_msg> serve_challenge(caf::local_actor* self, peer_auth& auth,
                                                runtime_env& env, const authenticate_msg& m) {
  return decoded<auth_challenge_msg>("Authenticate", [&]() -> caf::result<auth_challenge_msg> {
    auto peer = sender_addr(self);
    std::string principal = m.read()->getPrincipal();
    if (!peer || principal.empty())
      return make_error(errc::invalid_message, "Authenticate needs a sender and a principal");
    auto nonce = auth.challenge(peer, principal, env);
    return make<schema::AuthChallenge>([&](auto b) { b.setNonce(nonce); });
  });
}

caf::result<authenticated_msg> serve_proof(caf::local_actor* self, peer_auth& auth,
                                           const authenticate_proof_msg& m) {
  return decoded<authenticated_msg>("AuthenticateProof", [&]() -> caf::result<authenticated_msg> {
    auto peer = sender_addr(self);
    if (!peer)
      return make_error(errc::invalid_message, "AuthenticateProof needs a sender");
    auto v = m.read();
    auto proven = auth.check(peer, v->getPrincipal(), v->getNonce(), v->getProof());
    if (!proven)
      return refusal("unauthenticated", errc::unauthenticated, error_message(proven.error()));
    log::info("peer_authenticated", {{"principal", *proven}});
    return make<schema::Authenticated>([&](auto b) { b.setPrincipal(*proven); });
  });
}

namespace {

caf::error counted(const caf::error& err, const char* type) {
  if (!err)
    return caf::none;
  auto code = static_cast<errc>(err.code());
  return refusal(code == errc::unauthenticated ? "unauthenticated" : type, code,
                 error_message(err));
}

} // namespace

caf::error authorize_operator(caf::local_actor* self, const peer_auth& auth, acls::action a,
                              const std::string& object) {
  return counted(auth.authorize_operator(sender_addr(self), a, object), acls::name(a));
}

caf::error require_operator(caf::local_actor* self, const peer_auth& auth,
                            const std::string& what) {
  return counted(auth.require_principal(sender_addr(self), what), "unauthenticated");
}

} // namespace caldera
