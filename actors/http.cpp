#include "actors/http.hpp"

#include <pthread.h>
#include <sched.h>

#include <caf/make_config_option.hpp>
#include <httplib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

http_router& http_router::Get(const std::string& path, http_handler h) {
  by_path_[path]["GET"] = std::move(h);
  return *this;
}

http_router& http_router::Post(const std::string& path, http_handler h) {
  by_path_[path]["POST"] = std::move(h);
  return *this;
}

http_router& http_router::Put(const std::string& path, http_handler h) {
  by_path_[path]["PUT"] = std::move(h);
  return *this;
}

http_router& http_router::Delete(const std::string& path, http_handler h) {
  by_path_[path]["DELETE"] = std::move(h);
  return *this;
}

void http_router::dispatch(const httplib::Request& req, httplib::Response& res) const {
  auto p = by_path_.find(req.path);
  if (p == by_path_.end() && fallback_)
    return fallback_(req, res);
  if (p == by_path_.end())
    return reply_error(res, 404, "no such endpoint: " + req.path);
  auto m = p->second.find(req.method == "HEAD" ? std::string{"GET"} : req.method);
  if (m == p->second.end()) {
    std::string allow;
    for (auto& [method, h] : p->second)
      allow += (allow.empty() ? "" : ", ") + method;
    res.set_header("Allow", allow);
    return reply_error(res, 405, req.method + " is not allowed on " + req.path + " (allowed: "
                                   + allow + ")");
  }
  m->second(req, res);
  if (post_)
    post_(req, res);
}

void http_router::route(const httplib::Request& req, httplib::Response& res) const {
  try {
    dispatch(req, res);
  } catch (const std::exception& e) {
    res = httplib::Response{};
    reply_error(res, 500, e.what());
  } catch (...) {
    res = httplib::Response{};
    reply_error(res, 500, "internal error");
  }
  if (res.status == -1)
    res.status = 200;
  if (res.status >= 400 && res.body.empty() && !res.content_provider_)
    reply_error(res, res.status, "request refused");
}

void add_http_limit_options(caf::config_option_adder& opts, http_limits& lim) {
  opts
    .add(lim.max_connections, "http-max-connections",
         "open HTTP connections; at the limit a new one displaces the one that has waited "
         "longest for its request")
    .add(lim.request_timeout, "http-request-timeout",
         "an HTTP request's head and body (and TLS handshake) must arrive within this")
    .add(lim.idle_timeout, "http-idle-timeout",
         "an HTTP keep-alive connection without a request closes after this");
}

std::optional<std::string> check_http_limits(const http_limits& lim) {
  if (lim.max_connections < 1 || lim.max_connections > 65536)
    return "option 'http-max-connections': " + std::to_string(lim.max_connections)
           + " is outside 1..65536";
  if (lim.request_timeout.count() <= 0)
    return std::string{"option 'http-request-timeout': must be positive"};
  if (lim.idle_timeout.count() <= 0)
    return std::string{"option 'http-idle-timeout': must be positive"};
  return std::nullopt;
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
