// caldera-master: the master daemon.
//
//   caldera-master --config conf/master.conf [--port 5050] [--work-dir DIR] ...
#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/runtime_env.hpp"
#include "actors/tls.hpp"
#include "actors/node_actor.hpp"
#include "master/master.hpp"
#include "master/master_impl.hpp"
#include "master/registrar.hpp"
#include "master/standby.hpp"
#include "master/v1_operator.hpp"

// The master allocates with jemalloc (linked in by CMakeLists.txt), its
// extents on transparent huge pages: a new leader takes in 100,000 tasks
// from 10,000 re-registering agents in a few seconds, and with glibc's
// malloc a third of that went to faulting in its heap 4 KiB at a time
// (docs/benchmarks.md). `MALLOC_CONF` in the environment still overrides.
extern "C" {
const char* malloc_conf = "thp:always,metadata_thp:auto";
}

namespace {

struct master_config : caldera::node_config {
  uint16_t port = 5050;
  std::string ip = "127.0.0.1";
  std::string work_dir = "run/master";
  std::string hostname = "localhost";
  caf::timespan allocation_interval = std::chrono::seconds(1);
  caf::timespan offer_timeout{0};
  caf::timespan agent_ping_timeout = std::chrono::seconds(15);
  size_t max_agent_ping_timeouts = 5;
  caf::timespan agent_reregister_timeout = std::chrono::minutes(10);
  std::string min_allocatable = "cpus:0.01|mem:32";
  std::vector<caldera::resources> min_allocatable_parsed;
  std::string role_weights;
  int32_t http_port = -1;
  std::string http_ip;
  std::vector<std::pair<std::string, double>> role_weights_parsed;
  bool authenticate = false;
  bool authenticate_agents = false;
  bool authenticate_operators = false;
  bool authenticate_http_readonly = false;
  bool authenticate_http_readwrite = false;
  std::string credentials_file;
  std::string acls_file;
  std::shared_ptr<const caldera::credentials> credentials_parsed;
  std::shared_ptr<const caldera::acls> acls_parsed;
  caldera::http_limits http_limits;
  std::string etcd;
  caf::timespan etcd_lease_ttl = std::chrono::seconds(2);
  std::optional<caldera::coordinator_url> etcd_parsed;

  master_config() : node_config("master") {
    options()
      .add(port, "port", "TCP port of the master's actor endpoint (0: any)")
      .add(ip, "ip", "address to listen on")
      .add(work_dir, "work-dir", "directory of the registry (RocksDB)")
      .add(hostname, "hostname", "hostname shown to operators")
      .add(allocation_interval, "allocation-interval",
           "time between allocation cycles, e.g. 1s or 500ms")
      .add(agent_ping_timeout, "agent-ping-timeout",
           "time between health checks of each agent, e.g. 15s")
      .add(max_agent_ping_timeouts, "max-agent-ping-timeouts",
           "unanswered health checks after which an agent is unreachable")
      .add(agent_reregister_timeout, "agent-reregister-timeout",
           "after a restart, agents not back within this are unreachable, e.g. 10min")
      .add(offer_timeout, "offer-timeout",
           "rescind offers not answered within this, e.g. 30s (0s: never)")
      .add(min_allocatable, "min-allocatable-resources",
           "no offer is smaller than all of these alternatives, e.g. cpus:0.01|mem:32")
      .add(http_port, "http-port",
           "port of the HTTP API, metrics and web UI (-1: none, 0: any free port)")
      .add(http_ip, "http-ip", "address the HTTP API listens on (default: ip)")
      .add(role_weights, "role-weights",
           "initial role weights, e.g. hadoop=2,mpi=1 (weights set with the CLI, "
           "kept in the registry, take precedence)")
      .add(authenticate, "authenticate",
           "admit only frameworks that prove a principal of --credentials")
      .add(authenticate, "authenticate_frameworks", "the same as --authenticate (Mesos' name)")
      .add(authenticate_operators, "authenticate_operators",
           "operator calls (weights, quota, teardown, actors, kill-actor) need a principal of "
           "--credentials (caldera's counterpart of --authenticate_http_readwrite)")
      .add(authenticate_http_readonly, "authenticate_http_readonly",
           "HTTP reads (state, metrics, the web UI) need Basic credentials of --credentials")
      .add(authenticate_http_readwrite, "authenticate_http_readwrite",
           "HTTP writes need Basic credentials of --credentials")
      .add(authenticate_agents, "authenticate_agents",
           "admit only agents that prove a principal of --credentials (agent --credential)")
      .add(credentials_file, "credentials",
           "file of principals and secrets, Mesos' JSON {\"credentials\": [...]}")
      .add(acls_file, "acls", "ACL file, Mesos' JSON: who may do what (none: everyone)");
    auto opts = options();
    caldera::add_http_limit_options(opts, http_limits);
    opts
      .add(etcd, "etcd",
           "standby masters: elect the leader on this etcd cluster, "
           "etcd://HOST:PORT[,HOST:PORT...]/PREFIX (none: this master alone leads)")
      .add(etcd_lease_ttl, "etcd-lease-ttl",
           "the leader's lease (whole seconds, at least 2): a dead leader is replaced "
           "within about this");
  }

