#include "actors/peer.hpp"

#include <map>
#include <mutex>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

#include "actors/error.hpp"
#include "actors/node.hpp"

namespace caldera {

namespace {

struct directory {
  std::mutex mtx;
  std::map<std::string, caf::actor_addr> actors;
  uint64_t next = 0;
};

directory& dir() {
  static directory d;
  return d;
}

} // namespace

caf::expected<std::string> advertise(caf::actor_system& sys, const caf::actor& whom,
                                     const std::string& host, bool in_process) {
  if (!whom)
    return make_error(errc::invalid_message, "nothing to advertise");
  if (in_process) {
    auto& d = dir();
    std::string name;
    {
      std::lock_guard<std::mutex> g{d.mtx};
      name = "local:" + std::to_string(++d.next);
      d.actors[name] = whom.address();
    }
    whom->attach_functor([name] {
      auto& d = dir();
      std::lock_guard<std::mutex> g{d.mtx};
      d.actors.erase(name);
    });
    return name;
  }
  auto port = publish(sys, whom, 0, host);
  if (!port)
    return port.error();
  return "tcp:" + host + ":" + std::to_string(*port);
}

void resolve(caf::event_based_actor* self, const std::string& address,
             std::function<void(caf::actor)> on_ok,
             std::function<void(const caf::error&)> on_err) {
  if (address.rfind("local:", 0) == 0) {
    caf::actor a;
    {
      auto& d = dir();
      std::lock_guard<std::mutex> g{d.mtx};
      if (auto i = d.actors.find(address); i != d.actors.end())
        a = caf::actor_cast<caf::actor>(i->second);
    }
    if (a)
      on_ok(std::move(a));
    else
      on_err(make_error(errc::not_connected, "no actor at '" + address + "'"));
    return;
  }
  if (address.rfind("tcp:", 0) != 0) {
    on_err(make_error(errc::invalid_message, "not an address: '" + address + "'"));
    return;
  }
  auto ep = parse_endpoint(address.substr(4));
  if (!ep) {
    on_err(ep.error());
    return;
  }
  connect_async(self, *ep, std::move(on_ok), std::move(on_err));
}

} // namespace caldera
