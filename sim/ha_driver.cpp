#include "sim/ha_driver.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/types.hpp"

namespace caldera::sim {

namespace {

struct driver_state {
  std::shared_ptr<master_ha> ha;
  ha_hooks hooks;
  std::chrono::milliseconds poll{250};
  std::chrono::seconds ttl{2};
  static inline const char* name = "ha_driver";
};

using driver_actor = caf::stateful_actor<driver_state>;

void end(driver_actor* self, const std::string& why) {
  auto hooks = self->state.hooks;
  self->quit();
  hooks.ended(why);
}

// The next look: a standby's poll, a leader's renewal (every TTL/3, and
// not after its lease stops counting).
void schedule(driver_actor* self) {
  auto& st = self->state;
  caf::timespan next = st.poll;
  if (st.ha->leading()) {
    auto every = std::chrono::duration_cast<caf::timespan>(st.ttl) / 3;
    auto left = std::chrono::duration_cast<caf::timespan>(st.ha->time_left());
    next = std::max<caf::timespan>(std::chrono::milliseconds(1), std::min(every, left));
  }
  self->delayed_send(self, next, tick_atom::value);
}

void standby_tick(driver_actor* self) {
  auto& st = self->state;
  auto won = st.ha->stand_by();
  if (!won) {
    end(self, describe(won.error()));
    return;
  }
  if (*won)
    if (auto err = st.hooks.elected()) {
      end(self, "cannot start as leader: " + describe(err));
      return;
    }
  schedule(self);
}

void leader_tick(driver_actor* self) {
  std::string why;
  if (!self->state.ha->renew(why)) {
    log::error("leadership_lost", {{"reason", why}, {"action", "exiting"}});
    end(self, why);
    return;
  }
  schedule(self);
}

caf::behavior driver(driver_actor* self, std::shared_ptr<master_ha> ha, ha_hooks hooks,
                     std::chrono::milliseconds poll, std::chrono::seconds ttl) {
  auto& st = self->state;
  st.ha = std::move(ha);
  st.hooks = std::move(hooks);
  st.poll = poll;
  st.ttl = ttl;
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      if (self->state.ha->leading())
        leader_tick(self);
      else
        standby_tick(self);
    },
  };
}

} // namespace

caf::actor spawn_ha_driver(caf::actor_system& sys, std::shared_ptr<master_ha> ha, ha_hooks hooks,
                           std::chrono::milliseconds poll, std::chrono::seconds ttl) {
  return sys.spawn(driver, std::move(ha), std::move(hooks), poll, ttl);
}

} // namespace caldera::sim