  std::optional<std::string> validate_ha() {
    if (etcd.empty())
      return std::nullopt;
    auto url = caldera::parse_coordinator_url(etcd);
    if (!url)
      return "option 'etcd': " + caldera::describe(url.error());
    etcd_parsed = *url;
    if (port == 0)
      return std::string{"option 'port': a master with --etcd needs a fixed port (the leader "
                         "record names it)"};
    if (etcd_lease_ttl < std::chrono::seconds(2))
      return std::string{"option 'etcd-lease-ttl': at least 2s (etcd's minimum lease is 1.5 "
                         "election timeouts)"};
    return std::nullopt;
  }

  // --authenticate, --credentials and --acls: files that do not read or
  // parse stop the master with the file and the reason.
  std::optional<std::string> validate_security() {
    if (authenticate && credentials_file.empty())
      return "option 'authenticate': needs --credentials FILE";
    if (authenticate_agents && credentials_file.empty())
      return "option 'authenticate_agents': needs --credentials FILE";
    if (authenticate_operators && credentials_file.empty())
      return "option 'authenticate_operators': needs --credentials FILE";
    if ((authenticate_http_readonly || authenticate_http_readwrite) && credentials_file.empty())
      return "option 'authenticate_http_readonly' / 'authenticate_http_readwrite': needs "
             "--credentials FILE";
    if (!credentials_file.empty()) {
      auto c = caldera::credentials::load(credentials_file);
      if (!c)
        return "option 'credentials': " + caldera::error_message(c.error());
      if (authenticate || authenticate_agents || authenticate_operators
          || authenticate_http_readonly || authenticate_http_readwrite)
        credentials_parsed = std::make_shared<const caldera::credentials>(std::move(*c));
    }
    if (!acls_file.empty()) {
      auto a = caldera::acls::load(acls_file);
      if (!a)
        return "option 'acls': " + caldera::error_message(a.error());
      acls_parsed = std::make_shared<const caldera::acls>(std::move(*a));
    }
    return std::nullopt;
  }

