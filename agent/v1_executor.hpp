// Mesos' v1 Executor HTTP API on the agent (POST /api/v1/executor): an
// executor in any language, launched by the agent with Mesos' environment
// (MESOS_AGENT_ENDPOINT names this API, MESOS_EXECUTOR_AUTHENTICATION_TOKEN
// its bearer token), subscribes and gets a RecordIO stream of JSON events.
//
// One executor model: each subscription is a `v1_executor` actor in the
// agent process, a subclass of the SDK's executor, that registers with the
// agent with the executor's token as a CAF executor would; the agent cannot
// tell them apart. Updates stay reliable end to end: the actor keeps an
// update until the agent acknowledges it (then ACKNOWLEDGED goes to the
// executor), and an executor that re-subscribes (its stream ended, or the
// agent restarted) brings its unacknowledged updates and tasks along.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/executor.hpp"
#include "actors/http.hpp"
#include "actors/runtime_env.hpp"

namespace caldera {

namespace v1 {

/// A call of the v1 Executor API, parsed and validated (throws v1_error).
struct executor_call {
  enum class kind { subscribe, update, message };
  kind type = kind::subscribe;
  std::string framework_id, executor_id;
  std::vector<task_info> unacknowledged_tasks; // SUBSCRIBE
  std::vector<status_info> unacknowledged_updates;
  status_info update; // UPDATE
  std::string data;   // MESSAGE
};

executor_call parse_executor_call(const std::string& body);

} // namespace v1

/// What the v1 Executor API needs from the agent's process. `agent` is set
/// once the agent actor runs (calls before answer 503).
class v1_executor_api {
public:
  v1_executor_api(caf::actor_system& sys, std::shared_ptr<runtime_env> runtime)
    : sys_(sys), runtime_(std::move(runtime)) {}

  void set_agent(caf::actor a);
  caf::actor agent() const;
  caf::actor_system& system() { return sys_; }
  const std::shared_ptr<runtime_env>& runtime() const { return runtime_; }

  struct entry {
    caf::actor proxy;
    std::string token;
  };
  using key = std::pair<std::string, std::string>; // framework, executor
  /// The subscription of `k` is now `e`; returns the one it replaces.
  std::optional<entry> replace(const key& k, entry e);
  /// Forgets `k`'s subscription if it is still `proxy`'s.
  void remove(const key& k, const caf::actor_addr& proxy);
  std::optional<entry> find(const key& k) const;

  size_t max_buffered = 1 << 20;

private:
  caf::actor_system& sys_;
  std::shared_ptr<runtime_env> runtime_;
  mutable std::mutex m_;
  caf::actor agent_;
  std::map<key, entry> subs_;
};

/// Adds POST /api/v1/executor.
void add_v1_executor_routes(http_router& r, std::shared_ptr<v1_executor_api> api);

using v1_executor_call_ptr = std::shared_ptr<const v1::executor_call>;

} // namespace caldera

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caldera::v1_executor_call_ptr)
