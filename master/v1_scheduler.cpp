#include "master/v1_scheduler.hpp"

#include <cstdio>

#include <httplib.h>

#include "actors/base64.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/v1_http.hpp"
#include "actors/scheduler.hpp"

namespace caldera {

using json = nlohmann::json;
using v1::scheduler_call;
using v1::reply_text;

namespace {

using v1_gone_atom = caf::atom_constant<caf::atom("v1gone")>;
using v1_heartbeat_atom = caf::atom_constant<caf::atom("v1beat")>;
using v1_start_atom = caf::atom_constant<caf::atom("v1start")>;

// One v1 subscription: an SDK scheduler whose callbacks are events on the
// subscriber's stream and whose actions are the subscriber's calls.
//
//   subscribing --registered--> subscribed --stream ends--> (failover stop)
//        |                          |
//        +--refused: ERROR event----+--TEARDOWN, failed over, removed: ERROR / end
class v1_framework final : public scheduler {
public:
  v1_framework(caf::actor_config& cfg, scheduler_options opts,
               std::shared_ptr<http_stream> stream, std::string stream_id,
               std::shared_ptr<v1_scheduler_api> api)
    : scheduler(cfg, std::move(opts)), stream_(std::move(stream)),
      stream_id_(std::move(stream_id)), api_(std::move(api)) {
    attach_functor([stream = stream_, id = stream_id_, api = api_] {
      api->subs.remove(id);
      stream->finish();
    });
  }

protected:
  void registered(const std::string& fid, const std::string& master_id) override {
    api_->subs.bind(stream_id_, fid);
    auto info = api_->master_info;
    info["id"] = master_id;
    emit({{"type", "SUBSCRIBED"},
          {"subscribed",
           {{"framework_id", v1::id_json(fid)},
            {"heartbeat_interval_seconds",
             std::chrono::duration<double>(api_->heartbeat).count()},
            {"master_info", std::move(info)}}}});
    delayed_send(this, api_->heartbeat, v1_heartbeat_atom::value);
  }
  void reregistered(const std::string&) override {}
  // The master is in this process: its end is the process's.
  void disconnected() override { end_subscription(); }
  void resource_offers(const std::vector<offer>& offers) override {
    json list = json::array();
    for (auto& o : offers)
      list.push_back(v1::offer_json(o, framework_id(), o.allocation_role));
    emit({{"type", "OFFERS"}, {"offers", {{"offers", std::move(list)}}}});
  }
  void offer_rescinded(const std::string& offer_id) override {
    emit({{"type", "RESCIND"}, {"rescind", {{"offer_id", v1::id_json(offer_id)}}}});
  }
  void status_update(const status_info& s) override {
    emit({{"type", "UPDATE"}, {"update", {{"status", v1::status_json(s)}}}});
  }
  void framework_message(const std::string& agent_id, const std::string& executor_id,
                         const std::string& data) override;
  void agent_lost(const std::string& agent_id) override {
    emit({{"type", "FAILURE"}, {"failure", {{"agent_id", v1::id_json(agent_id)}}}});
  }
  void executor_lost(const std::string& executor_id, const std::string& agent_id,
                     int status) override {
    emit({{"type", "FAILURE"},
          {"failure",
           {{"agent_id", v1::id_json(agent_id)},
            {"executor_id", v1::id_json(executor_id)},
            {"status", status}}}});
  }
  void error(const std::string& message) override {
    emit({{"type", "ERROR"}, {"error", {{"message", message}}}});
  }
  // A newer subscription took the framework: this stream ends (Mesos).
  void failed_over() override { end_subscription(); }
  caf::message_handler extra_handlers() override {
    return {
      [this](const v1_call_ptr& c) { apply(*c); },
      [this](v1_gone_atom) { end_subscription(); },
      [this](v1_heartbeat_atom) { heartbeat(); },
      [](v1_start_atom) {}, // a lazily started actor's first message
    };
  }

private:
  void emit(const json& event) {
    if (!stream_->write(v1::recordio(event)))
      end_subscription();
  }
  void heartbeat() {
    emit({{"type", "HEARTBEAT"}});
    delayed_send(this, api_->heartbeat, v1_heartbeat_atom::value);
  }
  // The stream ended: a failover stop (the master keeps the tasks).
  void end_subscription() {
    if (ended_)
      return;
    ended_ = true;
    log::info("v1_subscription_ended",
              {{"framework_id", framework_id()}, {"stream_id", stream_id_}});
    stop(true);
  }
  void apply(const scheduler_call& c);

  std::shared_ptr<http_stream> stream_;
  std::string stream_id_;
  std::shared_ptr<v1_scheduler_api> api_;
  bool ended_ = false;
};

void v1_framework::framework_message(const std::string& agent_id,
                                     const std::string& executor_id, const std::string& data) {
  emit({{"type", "MESSAGE"},
        {"message",
         {{"agent_id", v1::id_json(agent_id)},
          {"executor_id", v1::id_json(executor_id)},
          {"data", base64_encode(data)}}}});
}

void v1_framework::apply(const scheduler_call& c) {
  using k = scheduler_call::kind;
  switch (c.type) {
    case k::subscribe: return; // answered by a stream of its own
    case k::teardown: return stop(false);
    case k::accept: return accept_operations(c.offer_ids, c.operations, c.refuse_seconds);
    case k::decline: return decline(c.offer_ids, c.refuse_seconds);
    case k::revive: return revive(c.roles);
    case k::suppress: return suppress(c.roles);
    case k::kill: return kill(c.task_id, c.agent_id);
    case k::acknowledge: {
      status_info s;
      s.task_id = c.task_id;
      s.agent_id = c.agent_id;
      s.framework_id = framework_id();
      s.uuid = c.uuid;
      return acknowledge(s);
    }
    case k::reconcile: return reconcile(c.tasks);
    case k::message: return send_framework_message(c.agent_id, c.executor_id, c.data);
    case k::request: return; // Mesos' allocator ignores requests too
    case k::shutdown: return shutdown_executor(c.executor_id, c.agent_id);
  }
}

// --- the endpoint ------------------------------------------------------------

std::string new_stream_id(runtime_env& env) {
  auto r = env.secure_random(16);
  r.resize(16, '\0');
  r[6] = static_cast<char>((r[6] & 0x0f) | 0x40); // a version-4 UUID
  r[8] = static_cast<char>((r[8] & 0x3f) | 0x80);
  std::string out;
  char hex[3];
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    std::snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned char>(r[i]));
    out += hex;
  }
  return out;
}

