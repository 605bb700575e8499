#include "agent/v1_executor.hpp"

#include <httplib.h>

#include "actors/auth.hpp"
#include "actors/base64.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/v1_http.hpp"
#include "actors/v1_json.hpp"

namespace caldera {

using json = nlohmann::json;
using v1::executor_call;
using v1::reply_text;

namespace v1 {

namespace {

void parse_subscribe(const json& call, executor_call& c) {
  auto* sub = object_at(call, "subscribe", "");
  if (sub == nullptr)
    return;
  auto& tasks = array_at(*sub, "unacknowledged_tasks", "subscribe");
  for (size_t i = 0; i < tasks.size(); ++i)
    c.unacknowledged_tasks.push_back(task_info_from_json(
      tasks[i], "subscribe.unacknowledged_tasks[" + std::to_string(i) + "]"));
  auto& updates = array_at(*sub, "unacknowledged_updates", "subscribe");
  for (size_t i = 0; i < updates.size(); ++i) {
    auto w = "subscribe.unacknowledged_updates[" + std::to_string(i) + "]";
    auto* st = object_at(updates[i], "status", w);
    if (st == nullptr)
      throw v1_error("'" + w + ".status' is missing");
    c.unacknowledged_updates.push_back(status_from_json(*st, w + ".status"));
  }
}

} // namespace

executor_call parse_executor_call(const std::string& body) {
  json call;
  try {
    call = json::parse(body);
  } catch (const json::exception& e) {
    throw v1_error(std::string{"Failed to parse body into JSON: "} + e.what());
  }
  if (!call.is_object())
    throw v1_error("Failed to parse body into JSON: expected an object (a Call)");
  executor_call c;
  c.framework_id = id_at(call, "framework_id", "");
  c.executor_id = id_at(call, "executor_id", "");
  if (c.framework_id.empty() || c.executor_id.empty())
    throw v1_error("Expecting 'framework_id' and 'executor_id' to be present");
  auto type = text_at(call, "type", "");
  if (type == "SUBSCRIBE") {
    parse_subscribe(call, c);
  } else if (type == "UPDATE") {
    c.type = executor_call::kind::update;
    auto* u = object_at(call, "update", "");
    auto* st = u != nullptr ? object_at(*u, "status", "update") : nullptr;
    if (st == nullptr)
      throw v1_error("Expecting 'update.status' to be present");
    c.update = status_from_json(*st, "update.status");
  } else if (type == "MESSAGE") {
    c.type = executor_call::kind::message;
    auto* m = object_at(call, "message", "");
    if (m == nullptr)
      throw v1_error("Expecting 'message' to be present");
    c.data = bytes_at(*m, "data", "message");
  } else {
    throw v1_error(type.empty() ? "Expecting 'type' to be present"
                                : "'type' '" + type + "' is not an executor call");
  }
  return c;
}

} // namespace v1

namespace {

using v1exec_gone_atom = caf::atom_constant<caf::atom("v1xgone")>;
using v1exec_start_atom = caf::atom_constant<caf::atom("v1xstart")>;

// One v1 executor's subscription: an SDK executor whose callbacks are
// events on the stream and whose actions are the executor's calls.
class v1_executor final : public executor {
public:
  v1_executor(caf::actor_config& cfg, executor_options opts, std::shared_ptr<http_stream> stream,
              std::shared_ptr<v1_executor_api> api, executor_call sub)
    : executor(cfg, std::move(opts)), stream_(std::move(stream)), api_(std::move(api)),
      sub_(std::move(sub)) {
    for (auto& t : sub_.unacknowledged_tasks)
      adopt_task(t); // the agent's relaunch of these is a duplicate
    v1_executor_api::key k{options().framework_id, options().executor_id};
    attach_functor([stream = stream_, api = api_, k, me = address()] {
      api->remove(k, me);
      stream->finish();
    });
  }

protected:
  void registered(const std::string& agent_id, const std::string& hostname) override {
    auto& o = options();
    emit({{"type", "SUBSCRIBED"},
          {"subscribed",
           {{"executor_info",
             {{"executor_id", v1::id_json(o.executor_id)},
              {"framework_id", v1::id_json(o.framework_id)},
              {"command", json::object()}}},
            {"framework_info",
             {{"id", v1::id_json(o.framework_id)}, {"name", ""}, {"user", ""}}},
            {"agent_info", {{"id", v1::id_json(agent_id)}, {"hostname", hostname}}},
            {"container_id", v1::id_json(o.framework_id + "/" + o.executor_id)}}}});
    for (auto& u : sub_.unacknowledged_updates)
      send_update(u); // kept by the executor across its stream's end
    sub_.unacknowledged_updates.clear();
  }
  void reregistered(const std::string&) override {}
  // The agent is in this process: its end is the stream's.
  void disconnected() override { end(); }
  void launch_task(const task_info& t) override {
    emit({{"type", "LAUNCH"}, {"launch", {{"task", v1::task_json(t)}}}});
  }
  void kill_task(const std::string& task_id) override {
    emit({{"type", "KILL"}, {"kill", {{"task_id", v1::id_json(task_id)}}}});
  }
  void framework_message(const std::string& data) override {
    emit({{"type", "MESSAGE"}, {"message", {{"data", base64_encode(data)}}}});
  }
  // The executor ends by itself (its process; the agent destroys the
  // container after the grace period otherwise).
  void shutdown() override { emit({{"type", "SHUTDOWN"}}); }
  void error(const std::string& message) override {
    emit({{"type", "ERROR"}, {"error", {{"message", message}}}});
  }
  void acknowledged(const std::string& task_id, const std::string& uuid) override {
    auto bytes = v1::from_hex(uuid).value_or(uuid);
    emit({{"type", "ACKNOWLEDGED"},
          {"acknowledged",
           {{"task_id", v1::id_json(task_id)}, {"uuid", base64_encode(bytes)}}}});
  }
  caf::message_handler extra_handlers() override {
    return {
      [this](const v1_executor_call_ptr& c) { apply(*c); },
      [this](v1exec_gone_atom) { end(); },
      [](v1exec_start_atom) {}, // a lazily started actor's first message
    };
  }

private:
  void emit(const json& event) {
    if (!stream_->write(v1::recordio(event)))
      end();
  }
  void end() {
    log::info("v1_executor_unsubscribed", {{"framework_id", options().framework_id},
                                           {"executor_id", options().executor_id}});
    quit();
  }
  void apply(const executor_call& c) {
    if (c.type == executor_call::kind::update)
      send_update(c.update);
    else if (c.type == executor_call::kind::message)
      send_message(c.data);
  }

