// Mesos' v1 Scheduler HTTP API on the master (POST /api/v1/scheduler): a
// framework in any language subscribes and gets a RecordIO stream of JSON
// events; its other calls are answered 202 and go the same way.
//
// One framework model: each subscription is a `v1_framework` actor in the
// master process, a subclass of the SDK's scheduler, so the master sees an
// ordinary framework (one set of rules, one allocator entry, one /state
// shape). The actor turns the master's messages into events on the stream
// and the client's calls into the SDK's actions. The stream's end (the
// client went, or fell `max_buffered` behind) is the scheduler's end: the
// framework is disconnected and the master keeps its tasks for its
// failover_timeout; a SUBSCRIBE with its framework id takes them over.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <nlohmann/json.hpp>

#include "actors/http.hpp"
#include "actors/runtime_env.hpp"
#include "master/v1_calls.hpp"

namespace caldera {

/// The subscriptions by Mesos-Stream-Id (HTTP threads read, actors write).
class v1_subscriptions {
public:
  struct entry {
    caf::actor proxy;
    std::string framework_id; // "" until the master registered it
    std::string principal;    // who subscribed ("" without Basic credentials)
  };
  void add(const std::string& stream_id, entry e);
  void bind(const std::string& stream_id, const std::string& framework_id);
  void remove(const std::string& stream_id);
  std::optional<entry> find(const std::string& stream_id) const;
  size_t size() const;

private:
  mutable std::mutex m_;
  std::map<std::string, entry> by_stream_;
};

/// What the v1 scheduler API needs from the master's process.
struct v1_scheduler_api {
  caf::actor_system* sys = nullptr;
  caf::actor master;
  std::shared_ptr<runtime_env> runtime;
  http_security security;
  /// HEARTBEAT events every so often (Mesos: 15 s).
  caf::timespan heartbeat = std::chrono::seconds(15);
  /// How far a subscriber may fall behind before its stream is closed.
  size_t max_buffered = 4 << 20;
  /// SUBSCRIBED's master_info.
  nlohmann::json master_info;
  v1_subscriptions subs;
};

/// Adds POST /api/v1/scheduler.
void add_v1_scheduler_routes(http_router& r, std::shared_ptr<v1_scheduler_api> api);

/// A call for a subscription's actor.
using v1_call_ptr = std::shared_ptr<const v1::scheduler_call>;

} // namespace caldera

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::v1_call_ptr)
