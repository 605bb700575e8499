// How caldera-master's main runs master_ha (master/ha.hpp): as a standby
// until elected (its HTTP API redirects to the leader, or answers 503 while
// none leads), then as the leader renewing its lease until stopped or
// deposed (exit status 4).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "actors/coordinator.hpp"
#include "actors/http.hpp"
#include "master/ha.hpp"

namespace caldera {

/// Who leads, as a standby last saw it (read by its HTTP threads).
class standby_view {
public:
  void set(std::optional<leader_record> l) {
    std::lock_guard<std::mutex> g{mtx_};
    leader_ = std::move(l);
  }
  std::optional<leader_record> get() const {
    std::lock_guard<std::mutex> g{mtx_};
    return leader_;
  }

private:
  mutable std::mutex mtx_;
  std::optional<leader_record> leader_;
};

/// A standby's HTTP API: /health, /metrics (caldera_master_elected 0),
/// /master/leader (who leads, JSON); every other path 307 to the same path
/// on the leader's HTTP endpoint, or 503 when none is known.
caf::expected<std::unique_ptr<http_server>>
start_standby_http(const std::string& ip, uint16_t port, std::shared_ptr<standby_view> view,
                   const std::string& coordinator, http_security sec, http_limits lim,
                   uint16_t& port_out);

/// Campaigns every `poll` until elected (true) or SIGINT/SIGTERM (false,
/// the lease given up); keeps `view` current and logs each change of
/// leader. Errors: the coordinator lost for good (the lease could not be
/// taken again).
caf::expected<bool> wait_until_elected(master_ha& ha, standby_view& view,
                                       std::chrono::milliseconds poll);

/// Renews the lease now and every TTL/3 (and at master_ha::valid_until)
/// until SIGINT/SIGTERM (returns the signal, the lease given up) or
/// leadership is lost (logs `leadership_lost` and ends the process with
/// status 4 at once: nothing more is done as leader). A SIGALRM watchdog
/// ends it at valid_until even while a renewal blocks.
int lead_until_stopped(master_ha& ha, std::chrono::seconds ttl);

/// Logs `leadership_lost` with `why` and ends the process (status 4).
[[noreturn]] void leadership_lost(const std::string& why);

} // namespace caldera
