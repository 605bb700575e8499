#include "actors/master_address.hpp"

#include <caf/atom.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/runtime_env.hpp"

namespace caldera {

namespace {

using leader_lookup_atom = caf::atom_constant<caf::atom("ldrlookup")>;
using leader_found_atom = caf::atom_constant<caf::atom("ldrfound")>;

} // namespace

std::string master_address::to_string() const {
  if (coordinator)
    return coordinator->to_string();
  std::string out;
  for (auto& m : masters)
    out += (out.empty() ? "" : ",") + m.to_string();
  return out;
}

caf::expected<master_address> parse_master_address(std::string_view text) {
  master_address a;
  if (is_coordinator_url(text)) {
    auto url = parse_coordinator_url(text);
    if (!url)
      return url.error();
    a.coordinator = *url;
    return a;
  }
  if (text.empty())
    return make_error(errc::invalid_config, "no master given (HOST:PORT or etcd://...)");
  while (true) {
    auto comma = text.find(',');
    auto ep = parse_endpoint(text.substr(0, comma));
    if (!ep)
      return ep.error();
    a.masters.push_back(*ep);
    if (comma == std::string_view::npos)
      return a;
    text.remove_prefix(comma + 1);
  }
}

caf::expected<endpoint> locate_master(runtime_env& env, const master_address& a, size_t attempt,
                                      leader_wait w) {
  if (!a.coordinator) {
    if (a.masters.empty())
      return make_error(errc::invalid_config, "no master given");
    return a.masters[attempt % a.masters.size()];
  }
  auto c = env.coordinator_for(*a.coordinator);
  auto l = c->next_leader(w.not_epoch, w.wait);
  if (!l)
    return l.error();
  if (!*l)
    return make_error(errc::not_connected, "no master leads now (" + a.to_string() + ")");
  return parse_endpoint((*l)->address);
}

void lookup_leader_async(caf::event_based_actor* self, std::shared_ptr<runtime_env> env,
                         const master_address& a, leader_wait w,
                         std::function<void(endpoint)> on_ok,
                         std::function<void(const caf::error&)> on_err) {
  // The lookup blocks on the coordinator: a helper runs it through the
  // seam and hands the answer back as a response. Linked: it ends with
  // `self`, which then does not wait for a lookup (that may watch for
  // seconds) to stop.
  auto lookup = [env, a, w](caf::event_based_actor* h) -> caf::behavior {
    auto rp = std::make_shared<caf::response_promise>();
    return {
      [=](leader_lookup_atom) -> caf::response_promise {
        *rp = h->make_response_promise();
        auto me = caf::actor_cast<caf::actor>(h);
        env->run_blocking([env, a, w, me] {
          auto ep = locate_master(*env, a, 0, w);
          caf::anon_send(me, leader_found_atom::value, ep ? ep->to_string() : std::string{},
                         ep ? std::string{} : describe(ep.error()));
        });
        return *rp;
      },
      [=](leader_found_atom, const std::string& ep, const std::string& why) {
        if (why.empty())
          rp->deliver(ep);
        else
          rp->deliver(make_error(errc::not_connected, why));
        h->quit();
      },
    };
  };
  auto helper = self->spawn<caf::linked>(lookup);
  auto bound = std::chrono::seconds(15) + w.wait;
  self->request(helper, bound, leader_lookup_atom::value)
    .then(
      [=](const std::string& text) {
        auto ep = parse_endpoint(text);
        if (!ep)
          return on_err(ep.error());
        on_ok(*ep);
      },
      [=](caf::error& err) { on_err(err); });
}

void connect_master_async(caf::event_based_actor* self, std::shared_ptr<runtime_env> env,
                          const master_address& a, size_t attempt,
                          std::function<void(caf::actor)> on_ok,
                          std::function<void(const caf::error&)> on_err) {
  if (!a.coordinator) {
    auto ep = locate_master(*env, a, attempt);
    if (!ep)
      return on_err(ep.error());
    return connect_async(self, *ep, std::move(on_ok), std::move(on_err));
  }
  lookup_leader_async(
    self, env, a, {}, [=](endpoint ep) { connect_async(self, ep, on_ok, on_err); }, on_err);
}

caf::expected<caf::actor> connect_master_blocking(caf::actor_system& sys, const master_address& a) {
  // A coordinator whose members were all slow to answer (an election after
  // losing one) is asked up to three times, each try bounded by the
  // members' timeouts; any other failure is said at once.
  size_t tries = a.coordinator ? 3 : a.masters.size();
  caf::error last;
  for (size_t i = 0; i < tries; ++i) {
    auto ep = locate_master(*real_env(), a, i);
    if (!ep && a.coordinator && is_error(ep.error(), errc::timeout) && i + 1 < tries) {
      last = ep.error();
      continue;
    }
    if (!ep)
      return ep.error();
    auto m = connect_blocking(sys, *ep);
    if (m || a.coordinator)
      return m;
    last = m.error();
  }
  return last;
}

} // namespace caldera
