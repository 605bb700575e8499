// Who the master's peers are and what they may do (issue 15): the
// challenge-response of actors/auth.hpp over the master's link (the
// bookkeeping in actors/peer_auth.hpp), the register_frameworks ACL, agents
// under --authenticate_agents, and operator calls (weights, quota, teardown,
// actors) under --authenticate_operators and the ACLs.
#include <optional>

#include <caf/actor_addr.hpp>

#include "actors/auth.hpp"
#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "master/master_impl.hpp"

namespace caldera::detail {

caf::result<auth_challenge_msg> challenge_peer(master_actor* self, const authenticate_msg& m) {
  return serve_challenge(self, self->state.auth, *self->state.opts.runtime, m);
}

caf::result<authenticated_msg> check_proof(master_actor* self, const authenticate_proof_msg& m) {
  return serve_proof(self, self->state.auth, m);
}

caf::error authorize_framework(master_actor* self, const caf::actor& sender,
                               schema::FrameworkInfo::Reader info, std::string& principal) {
  auto& d = self->state;
  principal = info.getPrincipal();
  auto proven = d.auth.principal_of(sender.address());
  if (d.opts.authenticate_frameworks) {
    if (proven.empty())
      return refusal("unauthenticated", errc::unauthenticated,
                    "this master admits only authenticated frameworks: give a principal and "
                    "its secret (caldera run --principal P --secret-file F)");
    if (!principal.empty() && principal != proven)
      return refusal("unauthenticated", errc::unauthenticated,
                    "the framework names principal '" + principal + "' but proved '" + proven
                      + "'");
    principal = proven;
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
      return refusal("register_frameworks", errc::unauthorized,
                    "principal '" + principal + "' may not register frameworks in role '" + role
                      + "' (ACL register_frameworks)");
  return caf::none;
}

caf::error authorize_agent(master_actor* self, const caf::actor& sender) {
  auto& d = self->state;
  if (!d.opts.authenticate_agents || d.auth.proven(sender.address()))
    return caf::none;
  return refusal("unauthenticated", errc::unauthenticated,
                "this master admits only authenticated agents: start the agent with "
                "--credential FILE (a principal and secret of the master's --credentials)");
}

caf::error authorize_operator(master_actor* self, acls::action a, const std::string& object) {
  return caldera::authorize_operator(self, self->state.auth, a, object);
}

caf::result<framework_state_msg> handle_teardown_framework(master_actor* self,
                                                           const teardown_framework_msg& m) {
  auto& d = self->state;
  std::string fid;
  if (!guarded("TeardownFramework", [&] { fid = m.read()->getFrameworkId(); }))
    return make_error(errc::invalid_message, "TeardownFramework does not decode");
  auto f = d.st.frameworks.find(fid);
  if (f == d.st.frameworks.end())
    return make_error(errc::unknown_framework, "no framework '" + fid + "'");
  if (auto err = authorize_operator(self, acls::action::teardown_frameworks, f->second.principal))
    return err;
  auto reply = make<schema::FrameworkState>([&](auto b) {
    fill_framework_state(b, f->second);
    b.setActive(false);
    b.setCompleted(true);
  });
  auto sender = self->current_sender();
  auto who = sender ? d.auth.principal_of(sender->address()) : std::string{};
  auto why = "torn down by the operator" + (who.empty() ? "" : " '" + who + "'");
  if (f->second.handle)
    self->send(f->second.handle, make<schema::SchedulerError>([&](auto b) {
                 b.setMessage("framework " + fid + " removed: " + why);
                 b.setRemoved(true);
               }));
  teardown(self, fid, why);
  return reply;
}

} // namespace caldera::detail
