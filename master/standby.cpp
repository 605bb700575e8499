#include "master/standby.hpp"

#include <csignal>
#include <cstring>

#include <sys/time.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "actors/error.hpp"
#include "actors/leader_json.hpp"
#include "actors/log.hpp"
#include "actors/metrics_export.hpp"
#include "actors/node.hpp"

namespace caldera {

namespace {

void redirect_to_leader(const standby_view& view, const std::string& coordinator, bool https,
                        const httplib::Request& req, httplib::Response& res) {
  auto l = view.get();
  if (!l || l->http.empty()) {
    reply_error(res, 503,
                l ? "this master is a standby; the leader (" + l->address + ") serves no HTTP"
                  : "this master is a standby and no master leads now (" + coordinator + ")");
    return;
  }
  res.status = 307;
  res.set_header("Location", (https ? "https://" : "http://") + l->http + req.target);
  reply_json(res, {{"leader", leader_json(l)}}, 307);
}

} // namespace

caf::expected<std::unique_ptr<http_server>>
start_standby_http(const std::string& ip, uint16_t port, std::shared_ptr<standby_view> view,
                   const std::string& coordinator, http_security sec, http_limits lim,
                   uint16_t& port_out) {
  bool https = sec.https();
  auto srv = std::make_unique<http_server>(2, std::move(sec), lim);
  auto& r = srv->routes();
  r.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  r.Get("/master/leader", [view, coordinator](const httplib::Request&, httplib::Response& res) {
    reply_json(res, {{"role", "standby"}, {"coordinator", coordinator},
                     {"leader", leader_json(view->get())}});
  });
  r.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics::exposition([](prometheus::Registry& reg) {
                      prometheus::BuildGauge()
                        .Name("caldera_master_elected")
                        .Help("1 while this master leads, 0 while it is a standby")
                        .Register(reg)
                        .Add({})
                        .Set(0);
                    }),
                    "text/plain; version=0.0.4");
  });
  r.set_fallback([view, coordinator, https](const httplib::Request& req, httplib::Response& res) {
    redirect_to_leader(*view, coordinator, https, req, res);
  });
  auto p = srv->start(ip, port);
  if (!p)
    return p.error();
  port_out = *p;
  return srv;
}

caf::expected<bool> wait_until_elected(master_ha& ha, standby_view& view,
                                       std::chrono::milliseconds poll) {
  while (true) {
    auto won = ha.stand_by();
    if (!won)
      return won.error();
    if (*won)
      return true;
    view.set(ha.leader());
    if (int sig = wait_for_termination_for(poll)) {
      log::info("master_stopping", {{"signal", sig}, {"role", "standby"}});
      ha.resign();
      return false;
    }
  }
}

namespace {

void lease_watchdog_fired(int) {
  static const char line[] = "caldera-master: leadership_lost reason=\"no lease renewal before "
                             "it could expire (lease watchdog)\" action=exiting\n";
  (void)!::write(2, line, sizeof(line) - 1);
  ::_exit(4);
}

// A dead man's switch at valid_until: SIGALRM ends the process (exit 4)
// unless a renewal moved it on. It covers what the loop below cannot: a
// renewal blocked on an unreachable etcd while the master's actors go on
// offering, and a process paused past its lease (the pending alarm is
// delivered as soon as it runs again).
void arm_lease_watchdog(const master_ha& ha) {
  static bool installed = false;
  if (!installed) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = lease_watchdog_fired;
    ::sigaction(SIGALRM, &sa, nullptr);
    installed = true;
  }
  // At least 1 µs: a zero it_value would disarm it instead.
  long us = std::max<long>(
    1, std::chrono::duration_cast<std::chrono::microseconds>(ha.time_left()).count());
  itimerval t{};
  t.it_value.tv_sec = us / 1'000'000;
  t.it_value.tv_usec = us % 1'000'000;
  ::setitimer(ITIMER_REAL, &t, nullptr);
}

} // namespace

int lead_until_stopped(master_ha& ha, std::chrono::seconds ttl) {
  auto every = std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3;
  while (true) {
    std::string why;
    if (!ha.renew(why))
      leadership_lost(why);
    arm_lease_watchdog(ha);
    // Every TTL/3, and never after valid_until.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ha.time_left());
    auto wait = std::max(std::chrono::milliseconds(1), std::min(every, left));
    if (int sig = wait_for_termination_for(wait)) {
      itimerval off{};
      ::setitimer(ITIMER_REAL, &off, nullptr);
      ha.resign();
      return sig;
    }
  }
}

void leadership_lost(const std::string& why) {
  metrics::election("lost");
  log::error("leadership_lost", {{"reason", why}, {"action", "exiting"}});
  ::_exit(4);
}

} // namespace caldera
