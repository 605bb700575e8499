#include "actors/auth_client.hpp"

#include <chrono>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/types.hpp"

namespace caldera {

namespace {

authenticate_proof_msg proof_for(const credential& who, const std::string& nonce) {
  return make<schema::AuthenticateProof>([&](auto b) {
    b.setPrincipal(who.principal);
    b.setNonce(nonce);
    b.setProof(nonce.empty() ? std::string{} : prove(who.secret, nonce, who.principal));
  });
}

void send_proof(caf::event_based_actor* self, const caf::actor& server, const credential& who,
                const auth_challenge_msg& c, const std::function<void(const caf::error&)>& done) {
  std::string nonce;
  if (!guarded("AuthChallenge", [&] { nonce = c.read()->getNonce(); })) {
    done(make_error(errc::invalid_message, "the challenge does not decode"));
    return;
  }
  self->request(server, std::chrono::seconds(30), proof_for(who, nonce))
    .then([=](const authenticated_msg&) { done(caf::none); },
          [=](caf::error& err) { done(err); });
}

} // namespace

void authenticate_to(caf::event_based_actor* self, const caf::actor& server,
                     const credential& who, std::function<void(const caf::error&)> done) {
  auto ask = make<schema::Authenticate>([&](auto b) { b.setPrincipal(who.principal); });
  self->request(server, std::chrono::seconds(30), ask)
    .then([=](const auth_challenge_msg& c) { send_proof(self, server, who, c, done); },
          [=](caf::error& err) { done(err); });
}

caf::error authenticate_blocking(caf::scoped_actor& self, const caf::actor& server,
                                 const credential& who) {
  caf::error result;
  std::string nonce;
  auto ask = make<schema::Authenticate>([&](auto b) { b.setPrincipal(who.principal); });
  self->request(server, std::chrono::seconds(30), ask)
    .receive(
      [&](const auth_challenge_msg& c) {
        if (!guarded("AuthChallenge", [&] { nonce = c.read()->getNonce(); }))
          result = make_error(errc::invalid_message, "the challenge does not decode");
      },
      [&](caf::error& err) { result = std::move(err); });
  if (result)
    return result;
  self->request(server, std::chrono::seconds(30), proof_for(who, nonce))
    .receive([&](const authenticated_msg&) {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace caldera
