// Timers and work off the actor for SDK actors (scheduler, executor): a
// callback the actor runs later in its own context, named by a number that a
// `(deferred_atom, id)` message brings back.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include <caf/actor_cast.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/log.hpp"
#include "actors/runtime_env.hpp"

namespace caldera {

using deferred_atom = caf::atom_constant<caf::atom("deferred")>;

/// Callbacks waiting for their `(deferred_atom, id)` message.
class deferred_calls {
public:
  uint64_t add(std::function<void()> f) {
    calls_.emplace(++last_, std::move(f));
    return last_;
  }
  /// Runs (once) the callback of `id`; an unknown id does nothing.
  void run(uint64_t id) {
    auto i = calls_.find(id);
    if (i == calls_.end())
      return;
    auto f = std::move(i->second);
    calls_.erase(i);
    f();
  }

  /// `fn` in `self` after `delay` (the runtime's clock: virtual time in
  /// the simulator).
  void after(caf::event_based_actor* self, caf::timespan delay, std::function<void()> fn) {
    self->delayed_send(self, delay, deferred_atom::value, add(std::move(fn)));
  }

  /// `work()` off the actor (runtime_env::run_blocking: a thread here, a
  /// step of virtual time in the simulator), then `then(result)` in `self`.
  /// `work` must not touch the actor's state. If it throws, the failure is
  /// logged and `then` does not run.
  template <class T>
  void run_blocking(caf::event_based_actor* self, runtime_env& env, std::function<T()> work,
                    std::function<void(T)> then) {
    auto result = std::make_shared<std::optional<T>>();
    auto id = add([result, then = std::move(then)] {
      if (*result)
        then(std::move(**result));
    });
    auto whom = caf::actor_cast<caf::actor>(self);
    env.run_blocking([result, work = std::move(work), whom, id] {
      try {
        *result = work();
      } catch (const std::exception& e) {
        log::warn("blocking_work_failed", {{"reason", e.what()}});
      }
      caf::anon_send(whom, deferred_atom::value, id);
    });
  }

private:
  std::map<uint64_t, std::function<void()>> calls_;
  uint64_t last_ = 0;
};

} // namespace caldera
