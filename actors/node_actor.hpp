// The node actor: every caldera process runs one. It knows the long-lived
// actors of its process by name ("master", "registrar", "agent",
// "executor/<framework>/<executor>", "scheduler/<framework>", ...), lists them
// and kills one on request with exit_reason::kill (fault injection). The
// master and agent actors pass ListActors / KillActor on to it, so
// `caldera actors --node HOST:PORT` works against either endpoint.
//
// It is spawned hidden: it never keeps a process alive on its own.
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>

#include "actors/peer_auth.hpp"
#include "actors/types.hpp"

namespace caldera {

/// Spawns the node actor of a process called `node_name` (e.g. "master@127.0.0.1:5050").
caf::actor spawn_node(caf::actor_system& sys, std::string node_name);

/// Makes `a` known to `node` as `name` until it terminates.
void node_register(const caf::actor& node, const std::string& name, const caf::actor& a);

/// Answers `m` from `self` by asking `node` (for actors that front the node).
template <class Msg>
caf::result<actor_list_msg> ask_node(caf::event_based_actor* self, const caf::actor& node,
                                     const Msg& m) {
  if (!node)
    return caf::make_error(caf::sec::invalid_argument, "this process has no node actor");
  auto rp = self->make_response_promise<actor_list_msg>();
  self->request(node, caf::infinite, m)
    .then([rp](const actor_list_msg& r) mutable { rp.deliver(r); },
          [rp](caf::error& e) mutable { rp.deliver(e); });
  return rp;
}

/// ListActors for an operator `auth` admits (a principal when operators
/// must authenticate), answered by `node`.
caf::result<actor_list_msg> list_actors_for(caf::event_based_actor* self, const peer_auth& auth,
                                            const caf::actor& node, const list_actors_msg& m);

/// KillActor for an operator `auth` admits (ACL kill_actors on the actor's
/// name), answered by `node`.
caf::result<actor_list_msg> kill_actor_for(caf::event_based_actor* self, const peer_auth& auth,
                                           const caf::actor& node, const kill_actor_msg& m);

} // namespace caldera
