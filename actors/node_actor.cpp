#include "actors/node_actor.hpp"

#include <map>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"

namespace caldera {

namespace {

using put_atom = caf::atom_constant<caf::atom("nodeput")>;
using kill_atom = caf::atom_constant<caf::atom("nodekill")>;

struct node_state {
  std::string node_name;
  std::map<std::string, caf::actor> actors;
  static inline const char* name = "node";
};

actor_list_msg listing(const node_state& st) {
  return make<schema::ActorList>([&](schema::ActorList::Builder b) {
    b.setNode(st.node_name);
    auto l = b.initActors(static_cast<unsigned>(st.actors.size()));
    unsigned i = 0;
    for (auto& [n, a] : st.actors)
      l.set(i++, n);
  });
}

caf::behavior node_behavior(caf::stateful_actor<node_state>* self, std::string name) {
  self->state.node_name = std::move(name);
  harden(self);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& as = self->state.actors;
    for (auto i = as.begin(); i != as.end();) {
      if (i->second.address() == dm.source)
        i = as.erase(i);
      else
        ++i;
    }
  });
  return {
    [=](put_atom, const std::string& n, const caf::actor& a) {
      self->monitor(a);
      self->state.actors[n] = a;
    },
    [=](const list_actors_msg&) { return listing(self->state); },
    [=](const kill_actor_msg& m) -> caf::result<actor_list_msg> {
      std::string n;
      if (!guarded("KillActor", [&] { n = m.read()->getName(); }))
        return make_error(errc::invalid_message, "KillActor does not decode");
      auto i = self->state.actors.find(n);
      if (i == self->state.actors.end())
        return make_error(errc::invalid_message,
                          "no actor named '" + n + "' on " + self->state.node_name);
      log::warn("actor_killed", {{"name", n}, {"node", self->state.node_name}});
      // The answer may travel through the very actor killed (the agent or
      // master fronts the node): kill it a moment after answering.
      self->delayed_send(self, std::chrono::milliseconds(100), kill_atom::value,
                         i->second);
      self->state.actors.erase(i);
      return listing(self->state);
    },
    [=](kill_atom, const caf::actor& a) {
      caf::anon_send_exit(a, caf::exit_reason::kill);
    },
  };
}

} // namespace

caf::actor spawn_node(caf::actor_system& sys, std::string node_name) {
  return sys.spawn<caf::hidden>(node_behavior, std::move(node_name));
}

void node_register(const caf::actor& node, const std::string& name, const caf::actor& a) {
  if (node && a)
    caf::anon_send(node, put_atom::value, name, a);
}

caf::result<actor_list_msg> list_actors_for(caf::event_based_actor* self, const peer_auth& auth,
                                            const caf::actor& node, const list_actors_msg& m) {
  if (auto err = require_operator(self, auth, "list actors"))
    return err;
  return ask_node(self, node, m);
}

caf::result<actor_list_msg> kill_actor_for(caf::event_based_actor* self, const peer_auth& auth,
                                           const caf::actor& node, const kill_actor_msg& m) {
  std::string name;
  if (!guarded("KillActor", [&] { name = m.read()->getName(); }))
    return make_error(errc::invalid_message, "KillActor does not decode");
  if (auto err = authorize_operator(self, auth, acls::action::kill_actors, name))
    return err;
  return ask_node(self, node, m);
}

} // namespace caldera
