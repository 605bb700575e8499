// The master's HTTP API: Mesos v0 operator endpoints (same paths, same field
// names where the concept is the same), Prometheus metrics and the web UI.
//
// Reads never stall scheduling: the master actor publishes an immutable
// snapshot (its State and Roles messages) into a `state_box` at most every
// `publish_interval` when something changed; HTTP threads serve from the
// latest snapshot and never touch the master's mailbox. The JSON of
// /master/state is rendered once per snapshot, by the first reader.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "actors/http.hpp"
#include "actors/types.hpp"

namespace caldera {

struct published_state {
  state_msg state;
  roles_msg roles;
  uint64_t version = 0;
  double built_at = 0;
  // Rendered lazily, once.
  mutable std::once_flag once;
  mutable std::string state_json;
};

class state_box {
public:
  void publish(std::shared_ptr<const published_state> p) {
    std::lock_guard<std::mutex> g{mtx_};
    p_ = std::move(p);
  }
  std::shared_ptr<const published_state> get() const {
    std::lock_guard<std::mutex> g{mtx_};
    return p_;
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const published_state> p_;
};

/// What the API says about the master besides the snapshot.
struct master_http_info {
  std::string hostname;
  std::string pid;        // "master@ip:port" (its actor endpoint)
  std::map<std::string, std::string> flags;
  size_t max_completed_frameworks = 50;
  size_t max_completed_tasks_per_framework = 1000;
};

/// /master/state of a snapshot (Mesos v0 shape).
nlohmann::json master_state_json(const published_state& p, const master_http_info& info);

/// Serves the API on ip:port (0: any) from `box`. Returns the server (stop
/// it, or let it go, before the box) and its port through `port_out`.
caf::expected<std::unique_ptr<http_server>>
start_master_http(const std::string& ip, uint16_t port, std::shared_ptr<state_box> box,
                  master_http_info info, uint16_t& port_out);

} // namespace caldera