  std::optional<std::string> validate() override {
    if (work_dir.empty())
      return "option 'work-dir': must not be empty";
    if (allocation_interval.count() <= 0)
      return "option 'allocation-interval': must be positive";
    if (agent_ping_timeout.count() <= 0)
      return "option 'agent-ping-timeout': must be positive";
    if (max_agent_ping_timeouts == 0)
      return "option 'max-agent-ping-timeouts': must be at least 1";
    if (offer_timeout.count() < 0)
      return "option 'offer-timeout': must not be negative";
    if (http_port < -1 || http_port > 65535)
      return "option 'http-port': " + std::to_string(http_port) + " is not -1..65535";
    if (auto bad = caldera::check_http_limits(http_limits))
      return bad;
    std::string items = role_weights;
    while (!items.empty()) {
      auto comma = items.find(',');
      auto item = items.substr(0, comma);
      items = comma == std::string::npos ? "" : items.substr(comma + 1);
      if (item.empty())
        continue;
      auto eq = item.find('=');
      char* end = nullptr;
      double w = eq == std::string::npos ? 0 : std::strtod(item.c_str() + eq + 1, &end);
      if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || !(w > 0))
        return "option 'role-weights': '" + item + "' is not ROLE=WEIGHT with a positive weight";
      if (!caldera::detail::valid_role(item.substr(0, eq)))
        return "option 'role-weights': '" + item.substr(0, eq) + "' is not a valid role";
      role_weights_parsed.emplace_back(item.substr(0, eq), w);
    }
    std::string rest = min_allocatable;
    while (!rest.empty()) {
      auto bar = rest.find('|');
      auto alt = rest.substr(0, bar);
      rest = bar == std::string::npos ? "" : rest.substr(bar + 1);
      auto r = caldera::resources::parse(alt);
      if (!r)
        return "option 'min-allocatable-resources': " + caldera::describe(r.error());
      if (!r->empty())
        min_allocatable_parsed.push_back(*r);
    }
    if (auto bad = validate_ha())
      return bad;
    return validate_security();
  }
};

// The master's options from its configuration.
caldera::master_options options_from(const master_config& cfg) {
  caldera::master_options opts;
  opts.allocation_interval = cfg.allocation_interval;
  opts.hostname = cfg.hostname;
  opts.seed = cfg.seed;
  opts.offer_timeout = cfg.offer_timeout;
  opts.credentials = cfg.credentials_parsed;
  opts.authenticate_frameworks = cfg.authenticate;
  opts.authenticate_agents = cfg.authenticate_agents;
  opts.authenticate_operators = cfg.authenticate_operators;
  opts.acl = cfg.acls_parsed;
  opts.agent_ping_timeout = cfg.agent_ping_timeout;
  opts.max_agent_ping_timeouts = cfg.max_agent_ping_timeouts;
  opts.agent_reregister_timeout = cfg.agent_reregister_timeout;
  opts.min_allocatable = cfg.min_allocatable_parsed;
  opts.initial_weights = cfg.role_weights_parsed;
  return opts;
}

// A master reachable beyond loopback without TLS links or authentication
// says so.
void warn_if_insecure(const master_config& cfg) {
  bool loopback = cfg.ip == "127.0.0.1" || cfg.ip == "localhost" || cfg.ip == "::1";
  std::string missing;
  if (!cfg.authenticate)
    missing = "--authenticate: anyone who reaches this port may register a framework and run "
              "commands on every agent";
  else if (!cfg.authenticate_agents)
    missing = "--authenticate_agents: anyone who reaches this port may pose as an agent";
  else if (!caldera::tls_files_of(cfg).enabled())
    missing = "TLS ([openssl] certificate, key, cafile): every message crosses the network "
              "in the clear";
  if (!loopback && !missing.empty())
    caldera::log::warn("insecure_master",
                       {{"ip", cfg.ip}, {"reason", "listening beyond loopback without " + missing}});
}

// What /master/state and /master/flags show of this master.
caldera::http_security http_security_of(const master_config& cfg) {
  caldera::http_security sec;
  auto tls = caldera::tls_files_of(cfg);
  sec.certificate = tls.certificate;
  sec.key = tls.key;
  sec.creds = cfg.credentials_parsed;
  sec.authenticate_readonly = cfg.authenticate_http_readonly;
  sec.authenticate_readwrite = cfg.authenticate_http_readwrite;
  sec.acl = cfg.acls_parsed;
  return sec;
}

