// The master's HTTP API: Mesos v0 operator endpoints (same paths, same field
// names where the concept is the same), Prometheus metrics and the web UI.
//
// Reads never stall scheduling: the master actor publishes an immutable
// snapshot (its State and Roles messages) into a `state_box` at most every
// `publish_interval` when something changed; HTTP threads serve from the
// latest snapshot and never touch the master's mailbox. /master/state is
// rendered once per snapshot by the box's thread (see master/state_render).
#pragma once

#include "master/registrar.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "actors/coordinator.hpp"
#include "actors/http.hpp"
#include "actors/types.hpp"
#include "master/v1_scheduler.hpp"

namespace caldera {

class v1_operator_hub;

struct published_state {
  state_msg state;
  roles_msg roles;
  uint64_t version = 0;
  double built_at = 0;
  // What the master counted when it built the snapshot (for its log line).
  size_t active_tasks = 0, completed_tasks = 0, agents = 0;
  // /master/state, rendered by the box's thread before the snapshot is
  // visible (null without an HTTP server).
  std::shared_ptr<const std::string> state_json;
  // The same, gzip-compressed: made by the first reader that accepts gzip.
  mutable std::once_flag gzip_once;
  mutable std::shared_ptr<const std::string> state_gzip;
};

/// Where the master puts its snapshots and HTTP threads take them. With a
/// preparer (the HTTP API sets one) a snapshot becomes visible only once its
/// /master/state is rendered, on the box's own thread: neither the master
/// nor a reader ever waits for a render, and a snapshot published while
/// one renders supersedes any older one still waiting.
class state_box {
public:
  using prepare_fn = std::function<void(const std::shared_ptr<published_state>&)>;
  state_box() = default;
  ~state_box();
  state_box(const state_box&) = delete;
  state_box& operator=(const state_box&) = delete;

  /// From the master: the newest snapshot.
  void publish(std::shared_ptr<published_state> p);
  /// The newest visible snapshot (null before the first).
  std::shared_ptr<const published_state> get() const;
  /// Starts the render thread; snapshots published from now on go through
  /// `prepare` first. Call once, before the snapshots matter.
  void set_preparer(prepare_fn prepare);

private:
  void loop();
  void visible(std::shared_ptr<published_state> p); // with mtx_ held

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::shared_ptr<const published_state> p_;
  std::shared_ptr<published_state> pending_;
  prepare_fn prepare_;
  bool stop_ = false;
  std::thread thread_;
};

/// What the API says about the master besides the snapshot.
struct master_http_info {
  std::string hostname;
  std::string pid;        // "master@ip:port" (its actor endpoint)
  std::map<std::string, std::string> flags;
  size_t max_completed_frameworks = 50;
  size_t max_completed_tasks_per_framework = 1000;
  /// The registry's last write (null: not known): /master/health answers
  /// 503 with the reason while it fails.
  std::shared_ptr<const registry_health> registry;
  /// HTTPS, Basic authentication, what each principal sees.
  http_security security;
  /// What slow or idle clients may hold.
  http_limits limits;
  /// With standby masters (--etcd): this leader's record (epoch, elected
  /// time) and the coordinator.
  std::optional<leader_record> leader;
  std::string coordinator;
  /// The v1 Scheduler HTTP API (null: not served).
  std::shared_ptr<v1_scheduler_api> v1;
  /// The v1 Operator API's SUBSCRIBE streams (null: no POST /api/v1).
  std::shared_ptr<v1_operator_hub> v1_operator;
};

/// Filters a state endpoint's reply by the view ACLs for the request's
/// principal (view_frameworks, view_tasks).
void restrict_view(const state_box& box, const http_security& sec, const httplib::Request& req,
                   httplib::Response& res);

/// Serves the API on ip:port (0: any) from `box`. Returns the server (stop
/// it, or let it go, before the box) and its port through `port_out`.
caf::expected<std::unique_ptr<http_server>>
start_master_http(const std::string& ip, uint16_t port, std::shared_ptr<state_box> box,
                  master_http_info info, uint16_t& port_out);

} // namespace caldera
