#include "master/registrar.hpp"

#include <chrono>

#include "actors/metrics_export.hpp"

#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"

namespace caldera {

namespace {

struct registrar_state {
  std::unique_ptr<registry_store> store;
  std::shared_ptr<registry_health> health;
  registry_store::batch pending;
  std::vector<caf::actor> waiting; // who sent each pending batch
  bool flush_scheduled = false;
  uint64_t writes = 0;
  static inline const char* name = "registrar";
};

caf::behavior registrar(caf::stateful_actor<registrar_state>* self,
                        std::shared_ptr<std::unique_ptr<registry_store>> store,
                        std::shared_ptr<registry_health> health) {
  self->state.store = std::move(*store);
  self->state.health = std::move(health);
  return {
    [=](const registry_store::batch& b) {
      auto& st = self->state;
      st.pending.append(b);
      st.waiting.push_back(caf::actor_cast<caf::actor>(self->current_sender()));
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
    },
    [=](flush_atom) {
      auto& st = self->state;
      st.flush_scheduled = false;
      auto batch = std::move(st.pending);
      st.pending = registry_store::batch{};
      auto waiting = std::move(st.waiting);
      st.waiting.clear();
      auto t0 = self->clock().now(); // virtual in the simulator
      auto err = st.store->apply(batch);
      metrics::observe_registry_write(
        std::chrono::duration<double>(self->clock().now() - t0).count());
      ++st.writes;
      if (st.health)
        st.health->set(!err, err ? describe(err) : std::string{});
      if (err) {
        log::error("registry_write_failed", {{"reason", describe(err)},
                                             {"ops", batch.size()}});
        for (auto& w : waiting)
          self->send(w, written_atom::value, err);
        return;
      }
      log::debug("registry_write", {{"ops", batch.size()},
                                    {"requests", waiting.size()}});
      for (auto& w : waiting)
        self->send(w, written_atom::value, caf::error{});
    },
  };
}

} // namespace

caf::actor spawn_registrar(caf::actor_system& sys, std::unique_ptr<registry_store> store,
                           std::shared_ptr<registry_health> health) {
  auto holder = std::make_shared<std::unique_ptr<registry_store>>(std::move(store));
  return sys.spawn(registrar, holder, std::move(health));
}

} // namespace caldera