caldera::master_http_info http_info(const master_config& cfg, uint16_t port,
                                    std::shared_ptr<caldera::registry_health> health) {
  caldera::master_http_info info;
  info.hostname = cfg.hostname;
  info.registry = health;
  info.security = http_security_of(cfg);
  info.limits = cfg.http_limits;
  info.pid = "master@" + cfg.ip + ":" + std::to_string(port);
  info.flags = {{"port", std::to_string(port)},
                {"ip", cfg.ip},
                {"work_dir", cfg.work_dir},
                {"hostname", cfg.hostname},
                {"allocation_interval", caf::deep_to_string(cfg.allocation_interval)},
                {"agent_ping_timeout", caf::deep_to_string(cfg.agent_ping_timeout)},
                {"max_agent_ping_timeouts", std::to_string(cfg.max_agent_ping_timeouts)},
                {"agent_reregister_timeout", caf::deep_to_string(cfg.agent_reregister_timeout)},
                {"offer_timeout", caf::deep_to_string(cfg.offer_timeout)},
                {"min_allocatable_resources", cfg.min_allocatable},
                {"role_weights", cfg.role_weights},
                {"http_port", std::to_string(cfg.http_port)},
                {"max_completed_frameworks", "50"},
                {"max_completed_tasks_per_framework", "1000"},
                {"log_level", cfg.log_level},
                {"authenticate_frameworks", cfg.authenticate ? "true" : "false"},
                {"authenticate_agents", cfg.authenticate_agents ? "true" : "false"},
                {"authenticate_operators", cfg.authenticate_operators ? "true" : "false"},
                {"tls", caldera::tls_files_of(cfg).enabled() ? "true" : "false"},
                {"authenticate_http_readonly", cfg.authenticate_http_readonly ? "true" : "false"},
                {"authenticate_http_readwrite", cfg.authenticate_http_readwrite ? "true" : "false"},
                {"credentials", cfg.credentials_file},
                {"acls", cfg.acls_file}};
  return info;
}

// --etcd: what the election leaves the leader.
struct ha_run {
  std::unique_ptr<caldera::master_ha> ha;
  std::unique_ptr<caldera::registry_store> store; // a standby's, kept warm
  std::chrono::seconds ttl{2};
  int http_port = -1; // the port the standby's API bound, the leader's keeps it
};

std::string hex_id() {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : caldera::real_env()->secure_random(6)) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Joins the election and waits as a standby (its HTTP API redirecting to
// the leader) until elected: nullopt, go on as leader; else the exit status.
std::optional<int> become_leader(const master_config& cfg, ha_run& run) {
  using namespace caldera;
  leader_record me;
  me.id = "master-" + hex_id();
  me.address = cfg.ip + ":" + std::to_string(cfg.port);
  me.hostname = cfg.hostname;
  auto view = std::make_shared<standby_view>();
  std::unique_ptr<http_server> standby_http;
  run.http_port = cfg.http_port;
  if (cfg.http_port >= 0) {
    auto http_ip = cfg.http_ip.empty() ? cfg.ip : cfg.http_ip;
    uint16_t hport = 0;
    auto srv = start_standby_http(http_ip, static_cast<uint16_t>(cfg.http_port), view,
                                  cfg.etcd_parsed->to_string(), http_security_of(cfg),
                                  cfg.http_limits, hport);
    if (!srv) {
      std::fprintf(stderr, "caldera-master: option 'http-port': %s\n",
                   describe(srv.error()).c_str());
      return 1;
    }
    standby_http = std::move(*srv);
    run.http_port = hport;
    me.http = http_ip + ":" + std::to_string(hport);
    log::info("http_listening", {{"endpoint", me.http}, {"role", "standby"}});
  }
  run.ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.etcd_lease_ttl);
  // Each call bounded so that a renewal that fails over every member still
  // ends within half a TTL.
  auto per_call = std::max<std::chrono::milliseconds>(
    std::chrono::milliseconds(100),
    std::chrono::duration_cast<std::chrono::milliseconds>(run.ttl)
      / static_cast<int>(2 * cfg.etcd_parsed->members.size()));
  // Registry writes may be large and wait on etcd's fsync: a longer bound
  // (fencing, not the timeout, keeps a deposed leader from writing).
  run.ha = std::make_unique<master_ha>(make_etcd_coordinator(*cfg.etcd_parsed, per_call),
                                       make_etcd_coordinator(*cfg.etcd_parsed,
                                                             std::chrono::seconds(5)),
                                       me, run.ttl, [] { return std::chrono::steady_clock::now(); },
                                       [] { return real_env()->wall_seconds(); });
  if (auto err = run.ha->join()) {
    std::fprintf(stderr, "caldera-master: option 'etcd': %s\n", describe(err).c_str());
    return 1;
  }
  auto store = registry_store::open(cfg.work_dir + "/registry");
  if (!store) {
    std::fprintf(stderr, "caldera-master: %s\n", describe(store.error()).c_str());
    return 1;
  }
  run.store = std::move(*store);
  run.ha->keep_warm(*run.store, std::chrono::seconds(1)); // a standby reads what changed
  log::info("master_joined", {{"coordinator", run.ha->where()}, {"id", me.id},
                              {"address", me.address}});
  auto elected = wait_until_elected(*run.ha, *view, std::chrono::milliseconds(100));
  if (!elected) {
    std::fprintf(stderr, "caldera-master: option 'etcd': %s\n",
                 describe(elected.error()).c_str());
    return 1;
  }
  if (!*elected)
    return 0;
  return std::nullopt; // the standby's API stops here: the leader's takes its port
}

