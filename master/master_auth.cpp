// Who a framework is and whether it may register as it asks (issue 15):
// the challenge-response of actors/auth.hpp over the master's link, and the
// register_frameworks ACL. A peer's proven principal is bound to its actor
// address; a challenge is used once.
#include <optional>

#include <caf/actor_addr.hpp>

#include "actors/auth.hpp"
#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "master/master_impl.hpp"

namespace caldera::detail {

namespace {

// At most this many peers in the middle of a handshake or proven (a peer
// that floods challenges costs a bounded amount: past it, one entry, the
// first by actor address, makes room).
constexpr size_t max_peers = 10'000;

template <class Map>
void bound(Map& m) {
  if (m.size() >= max_peers)
    m.erase(m.begin());
}

caf::error refuse(const char* type, errc code, const std::string& why) {
  metrics::refused(type);
  log::warn("peer_refused", {{"type", type}, {"reason", why}});
  return make_error(code, why);
}

} // namespace

namespace {

caf::result<auth_challenge_msg> challenge(master_actor* self, const authenticate_msg& m) {
  auto& d = self->state;
  auto sender = self->current_sender();
  std::string principal = m.read()->getPrincipal();
  if (!sender || principal.empty())
    return make_error(errc::invalid_message, "Authenticate needs a sender and a principal");
  // Without credentials nothing is checked: an empty nonce says so.
  std::string nonce = d.opts.credentials ? make_nonce(*d.opts.runtime) : "";
  bound(d.challenges);
  d.challenges[sender->address()] = {principal, nonce};
  return make<schema::AuthChallenge>([&](auto b) { b.setNonce(nonce); });
}

caf::result<authenticated_msg> check(master_actor* self, const authenticate_proof_msg& m) {
  auto& d = self->state;
  auto sender = self->current_sender();
  auto v = m.read();
  std::string principal = v->getPrincipal();
  auto c = sender ? d.challenges.find(sender->address()) : d.challenges.end();
  if (c == d.challenges.end())
    return refuse("unauthenticated", errc::unauthenticated, "no challenge was sent to this peer");
  auto [asked, nonce] = c->second;
  d.challenges.erase(c); // one proof per challenge
  std::string got_nonce = v->getNonce().cStr(), proof = v->getProof().cStr();
  bool ok = asked == principal && got_nonce == nonce
            && (!d.opts.credentials || d.opts.credentials->verify(principal, nonce, proof));
  if (!ok)
    return refuse("unauthenticated", errc::unauthenticated,
                  "authentication of principal '" + principal + "' failed");
  bound(d.principals);
  d.principals[sender->address()] = principal;
  log::info("peer_authenticated", {{"principal", principal}});
  return make<schema::Authenticated>([&](auto b) { b.setPrincipal(principal); });
}

// Runs a handler whose message may not decode: a malformed one is answered
// with an error, never ends the master.
template <class R, class F>
caf::result<R> decoded(std::string_view what, F&& f) {
  std::optional<caf::result<R>> out;
  if (guarded(what, [&] { out.emplace(f()); }) && out)
    return std::move(*out);
  return make_error(errc::invalid_message, std::string{what} + " does not decode");
}

} // namespace

caf::result<auth_challenge_msg> challenge_peer(master_actor* self, const authenticate_msg& m) {
  return decoded<auth_challenge_msg>("Authenticate", [&] { return challenge(self, m); });
}

caf::result<authenticated_msg> check_proof(master_actor* self, const authenticate_proof_msg& m) {
  return decoded<authenticated_msg>("AuthenticateProof", [&] { return check(self, m); });
}

caf::error authorize_framework(master_actor* self, const caf::actor& sender,
                               schema::FrameworkInfo::Reader info, std::string& principal) {
  auto& d = self->state;
  principal = info.getPrincipal();
  auto proven = d.principals.find(sender.address());
  if (d.opts.authenticate_frameworks) {
    if (proven == d.principals.end())
      return refuse("unauthenticated", errc::unauthenticated,
                    "this master admits only authenticated frameworks: give a principal and "
                    "its secret (caldera run --principal P --secret-file F)");
    if (!principal.empty() && principal != proven->second)
      return refuse("unauthenticated", errc::unauthenticated,
                    "the framework names principal '" + principal + "' but proved '"
                      + proven->second + "'");
    principal = proven->second;
  }
  if (!d.opts.acl)
    return caf::none;
  std::vector<std::string> roles;
  for (auto r : info.getRoles())
    roles.emplace_back(r.cStr());
  if (roles.empty())
    roles.push_back("*");
  for (auto& role : roles)
    if (!d.opts.acl->allows(acls::action::register_frameworks, principal, role))
      return refuse("register_frameworks", errc::unauthorized,
                    "principal '" + principal + "' may not register frameworks in role '" + role
                      + "' (ACL register_frameworks)");
  return caf::none;
}

caf::error authorize_agent(master_actor* self, const caf::actor& sender) {
  auto& d = self->state;
  if (!d.opts.authenticate_agents || d.principals.count(sender.address()) > 0)
    return caf::none;
  return refuse("unauthenticated", errc::unauthenticated,
                "this master admits only authenticated agents: start the agent with "
                "--credential FILE (a principal and secret of the master's --credentials)");
}

} // namespace caldera::detail
