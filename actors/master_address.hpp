// Where agents, schedulers (the SDK), the CLI and the sample frameworks find
// the master: one HOST:PORT (the default), a list of masters
// (HOST:PORT,HOST:PORT: tried in turn, standbys publish no actor port), or
// the coordinator of standby masters (etcd://HOST:PORT[,...]/PREFIX: the
// leader it names). Each (re)connection finds the master afresh, so a node
// follows a new leader by itself.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include "actors/coordinator.hpp"
#include "actors/node.hpp"

namespace caldera {

class runtime_env;

struct master_address {
  std::vector<endpoint> masters;
  std::optional<coordinator_url> coordinator;

  master_address() = default;
  master_address(endpoint ep) : masters{std::move(ep)} {} // NOLINT: one master
  std::string to_string() const;
};

/// Parses HOST:PORT, HOST:PORT,HOST:PORT... or etcd://...; fails naming
/// what is wrong.
caf::expected<master_address> parse_master_address(std::string_view text);

/// How long a lookup through the coordinator may wait for a new leader:
/// one whose epoch is not `not_epoch` ends the wait at once; after `wait`,
/// whoever leads is the answer (0: no wait).
struct leader_wait {
  int64_t not_epoch = 0;
  std::chrono::milliseconds wait{0};
};

/// The endpoint to try on attempt `attempt` (0, 1, ...): the coordinator's
/// leader (blocks on it: through runtime_env::run_blocking or a tool's
/// main), or the list's entry in turn.
caf::expected<endpoint> locate_master(runtime_env& env, const master_address& a, size_t attempt,
                                      leader_wait w = {});

/// Looks up the coordinator's leader away from `self` (blocking through the
/// runtime's seam); calls `on_ok` or `on_err` in `self`'s context.
void lookup_leader_async(caf::event_based_actor* self, std::shared_ptr<runtime_env> env,
                         const master_address& a, leader_wait w,
                         std::function<void(endpoint)> on_ok,
                         std::function<void(const caf::error&)> on_err);

/// Locates (away from `self`) and connects; calls `on_ok` or `on_err` in
/// `self`'s context.
void connect_master_async(caf::event_based_actor* self, std::shared_ptr<runtime_env> env,
                          const master_address& a, size_t attempt,
                          std::function<void(caf::actor)> on_ok,
                          std::function<void(const caf::error&)> on_err);

/// For command-line tools: locates and connects, trying each master of a
/// list once.
caf::expected<caf::actor> connect_master_blocking(caf::actor_system& sys, const master_address& a);

} // namespace caldera
