// The agent's HTTP API: /state (frameworks -> executors with their sandbox
// `directory`, tasks and completed tasks), /health, /metrics,
// /monitor/statistics (Mesos' ResourceStatistics names, per executor) and
// /files/browse, /files/read over its sandboxes only.
//
// The agent actor publishes its view into an `agent_box`; HTTP threads read
// that and the file system, never the actor.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "agent/v1_executor.hpp"
#include "actors/http.hpp"
#include "agent/containerizer.hpp"

namespace caldera {

class v1_agent_hub;

struct agent_view {
  struct executor {
    std::string framework_id;
    std::string executor_id;
    std::string directory;
    std::string container_id; // posix: the session leader's pid
    double cpus_limit = 0;
    double mem_limit_mib = 0;
    double disk_limit_mib = 0;
  };
  std::string state_json;          // rendered /state
  std::vector<executor> executors; // running ones
  size_t pending_updates = 0;      // status updates not acknowledged yet
  std::string unhealthy;           // why it takes no tasks ("" : healthy)
};

class agent_box {
public:
  void publish(std::shared_ptr<const agent_view> v) {
    std::function<void(const std::shared_ptr<const agent_view>&)> listener;
    {
      std::lock_guard<std::mutex> g{mtx_};
      v_ = v;
      listener = listener_;
    }
    if (listener)
      listener(v);
  }
  /// Also called with each view published (the v1 operator streams).
  void set_listener(std::function<void(const std::shared_ptr<const agent_view>&)> l) {
    std::lock_guard<std::mutex> g{mtx_};
    listener_ = std::move(l);
  }
  std::shared_ptr<const agent_view> get() const {
    std::lock_guard<std::mutex> g{mtx_};
    return v_;
  }

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const agent_view> v_;
  std::function<void(const std::shared_ptr<const agent_view>&)> listener_;
};

/// Serves the agent's API; `sandbox_root` bounds /files (absolute).
caf::expected<std::unique_ptr<http_server>>
start_agent_http(const std::string& ip, uint16_t port, std::shared_ptr<agent_box> box,
                 std::string sandbox_root, uint16_t& port_out,
                 std::shared_ptr<containerizer> containers = {}, http_security sec = {},
                 http_limits limits = {}, std::shared_ptr<v1_executor_api> v1 = {},
                 std::map<std::string, std::string> flags = {},
                 std::shared_ptr<v1_agent_hub> hub = {});

} // namespace caldera
