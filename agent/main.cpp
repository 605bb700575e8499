// caldera-agent: the agent daemon, one per machine.
//
//   caldera-agent --config conf/agent.conf [--port 5051] [--work-dir DIR] ...
#include <atomic>
#include <climits>
#include <memory>
#include <mutex>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/tls.hpp"
#include "actors/node_actor.hpp"
#include "agent/agent.hpp"
#include "agent/isolation.hpp"
#include "agent/resources_detect.hpp"
#include "agent/v1_operator.hpp"

namespace {

std::string self_dir() {
  char buf[PATH_MAX];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  buf[n] = '\0';
  return std::filesystem::path{buf}.parent_path().string();
}

struct agent_config : caldera::node_config {
  std::string master = "127.0.0.1:5050";
  uint16_t port = 5051;
  std::string ip = "127.0.0.1";
  std::string work_dir = "run/agent";
  std::string resources_text;
  std::string attributes_text;
  std::string hostname;
  std::string executor_path;
  std::string recover = "reconnect";
  std::string command_executor = "agent";
  bool stop_keeps_tasks = false;
  int32_t http_port = -1;
  std::string http_ip;
  caf::timespan executor_reregister_timeout = std::chrono::seconds(5);
  caf::timespan executor_registration_timeout = std::chrono::minutes(1);
  std::string isolation;
  std::string credential_file;
  std::string credentials_file;
  std::string acls_file;
  bool authenticate_operators = false;
  bool authenticate_http_readonly = false;
  bool authenticate_http_readwrite = false;
  caldera::peer_auth::policy operators;
  std::optional<caldera::credential> credential;
  std::string executor_certificate;
  std::string executor_key;
  bool cgroups_enable_cfs = false;
  bool enforce_container_disk_quota = false;
  bool switch_user = true;
  std::string allowed_users;
  caf::timespan gc_delay = std::chrono::hours(24 * 7);
  double gc_disk_headroom = 0.1;
  caf::timespan disk_watch_interval = std::chrono::seconds(15);
  caf::timespan isolation_check_interval = std::chrono::milliseconds(500);
  caldera::http_limits http_limits;

  caldera::resources res;
  std::vector<std::string> allowed;
  caldera::master_address master_ep;
  std::vector<std::pair<std::string, std::string>> attributes;

