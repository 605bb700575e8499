#include "actors/wire_guard.hpp"

#include <sys/socket.h>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/scribe_impl.hpp>

#include "actors/log.hpp"
#include "actors/node.hpp"

namespace caldera {

namespace {

using caf::io::network::native_socket;
using caf::io::receive_policy;
using sweep_atom = caf::atom_constant<caf::atom("wiresweep")>;

// A scribe that refuses frames over its limit before anything is allocated
// for them (BASP asks for each frame's exact length through configure_read).
class guarded_scribe : public caf::io::network::scribe_impl {
public:
  guarded_scribe(guarded_multiplexer& mx, native_socket fd)
    : scribe_impl(mx, fd), guard_(mx, fd) {
  }

  void configure_read(receive_policy::config cfg) override {
    scribe_impl::configure_read(guard_.check(cfg, addr() + ":" + std::to_string(port())));
  }

  bool consume(caf::execution_unit* ctx, const void* buf, size_t n) override {
    guard_.consumed();
    return scribe_impl::consume(ctx, buf, n);
  }

private:
  frame_guard guard_;
};

wire_limits limits_from(caf::actor_system* sys) {
  if (auto* cfg = dynamic_cast<const node_config*>(&sys->config()))
    return cfg->wire;
  return {};
}

} // namespace

frame_guard::frame_guard(guarded_multiplexer& mx, native_socket fd) : mx_(mx), fd_(fd) {
  mx_.handshaking(this, fd);
}

frame_guard::~frame_guard() {
  mx_.handshake_done(this);
}

receive_policy::config frame_guard::check(receive_policy::config cfg, const std::string& peer) {
  auto limit = frames_ < 2 ? mx_.limits().max_handshake : mx_.limits().max_message;
  if (cfg.second <= limit)
    return cfg;
  log::warn("peer_message_too_large", {{"peer", peer},
                                       {"bytes", static_cast<uint64_t>(cfg.second)},
                                       {"limit", static_cast<uint64_t>(limit)},
                                       {"handshake_done", frames_ >= 2}});
  mx_.refused_large();
  ::shutdown(fd_, SHUT_RDWR);
  return receive_policy::at_most(1);
}

void frame_guard::consumed() {
  if (++frames_ == 2)
    mx_.handshake_done(this);
}

guarded_multiplexer::guarded_multiplexer(caf::actor_system* sys)
  : default_multiplexer(sys), limits_(limits_from(sys)) {
}

caf::io::scribe_ptr guarded_multiplexer::new_scribe(native_socket fd) {
  return caf::make_counted<guarded_scribe>(*this, fd);
}

void guarded_multiplexer::handshaking(const void* key, native_socket fd) {
  std::lock_guard<std::mutex> g{mtx_};
  pending_[key] = pending{fd, std::chrono::steady_clock::now()};
}

void guarded_multiplexer::handshake_done(const void* key) {
  std::lock_guard<std::mutex> g{mtx_};
  pending_.erase(key);
}

void guarded_multiplexer::refused_large() {
  std::lock_guard<std::mutex> g{mtx_};
  ++counts_.refused_large;
}

wire_counts guarded_multiplexer::counts() const {
  std::lock_guard<std::mutex> g{mtx_};
  return counts_;
}

// A socket shut down here is still the scribe's (it closes it when it goes,
// after leaving `pending_` under the same lock): CAF reads its end and
// closes the connection on the multiplexer's thread.
void guarded_multiplexer::sweep() {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> g{mtx_};
  for (auto i = pending_.begin(); i != pending_.end();) {
    if (now - i->second.since < limits_.handshake_timeout) {
      ++i;
      continue;
    }
    log::warn("peer_handshake_timeout", {{"fd", static_cast<int64_t>(i->second.fd)}});
    ::shutdown(i->second.fd, SHUT_RDWR);
    ++counts_.handshake_timeouts;
    i = pending_.erase(i);
  }
}

guarded_multiplexer* wire_guard_of(caf::actor_system& sys) {
  if (!sys.has_middleman())
    return nullptr;
  return dynamic_cast<guarded_multiplexer*>(&sys.middleman().backend());
}

void start_wire_watchdog(caf::actor_system& sys) {
  auto* mx = wire_guard_of(sys);
  if (mx == nullptr || mx->watchdog_started.exchange(true))
    return;
  // The multiplexer lives until the actor system is gone, after its
  // scheduler (which runs this actor) stopped.
  sys.spawn<caf::hidden>([mx](caf::event_based_actor* self) -> caf::behavior {
    self->send(self, sweep_atom::value);
    return {[=](sweep_atom) {
      mx->sweep();
      self->delayed_send(self, std::chrono::seconds(1), sweep_atom::value);
    }};
  });
}

} // namespace caldera
