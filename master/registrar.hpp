// The registrar: the actor that owns the registry store and applies the
// master's registry changes. The master sends a `registry_store::batch` and
// gets `true` once the change is durable (synced), or an error. Changes that
// arrive together are applied in one WriteBatch: the first pending change
// schedules a flush behind whatever is already in the mailbox.
#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "storage/registry_store.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::registry_store::batch)

namespace caldera {

/// Spawns the registrar over `store` (it takes ownership).
caf::actor spawn_registrar(caf::actor_system& sys,
                           std::unique_ptr<registry_store> store);

} // namespace caldera