  agent_config() : node_config("agent") {
    options()
      .add(master, "master", "the master: HOST:PORT, a list HOST:PORT,HOST:PORT, or etcd://HOST:PORT[,...]/PREFIX (standby masters)")
      .add(port, "port", "TCP port executors connect to (0: any)")
      .add(ip, "ip", "address to listen on")
      .add(work_dir, "work-dir", "directory for sandboxes and agent state")
      .add(resources_text, "resources",
           "offered resources in Mesos syntax, e.g. cpus:4;mem:8192 "
           "(missing ones are detected)")
      .add(attributes_text, "attributes", "attributes, e.g. rack:r1;zone:a")
      .add(hostname, "hostname", "hostname reported to the master")
      .add(executor_path, "executor-path",
           "the command executor binary (default: caldera-executor beside this one)")
      .add(http_port, "http-port",
           "port of the agent's HTTP API (-1: none, 0: any free port)")
      .add(http_ip, "http-ip", "address the HTTP API listens on (default: ip)")
      .add(recover, "recover",
           "at start: 'reconnect' to executors a previous agent left running "
           "(from the checkpoint in the work dir), or 'cleanup' to destroy them")
      .add(stop_keeps_tasks, "stop-keeps-tasks",
           "SIGTERM/SIGINT end the agent alone: its tasks run on and the agent started "
           "again on the same work dir takes them back (as Mesos' agent; default: it "
           "destroys its containers first)")
      .add(command_executor, "command-executor",
           "who runs command tasks: 'agent' (the agent starts and reaps each task's "
           "shell in its container itself) or 'process' (a caldera-executor per task)")
      .add(executor_registration_timeout, "executor-registration-timeout",
           "destroy a new executor that has not registered by then; its tasks fail")
      .add(executor_reregister_timeout, "executor-reregister-timeout",
           "how long a restarted agent waits for its executors to reconnect, e.g. 5s")
      .add(credential_file, "credential",
           "file with this agent's principal and secret ({\"principal\": ..., \"secret\": ...} "
           "or 'principal secret'), proven to a master with --authenticate_agents")
      .add(credentials_file, "credentials",
           "principals operators prove here (Mesos' JSON {\"credentials\": [...]})")
      .add(acls_file, "acls", "ACL file: who may kill actors here (kill_actors)")
      .add(authenticate_operators, "authenticate_operators",
           "listing and killing actors here need a principal of --credentials")
      .add(authenticate_http_readonly, "authenticate_http_readonly",
           "HTTP reads (state, sandboxes, metrics) need Basic credentials of --credentials")
      .add(authenticate_http_readwrite, "authenticate_http_readwrite",
           "HTTP writes need Basic credentials of --credentials")
      .add(executor_certificate, "executor-certificate",
           "with TLS links (openssl.*): the client certificate executors connect with, "
           "signed by openssl.cafile")
      .add(executor_key, "executor-key",
           "with TLS links: its key (readable by the users tasks run as)")
      .add(isolation, "isolation",
           "isolators, comma-separated: cgroups/cpu, cgroups/mem, posix/cpu, posix/mem, "
           "disk/du (default: cgroups where a writable hierarchy exists, else posix)")
      .add(cgroups_enable_cfs, "cgroups_enable_cfs",
           "cap each container's CPU time at its cpus (CFS quota), not only weight it")
      .add(enforce_container_disk_quota, "enforce_container_disk_quota",
           "with disk/du: destroy a container whose sandbox outgrows its disk resource")
      .add(switch_user, "switch_user",
           "run tasks as their framework's user (false: as the agent's user)")
      .add(allowed_users, "allowed_users",
           "users that may run tasks here, comma-separated (default: any)")
      .add(gc_delay, "gc_delay",
           "how long sandboxes of ended executors are kept at most, e.g. 168h")
      .add(gc_disk_headroom, "gc_disk_headroom",
           "free disk fraction to keep: sandboxes are removed sooner as the disk fills "
           "(age limit = gc_delay * max(0, 1 - headroom - disk usage))")
      .add(disk_watch_interval, "disk_watch_interval",
           "how often sandboxes are measured (disk/du) and collected, e.g. 15s")
      .add(isolation_check_interval, "isolation_check_interval",
           "how often containers are checked against their memory limits, e.g. 500ms");
    auto opts = options();
    caldera::add_http_limit_options(opts, http_limits);
  }

  /// Executors link to this agent over TLS as it does to its master, with a
  /// certificate of their own (never the agent's key: tasks can read theirs).
  std::optional<std::string> validate_executor_tls() {
    auto files = caldera::tls_files_of(*this);
    if (!files.enabled())
      return std::nullopt;
    if (executor_certificate.empty() || executor_key.empty())
      return std::string{"with TLS links (openssl.*) the agent needs executor-certificate and "
                         "executor-key: the certificate executors connect with"};
    files.certificate = executor_certificate;
    files.key = executor_key;
    files.passphrase.clear();
    if (auto why = caldera::check_tls(files))
      return "executor TLS files: " + *why;
    return std::nullopt;
  }

  /// --credentials, --acls and --authenticate_operators.
  std::optional<std::string> validate_operators() {
    if (authenticate_operators && credentials_file.empty())
      return std::string{"option 'authenticate_operators': needs --credentials FILE"};
    if ((authenticate_http_readonly || authenticate_http_readwrite) && credentials_file.empty())
      return std::string{"option 'authenticate_http_readonly' / 'authenticate_http_readwrite': "
                         "needs --credentials FILE"};
    if (!credentials_file.empty()) {
      auto c = caldera::credentials::load(credentials_file);
      if (!c)
        return "option 'credentials': " + caldera::error_message(c.error());
      operators.creds = std::make_shared<const caldera::credentials>(std::move(*c));
    }
    if (!acls_file.empty()) {
      auto a = caldera::acls::load(acls_file);
      if (!a)
        return "option 'acls': " + caldera::error_message(a.error());
      operators.acl = std::make_shared<const caldera::acls>(std::move(*a));
    }
    operators.authenticate_operators = authenticate_operators;
    return std::nullopt;
  }

  /// HTTPS with the agent's TLS files, Basic authentication, the ACLs.
  caldera::http_security http_security() const {
    caldera::http_security sec;
    auto tls = caldera::tls_files_of(*this);
    sec.certificate = tls.certificate;
    sec.key = tls.key;
    sec.creds = operators.creds;
    sec.authenticate_readonly = authenticate_http_readonly;
    sec.authenticate_readwrite = authenticate_http_readwrite;
    sec.acl = operators.acl;
    return sec;
  }

