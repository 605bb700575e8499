#include "actors/http.hpp"

#include <pthread.h>
#include <sched.h>

#include <httplib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

namespace {

std::unique_ptr<httplib::Server> make_server(const http_security& sec) {
  if (sec.https())
    return std::make_unique<httplib::SSLServer>(sec.certificate.c_str(), sec.key.c_str());
  return std::make_unique<httplib::Server>();
}

// A request that needs a principal and carries none (or a wrong one): 401.
bool refuse_unauthenticated(const http_security& sec, const httplib::Request& req,
                            httplib::Response& res) {
  if (!http_needs_principal(req, sec) || !http_principal(req, sec).empty())
    return false;
  metrics::refused("http_unauthenticated");
  log::warn("peer_refused", {{"type", "http_unauthenticated"},
                             {"path", req.path},
                             {"peer", req.remote_addr}});
  res.set_header("WWW-Authenticate", "Basic realm=\"caldera\"");
  reply_error(res, 401, "this API needs credentials (HTTP Basic: a principal and its secret)");
  return true;
}

} // namespace

http_server::http_server(size_t threads, http_security sec)
  : sec_(std::move(sec)), srv_(make_server(sec_)) {
  srv_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  srv_->set_read_timeout(5, 0);
  srv_->set_write_timeout(5, 0);
  srv_->set_idle_interval(0, 100000);
  srv_->set_keep_alive_timeout(5);
  srv_->set_payload_max_length(64 * 1024);
  srv_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty())
      reply_error(res, 404, "no such endpoint: " + req.path);
    else if (res.body.empty())
      reply_error(res, res.status, "request refused");
  });
  srv_->set_exception_handler(
    [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        if (ep)
          std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      reply_error(res, 500, what);
    });
  srv_->set_default_headers({{"Access-Control-Allow-Origin", "*"}});
  // Readers must never slow scheduling: HTTP threads run at a lower CPU
  // priority (the idle class) than the actors' threads.
  srv_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    lower_thread_priority();
    return refuse_unauthenticated(sec_, req, res) ? httplib::Server::HandlerResponse::Handled
                                                  : httplib::Server::HandlerResponse::Unhandled;
  });
}

void lower_thread_priority() {
  thread_local bool lowered = false;
  if (lowered)
    return;
  lowered = true;
  // SCHED_IDLE, not just nice +10: ten niced readers together still weigh
  // 10 x 110 against the allocator's 1024 and took a third of its core;
  // idle-class threads weigh 3 each. Nice +10 where the class is refused.
  sched_param none{};
  none.sched_priority = 0;
  if (::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &none) != 0)
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
}

http_server::~http_server() {
  stop();
}

httplib::Server& http_server::routes() {
  return *srv_;
}

caf::expected<uint16_t> http_server::start(const std::string& ip, uint16_t port) {
  if (!srv_->is_valid())
    return make_error(errc::invalid_config, "cannot serve HTTPS with certificate '"
                                              + sec_.certificate + "' and key '" + sec_.key
                                              + "'");
  int bound = port == 0 ? srv_->bind_to_any_port(ip) : (srv_->bind_to_port(ip, port) ? port : -1);
  if (bound <= 0)
    return make_error(errc::invalid_config,
                      "cannot listen for HTTP on " + ip + ":" + std::to_string(port));
  thread_ = std::thread([this] { srv_->listen_after_bind(); });
  return static_cast<uint16_t>(bound);
}

void http_server::stop() {
  if (thread_.joinable()) {
    srv_->stop();
    thread_.join();
  }
}

nlohmann::json resources_json(const resources& r) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [k, v] : r.entries()) {
    std::string key = k.second == "*" ? k.first : k.first + "(" + k.second + ")";
    if (v.is_ranges) {
      resources one;
      one.add_ranges(k.first, v.ranges);
      auto s = one.to_string();
      out[key] = s.substr(s.find(':') + 1);
    } else {
      out[key] = static_cast<double>(v.milli) / 1000.0;
    }
  }
  return out;
}

void reply_json(httplib::Response& res, const nlohmann::json& j, int status) {
  // Sandbox files need not be UTF-8: invalid bytes become U+FFFD.
  reply_json_text(res, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  status);
}

void reply_json_text(httplib::Response& res, const std::string& text, int status) {
  res.status = status;
  res.set_content(text, "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply_json(res, nlohmann::json{{"error", message}, {"status", status}}, status);
}

std::optional<long long> query_int(const httplib::Request& req, httplib::Response& res,
                                   const std::string& name, long long dflt, long long min,
                                   long long max) {
  if (!req.has_param(name.c_str()))
    return dflt;
  auto text = req.get_param_value(name.c_str());
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0 || v < min || v > max) {
    reply_error(res, 400,
                "parameter '" + name + "': '" + text + "' is not an integer in ["
                  + std::to_string(min) + ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return v;
}

} // namespace caldera