// The registry in RocksDB; with standby masters, loaded from the
// coordinator first and committed there before every write. Null (said on
// stderr) when it cannot be.
std::unique_ptr<caldera::registry_store> open_registry(const master_config& cfg, ha_run& run) {
  using namespace caldera;
  auto store = std::move(run.store); // the standby's copy, warm
  if (!store) {
    auto opened = registry_store::open(cfg.work_dir + "/registry");
    if (!opened) {
      std::fprintf(stderr, "caldera-master: %s\n", describe(opened.error()).c_str());
      return nullptr;
    }
    store = std::move(*opened);
  }
  if (run.ha) {
    if (auto err = run.ha->sync_registry(*store)) {
      std::fprintf(stderr, "caldera-master: the registry of %s: %s\n", run.ha->where().c_str(),
                   describe(err).c_str());
      return nullptr;
    }
    run.ha->attach(*store, leadership_lost);
  }
  return store;
}

// What the v1 Scheduler HTTP API needs (its frameworks' actors live here).
std::shared_ptr<caldera::v1_scheduler_api> v1_api(caf::actor_system& sys, caf::actor master,
                                                  std::shared_ptr<caldera::runtime_env> runtime,
                                                  const master_config& cfg, uint16_t port) {
  auto api = std::make_shared<caldera::v1_scheduler_api>();
  api->sys = &sys;
  api->master = std::move(master);
  api->runtime = std::move(runtime);
  api->security = http_security_of(cfg);
  in_addr ip{};
  ::inet_pton(AF_INET, cfg.ip.c_str(), &ip);
  api->master_info = {{"hostname", cfg.ip},
                      {"ip", ip.s_addr}, // Mesos' MasterInfo.ip: the raw s_addr
                      {"port", port},
                      {"version", "0.1.0"},
                      {"address", {{"hostname", cfg.ip}, {"ip", cfg.ip}, {"port", port}}}};
  return api;
}