  /// What GET_FLAGS shows (the options that say what this agent is).
  std::map<std::string, std::string> flags() const {
    return {{"master", master},
            {"port", std::to_string(port)},
            {"ip", ip},
            {"http_port", std::to_string(http_port)},
            {"work_dir", work_dir},
            {"resources", resources_text},
            {"attributes", attributes_text},
            {"hostname", hostname},
            {"isolation", isolation},
            {"stop_keeps_tasks", stop_keeps_tasks ? "true" : "false"},
            {"authenticate_http_readonly", authenticate_http_readonly ? "true" : "false"},
            {"authenticate_http_readwrite", authenticate_http_readwrite ? "true" : "false"}};
  }

  /// What an executor needs in its environment to link back.
  std::map<std::string, std::string> executor_env() {
    auto files = caldera::tls_files_of(*this);
    if (!files.enabled())
      return {};
    return {{"CALDERA_OPENSSL_CERTIFICATE", absolute(executor_certificate)},
            {"CALDERA_OPENSSL_KEY", absolute(executor_key)},
            {"CALDERA_OPENSSL_CAFILE", absolute(files.cafile)},
            {"CALDERA_OPENSSL_CAPATH", absolute(files.capath)}};
  }

  static std::string absolute(const std::string& path) {
    return path.empty() ? path : std::filesystem::absolute(path).string();
  }

  std::optional<std::string> validate() override {
    auto ep = caldera::parse_master_address(master);
    if (!ep)
      return "option 'master': " + caldera::describe(ep.error());
    master_ep = *ep;
    if (http_port < -1 || http_port > 65535)
      return "option 'http-port': " + std::to_string(http_port) + " is not -1..65535";
    if (auto bad = caldera::check_http_limits(http_limits))
      return bad;
    if (recover != "reconnect" && recover != "cleanup")
      return "option 'recover': '" + recover + "' is neither 'reconnect' nor 'cleanup'";
    if (command_executor != "agent" && command_executor != "process")
      return "option 'command-executor': '" + command_executor
             + "' is neither 'agent' nor 'process'";
    if (executor_registration_timeout <= caf::timespan{0})
      return "option 'executor-registration-timeout': must be positive";
    if (executor_reregister_timeout <= caf::timespan{0})
      return "option 'executor-reregister-timeout': must be positive";
    if (work_dir.empty())
      return "option 'work-dir': must not be empty";
    if (auto why = validate_executor_tls())
      return why;
    if (auto why = validate_operators())
      return why;
    if (!credential_file.empty()) {
      auto c = caldera::load_credential(credential_file);
      if (!c)
        return "option 'credential': " + caldera::error_message(c.error());
      credential = *c;
    }
    if (gc_delay < caf::timespan{0})
      return "option 'gc_delay': must not be negative";
    if (!(gc_disk_headroom >= 0 && gc_disk_headroom <= 1))
      return "option 'gc_disk_headroom': " + std::to_string(gc_disk_headroom)
             + " is not between 0 and 1";
    if (disk_watch_interval <= caf::timespan{0})
      return "option 'disk_watch_interval': must be positive";
    if (isolation_check_interval <= caf::timespan{0})
      return "option 'isolation_check_interval': must be positive";
    {
      std::string rest = allowed_users;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        auto u = rest.substr(0, comma);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
        if (!u.empty())
          allowed.push_back(u);
      }
    }
    auto r = caldera::resources::parse(resources_text);
    if (!r)
      return "option 'resources': " + caldera::describe(r.error());
    res = *r;
    std::string rest = attributes_text;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      auto item = rest.substr(0, semi);
      rest = semi == std::string::npos ? "" : rest.substr(semi + 1);
      if (item.empty())
        continue;
      auto colon = item.find(':');
      if (colon == std::string::npos || colon == 0)
        return "option 'attributes': '" + item + "' is not NAME:VALUE";
      attributes.emplace_back(item.substr(0, colon), item.substr(colon + 1));
    }
    if (hostname.empty()) {
      char buf[256] = {};
      gethostname(buf, sizeof(buf) - 1);
      hostname = buf;
    }
    if (executor_path.empty())
      executor_path = self_dir() + "/caldera-executor";
    if (access(executor_path.c_str(), X_OK) != 0)
      return "option 'executor-path': '" + executor_path + "' is not an executable";
    return std::nullopt;
  }
};