  std::shared_ptr<http_stream> stream_;
  std::shared_ptr<v1_executor_api> api_;
  executor_call sub_;
};

std::string bearer_token(const httplib::Request& req) {
  auto h = req.get_header_value("Authorization");
  const std::string bearer = "Bearer ";
  return h.compare(0, bearer.size(), bearer) == 0 ? h.substr(bearer.size()) : std::string{};
}

void subscribe(const std::shared_ptr<v1_executor_api>& api, const caf::actor& agent,
               const httplib::Request& req, httplib::Response& res, executor_call c) {
  v1_executor_api::key k{c.framework_id, c.executor_id};
  auto token = bearer_token(req);
  // Every executor the agent starts as a process has a token; one without
  // is not an executor this agent launched.
  if (token.empty())
    return reply_text(res, 401, "an executor subscribes bearing its token (Authorization: "
                                "Bearer $MESOS_EXECUTOR_AUTHENTICATION_TOKEN)");
  if (auto old = api->find(k); old && !constant_time_equal(old->token, token))
    return reply_text(res, 401, "executor " + c.executor_id + " is subscribed: a new "
                                "subscription must bear its token (Authorization: Bearer)");
  executor_options opts;
  opts.agent = agent;
  opts.framework_id = c.framework_id;
  opts.executor_id = c.executor_id;
  opts.token = token; // the agent checks it as a CAF executor's
  opts.runtime = api->runtime();
  opts.node_name = "agent";
  auto stream = http_stream_reply(res, v1::wants_recordio(req) ? "application/recordio"
                                                               : "application/json",
                                  api->max_buffered);
  if (v1::wants_recordio(req))
    res.set_header("Message-Content-Type", "application/json");
  auto proxy = api->system().spawn<v1_executor, caf::lazy_init>(std::move(opts), stream, api,
                                                                std::move(c));
  if (auto old = api->replace(k, {proxy, token}))
    caf::anon_send(old->proxy, v1exec_gone_atom::value);
  stream->on_close([proxy] { caf::anon_send(proxy, v1exec_gone_atom::value); });
  caf::anon_send(proxy, v1exec_start_atom::value);
  metrics::message_received("v1_executor_subscribe");
  log::info("v1_executor_subscribed", {{"framework_id", k.first}, {"executor_id", k.second}});
}

void executor_endpoint(const std::shared_ptr<v1_executor_api>& api,
                       const httplib::Request& req, httplib::Response& res) {
  if (!v1::check_media(req, res))
    return;
  executor_call c;
  try {
    c = v1::parse_executor_call(req.body);
  } catch (const v1::v1_error& e) {
    metrics::refused("v1_bad_call");
    return reply_text(res, 400, std::string{"Failed to validate executor::Call: "} + e.what());
  }
  auto agent = api->agent();
  if (!agent)
    return reply_text(res, 503, "the agent is starting");
  if (c.type == executor_call::kind::subscribe)
    return subscribe(api, agent, req, res, std::move(c));
  auto sub = api->find({c.framework_id, c.executor_id});
  if (!sub)
    return reply_text(res, 403, "executor " + c.executor_id + " of framework " + c.framework_id
                                  + " is not subscribed");
  if (!constant_time_equal(sub->token, bearer_token(req)))
    return reply_text(res, 401, "the call does not bear the executor's token "
                                "(Authorization: Bearer $MESOS_EXECUTOR_AUTHENTICATION_TOKEN)");
  metrics::message_received("v1_executor_call");
  caf::anon_send(sub->proxy, std::make_shared<const executor_call>(std::move(c)));
  res.status = 202;
}

} // namespace

void v1_executor_api::set_agent(caf::actor a) {
  std::lock_guard<std::mutex> g{m_};
  agent_ = std::move(a);
}

caf::actor v1_executor_api::agent() const {
  std::lock_guard<std::mutex> g{m_};
  return agent_;
}

std::optional<v1_executor_api::entry> v1_executor_api::replace(const key& k, entry e) {
  std::lock_guard<std::mutex> g{m_};
  std::optional<entry> old;
  if (auto i = subs_.find(k); i != subs_.end())
    old = i->second;
  subs_[k] = std::move(e);
  return old;
}

void v1_executor_api::remove(const key& k, const caf::actor_addr& proxy) {
  std::lock_guard<std::mutex> g{m_};
  if (auto i = subs_.find(k); i != subs_.end() && i->second.proxy.address() == proxy)
    subs_.erase(i);
}

std::optional<v1_executor_api::entry> v1_executor_api::find(const key& k) const {
  std::lock_guard<std::mutex> g{m_};
  if (auto i = subs_.find(k); i != subs_.end())
    return i->second;
  return std::nullopt;
}

void add_v1_executor_routes(http_router& r, std::shared_ptr<v1_executor_api> api) {
  r.Post("/api/v1/executor", [api](const httplib::Request& req, httplib::Response& res) {
    executor_endpoint(api, req, res);
  });
}

} // namespace caldera