void subscribe(v1_scheduler_api& api, const std::shared_ptr<v1_scheduler_api>& shared,
               const httplib::Request& req, httplib::Response& res, scheduler_call c) {
  auto opts = c.framework;
  opts.master = api.master;
  opts.runtime = api.runtime;
  opts.node_name = "master";
  auto who = http_basic(req, api.security);
  if (who) {
    if (!opts.principal.empty() && opts.principal != who->first)
      return reply_text(res, 403, "'subscribe.framework_info.principal' '" + opts.principal
                                    + "' is not the authenticated principal '" + who->first
                                    + "'");
    opts.principal = who->first;
    opts.secret = who->second;
  }
  auto stream_id = new_stream_id(*api.runtime);
  res.set_header("Mesos-Stream-Id", stream_id);
  bool recordio_accept = v1::wants_recordio(req);
  auto stream = http_stream_reply(res, recordio_accept ? "application/recordio"
                                                       : "application/json",
                                  api.max_buffered);
  if (recordio_accept)
    res.set_header("Message-Content-Type", "application/json");
  // Started (registering) only once the table knows it.
  auto proxy = api.sys->spawn<v1_framework, caf::lazy_init>(std::move(opts), stream, stream_id,
                                                             shared);
  api.subs.add(stream_id, {proxy, "", who ? who->first : std::string{}});
  stream->on_close([proxy] { caf::anon_send(proxy, v1_gone_atom::value); });
  caf::anon_send(proxy, v1_start_atom::value);
  metrics::message_received("v1_subscribe");
  log::info("v1_subscribed", {{"stream_id", stream_id},
                              {"framework_id", c.framework_id},
                              {"peer", req.remote_addr}});
}

// Any call but SUBSCRIBE: from the framework's current subscription.
void call(v1_scheduler_api& api, const httplib::Request& req, httplib::Response& res,
          scheduler_call c) {
  auto sid = req.get_header_value("Mesos-Stream-Id");
  if (sid.empty())
    return reply_text(res, 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' "
                                "header");
  auto sub = api.subs.find(sid);
  if (!sub)
    return reply_text(res, 403, "The stream ID '" + sid + "' is not a current subscription "
                                "(subscribe first, or again after the stream ended)");
  if (sub->framework_id != c.framework_id)
    return reply_text(res, 403, "The framework id '" + c.framework_id + "' is not the one of "
                                "stream '" + sid + "'");
  auto who = http_principal(req, api.security);
  if (!sub->principal.empty() && who != sub->principal)
    return reply_text(res, 403, "Only principal '" + sub->principal
                                  + "' may call for this framework");
  metrics::message_received("v1_call");
  caf::anon_send(sub->proxy, std::make_shared<const scheduler_call>(std::move(c)));
  res.status = 202;
}

void scheduler_endpoint(const std::shared_ptr<v1_scheduler_api>& api,
                        const httplib::Request& req, httplib::Response& res) {
  if (!v1::check_media(req, res))
    return;
  scheduler_call c;
  try {
    c = v1::parse_scheduler_call(req.body);
  } catch (const v1::v1_error& e) {
    metrics::refused("v1_bad_call");
    return reply_text(res, 400, std::string{"Failed to validate scheduler::Call: "} + e.what());
  }
  if (c.type == scheduler_call::kind::subscribe)
    return subscribe(*api, api, req, res, std::move(c));
  call(*api, req, res, std::move(c));
}

} // namespace

void v1_subscriptions::add(const std::string& stream_id, entry e) {
  std::lock_guard<std::mutex> g{m_};
  by_stream_[stream_id] = std::move(e);
}

void v1_subscriptions::bind(const std::string& stream_id, const std::string& framework_id) {
  std::lock_guard<std::mutex> g{m_};
  auto i = by_stream_.find(stream_id);
  if (i != by_stream_.end())
    i->second.framework_id = framework_id;
}

void v1_subscriptions::remove(const std::string& stream_id) {
  std::lock_guard<std::mutex> g{m_};
  by_stream_.erase(stream_id);
}

std::optional<v1_subscriptions::entry> v1_subscriptions::find(const std::string& sid) const {
  std::lock_guard<std::mutex> g{m_};
  auto i = by_stream_.find(sid);
  if (i == by_stream_.end())
    return std::nullopt;
  return i->second;
}

size_t v1_subscriptions::size() const {
  std::lock_guard<std::mutex> g{m_};
  return by_stream_.size();
}

void add_v1_scheduler_routes(http_router& r, std::shared_ptr<v1_scheduler_api> api) {
  r.Post("/api/v1/scheduler", [api](const httplib::Request& req, httplib::Response& res) {
    scheduler_endpoint(api, req, res);
  });
}

} // namespace caldera