// The agent's options from its configuration (containers and HTTP apart).
caldera::agent_options options_from(agent_config& cfg) {
  caldera::agent_options opts;
  opts.master_endpoint = cfg.master_ep;
  opts.hostname = cfg.hostname;
  opts.res = caldera::complete_resources(cfg.res, cfg.work_dir);
  opts.attributes = cfg.attributes;
  opts.work_dir = cfg.work_dir;
  opts.recover = cfg.recover;
  opts.command_executor = cfg.command_executor;
  opts.executor_reregister_timeout = cfg.executor_reregister_timeout;
  opts.executor_registration_timeout = cfg.executor_registration_timeout;
  opts.executor_env = cfg.executor_env();
  opts.credential = cfg.credential;
  opts.operators = cfg.operators;
  opts.switch_user = cfg.switch_user;
  opts.allowed_users = cfg.allowed;
  opts.gc_delay = std::chrono::duration_cast<std::chrono::seconds>(cfg.gc_delay);
  opts.gc_disk_headroom = cfg.gc_disk_headroom;
  opts.disk_watch_interval = cfg.disk_watch_interval;
  opts.isolation_check_interval = cfg.isolation_check_interval;
  return opts;
}

// The posix containerizer with the configured isolators; nullptr (said on
// stderr) when they cannot be set up. Executors a previous agent left
// running are recovered from the checkpoint (or destroyed: --recover=cleanup)
// once the agent starts.
std::shared_ptr<caldera::containerizer> make_containers(const agent_config& cfg) {
  using namespace caldera;
  isolation_options iso_opts;
  iso_opts.isolation = cfg.isolation;
  iso_opts.cgroups_enable_cfs = cfg.cgroups_enable_cfs;
  iso_opts.enforce_container_disk_quota = cfg.enforce_container_disk_quota;
  {
    // One cgroup namespace per agent (its work dir): agents sharing a host
    // never clean up each other's containers.
    std::error_code ec;
    char ns[17];
    auto wd = std::filesystem::absolute(cfg.work_dir, ec).lexically_normal().string();
    std::snprintf(ns, sizeof(ns), "%016zx", std::hash<std::string>{}(wd));
    iso_opts.cgroups_root = std::string{"caldera/"} + ns;
  }
  auto iso = isolation::create(iso_opts);
  if (!iso) {
    std::fprintf(stderr, "caldera-agent: option 'isolation': %s\n",
                 error_message(iso.error()).c_str());
    return nullptr;
  }
  std::shared_ptr<isolation> isolators = std::move(*iso);
  std::string iso_names;
  for (auto& n : isolators->names())
    iso_names += (iso_names.empty() ? "" : ",") + n;
  log::info("isolation", {{"isolators", iso_names}, {"why", isolators->why()}});
  return make_posix_containerizer(cfg.executor_path, cfg.work_dir + "/containers", isolators);
}

// The agent's HTTP API when configured (its view published through
// `opts.publish`); false (said on stderr) when it cannot listen.
bool start_http(const agent_config& cfg, caldera::agent_options& opts,
                std::unique_ptr<caldera::http_server>& http,
                std::shared_ptr<caldera::v1_executor_api> v1) {
  using namespace caldera;
  if (cfg.http_port < 0)
    return true;
  auto box = std::make_shared<agent_box>();
  auto http_ip = cfg.http_ip.empty() ? cfg.ip : cfg.http_ip;
  uint16_t hport = 0;
  std::error_code ec;
  auto root = std::filesystem::absolute(std::filesystem::path{cfg.work_dir} / "sandboxes");
  std::filesystem::create_directories(root, ec);
  auto hub = std::make_shared<v1_agent_hub>();
  start_v1_agent_heartbeat(v1->system(), hub, std::chrono::seconds(15));
  auto srv = start_agent_http(http_ip, static_cast<uint16_t>(cfg.http_port), box, root.string(),
                              hport, opts.containers, cfg.http_security(), cfg.http_limits,
                              std::move(v1), cfg.flags(), hub);
  if (!srv) {
    std::fprintf(stderr, "caldera-agent: option 'http-port': %s\n",
                 describe(srv.error()).c_str());
    return false;
  }
  http = std::move(*srv);
  opts.publish = box;
  opts.http_endpoint = http_ip + ":" + std::to_string(hport);
  log::info("http_listening", {{"endpoint", opts.http_endpoint}});
  return true;
}

