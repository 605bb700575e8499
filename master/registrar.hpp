// The registrar: the actor that owns the registry store and applies the
// master's registry changes. The master sends a `registry_store::batch` and
// gets `(written_atom, error)` back once the change is durable (synced; a
// default error) or failed: one answer per batch, in the order the batches
// came. Changes that arrive together are applied in one WriteBatch: the
// first pending change schedules a flush behind whatever is already in the
// mailbox.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "storage/registry_store.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::registry_store::batch)

namespace caldera {

using written_atom = caf::atom_constant<caf::atom("written")>;

/// Whether the last registry write succeeded, and why not: written by the
/// registrar after each write, read by /master/health (any thread).
class registry_health {
public:
  void set(bool ok, std::string reason) {
    std::lock_guard<std::mutex> g{mtx_};
    ok_ = ok;
    reason_ = std::move(reason);
  }
  std::pair<bool, std::string> get() const {
    std::lock_guard<std::mutex> g{mtx_};
    return {ok_, reason_};
  }

private:
  mutable std::mutex mtx_;
  bool ok_ = true;
  std::string reason_;
};

/// Spawns the registrar over `store` (it takes ownership); it reports each
/// write's outcome to `health` when given.
caf::actor spawn_registrar(caf::actor_system& sys, std::unique_ptr<registry_store> store,
                           std::shared_ptr<registry_health> health = nullptr);

} // namespace caldera