// The leader's HTTP API (on the port its standby API had, with --etcd);
// null (said on stderr) when it cannot listen.
std::unique_ptr<caldera::http_server> start_http(const master_config& cfg, const ha_run& run,
                                                 std::shared_ptr<caldera::state_box> box,
                                                 uint16_t port,
                                                 std::shared_ptr<caldera::registry_health> health,
                                                 std::shared_ptr<caldera::v1_scheduler_api> v1) {
  using namespace caldera;
  auto info = http_info(cfg, port, std::move(health));
  info.v1 = std::move(v1);
  info.v1_operator = std::make_shared<v1_operator_hub>();
  start_v1_operator_heartbeat(*info.v1->sys, info.v1_operator, std::chrono::seconds(15));
  if (run.ha) {
    info.leader = run.ha->me();
    info.coordinator = run.ha->where();
  }
  auto http_ip = cfg.http_ip.empty() ? cfg.ip : cfg.http_ip;
  uint16_t hport = 0;
  auto want = static_cast<uint16_t>(run.ha ? run.http_port : cfg.http_port);
  auto srv = start_master_http(http_ip, want, std::move(box), info, hport);
  if (!srv) {
    std::fprintf(stderr, "caldera-master: option 'http-port': %s\n", describe(srv.error()).c_str());
    return nullptr;
  }
  log::info("http_listening", {{"endpoint", http_ip + ":" + std::to_string(hport)}});
  return std::move(*srv);
}

} // namespace

int main(int argc, char** argv) {
  using namespace caldera;
  block_termination_signals();
  master_config cfg;
  if (auto err = cfg.configure(argc, argv)) {
    std::fprintf(stderr, "caldera-master: %s\n", err->c_str());
    return 2;
  }
  if (cfg.help_printed())
    return 0;
  ha_run run;
  if (cfg.etcd_parsed)
    if (auto rc = become_leader(cfg, run))
      return *rc;
  auto store = open_registry(cfg, run);
  if (!store)
    return 1;
  auto snapshot = store->load();
  if (!snapshot) {
    std::fprintf(stderr, "caldera-master: %s\n", describe(snapshot.error()).c_str());
    return 1;
  }
  caf::actor_system sys{cfg};
  warn_if_insecure(cfg);
  auto opts = options_from(cfg);
  opts.recovered = std::move(*snapshot);
  if (run.ha)
    opts.epoch = static_cast<uint64_t>(run.ha->me().epoch);
  std::shared_ptr<state_box> box;
  if (cfg.http_port >= 0) {
    box = std::make_shared<state_box>();
    opts.publish = box;
  }
  auto node = spawn_node(sys, "master@" + cfg.ip + ":" + std::to_string(cfg.port));
  opts.node = node;
  auto health = std::make_shared<registry_health>();
  auto registrar = spawn_registrar(sys, std::move(store), health);
  auto runtime = opts.runtime;
  auto master = spawn_master(sys, registrar, std::move(opts));
  node_register(node, "master", master);
  node_register(node, "registrar", registrar);
  auto port = publish(sys, master, cfg.port, cfg.ip);
  if (!port) {
    std::fprintf(stderr, "caldera-master: cannot listen on %s:%u: %s\n", cfg.ip.c_str(),
                 cfg.port, describe(port.error()).c_str());
    caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
    return 1;
  }
  log::info("master_listening",
            {{"endpoint", cfg.ip + ":" + std::to_string(*port)}, {"work_dir", cfg.work_dir}});
  std::unique_ptr<http_server> http;
  if (box && !(http = start_http(cfg, run, box, *port, health,
                                 v1_api(sys, master, runtime, cfg, *port)))) {
    caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
    return 1;
  }
  // If the master or the registrar actor dies (a crash, or killed through
  // the node actor), the process ends with status 3 so that a supervisor
  // restarts it; the registry on disk is consistent (synced writes).
  auto crashed = std::make_shared<std::atomic<bool>>(false);
  for (auto& a : {master, registrar})
    a->attach_functor([crashed](const caf::error& reason) {
      if (reason == caf::exit_reason::user_shutdown)
        return;
      *crashed = true;
      ::kill(::getpid(), SIGTERM);
    });
  int sig = run.ha ? lead_until_stopped(*run.ha, run.ttl) : wait_for_termination();
  if (*crashed) {
    log::error("master_actor_died", {{"action", "exiting"}});
    caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
    return 3;
  }
  log::info("master_stopping", {{"signal", sig}});
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registrar, caf::exit_reason::user_shutdown);
  return 0;
}