// Waits until a signal (every container destroyed first) or the agent's own
// end: registration refused (exit 1), or the actor killed (`caldera
// kill-actor`) or crashed (exit 3, as the master: a supervisor restarts it,
// and the executors wait for it). Returns the exit status.
int run_until_stopped(caf::actor_system& sys, const caf::actor& agent,
                      const std::shared_ptr<caldera::containerizer>& containers,
                      bool keep_tasks) {
  using namespace caldera;
  auto signaled = std::make_shared<std::atomic<bool>>(false);
  struct end_reason {
    std::mutex mtx;
    caf::error err;
  };
  auto ended = std::make_shared<end_reason>();
  agent->attach_functor([ended](const caf::error& reason) {
    std::lock_guard<std::mutex> g{ended->mtx};
    ended->err = reason;
  });
  std::thread([agent, signaled, keep_tasks] {
    int sig = wait_for_termination();
    log::info("agent_stopping", {{"signal", sig}, {"keep_tasks", keep_tasks}});
    *signaled = true;
    caf::send_as(agent, agent, shutdown_atom::value, keep_tasks);
  }).detach();
  sys.await_all_actors_done();
  if (*signaled && keep_tasks)
    return 0; // the containers run on, for the next agent
  if (*signaled) {
    // The agent killed its containers; their cgroups go once the kernel has
    // finished them (an agent that exited first left them behind).
    if (!containers->wait_reaped(std::chrono::seconds(10)))
      log::warn("containers_not_reaped", {{"waited", "10s"}});
    return 0;
  }
  caf::error why;
  {
    std::lock_guard<std::mutex> g{ended->mtx};
    why = ended->err;
  }
  // Empty when the actor's end was not seen (it may run after this returns).
  bool refused = why && why.category() == caf::atom("caldera");
  log::error(refused ? "agent_stopped" : "agent_actor_died",
             {{"reason", why ? describe(why) : std::string{"killed or crashed"}},
              {"action", "exiting"}});
  return refused ? 1 : 3;
}

} // namespace

int main(int argc, char** argv) {
  using namespace caldera;
  block_termination_signals();
  agent_config cfg;
  if (auto err = cfg.configure(argc, argv)) {
    std::fprintf(stderr, "caldera-agent: %s\n", err->c_str());
    return 2;
  }
  if (cfg.help_printed())
    return 0;
  std::error_code ec;
  std::filesystem::create_directories(cfg.work_dir, ec);
  if (ec) {
    std::fprintf(stderr, "caldera-agent: option 'work-dir': cannot create '%s': %s\n",
                 cfg.work_dir.c_str(), ec.message().c_str());
    return 2;
  }
  caf::actor_system sys{cfg};
  auto opts = options_from(cfg);
  opts.containers = make_containers(cfg);
  if (!opts.containers)
    return 2;
  std::unique_ptr<http_server> http;
  auto v1 = std::make_shared<v1_executor_api>(sys, opts.runtime);
  if (!start_http(cfg, opts, http, v1))
    return 1;
  auto node = spawn_node(sys, "agent@" + cfg.ip + ":" + std::to_string(cfg.port));
  opts.node = node;
  auto containers = opts.containers; // outlives the agent actor: see the end
  auto agent = spawn_agent(sys, std::move(opts));
  node_register(node, "agent", agent);
  v1->set_agent(agent);
  auto port = publish(sys, agent, cfg.port, cfg.ip);
  if (!port) {
    std::fprintf(stderr, "caldera-agent: cannot listen on %s:%u: %s\n", cfg.ip.c_str(),
                 cfg.port, describe(port.error()).c_str());
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
    return 1;
  }
  auto endpoint = cfg.ip + ":" + std::to_string(*port);
  log::info("agent_listening", {{"endpoint", endpoint}, {"work_dir", cfg.work_dir},
                                {"containerizer", "posix"}});
  caf::send_as(agent, agent, start_atom::value, endpoint);
  return run_until_stopped(sys, agent, containers, cfg.stop_keeps_tasks);
}
