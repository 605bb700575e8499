#include "sim/world.hpp"

#include <deque>
#include <filesystem>
#include <random>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <unistd.h>

#include "actors/log.hpp"
#include "actors/node_actor.hpp"
#include "actors/types.hpp"
#include "agent/agent.hpp"
#include "master/master.hpp"
#include "master/registrar.hpp"
#include "sim/apps.hpp"
#include "sim/sim_env.hpp"
#include "sim/standby_masters.hpp"
#include "sim/workload.hpp"
#include "storage/kv.hpp"
#include "storage/registry_store.hpp"

namespace caldera::sim {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct world;
world* current = nullptr; // the run whose logs and clock the log uses

struct world {
  run_options opts;
  run_result res;
  std::mt19937_64 rng;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<sim_env> env;
  fs::path dir;
  caf::actor node, registrar, master; // the master that leads (or last led)
  bool master_down = false;
  // With standby masters (opts.masters > 1): the election, and each
  // master's actors while it leads.
  std::unique_ptr<standby_masters> ha;
  std::vector<std::pair<caf::actor, caf::actor>> led; // slot -> master, registrar
  master_options base;
  uint64_t restarts = 0;
  std::shared_ptr<containerizer> cont;
  std::shared_ptr<memory_disk> disk = std::make_shared<memory_disk>();
  std::vector<agent_options> agent_opts;
  std::vector<caf::actor> agents;
  std::vector<bool> agent_down;
  std::vector<std::shared_ptr<bool>> agent_alive; // false once the actor ended
  std::vector<caf::actor> frameworks;
  std::vector<std::shared_ptr<job_log>> logs;
  std::vector<job_spec> jobs;
  std::vector<bool> framework_down;
  std::unique_ptr<sample_apps> apps; // the word count and the gang, when drawn
  std::vector<caf::actor> app_frameworks;
  // Every executor started, and whether it still runs (a terminated actor
  // can still be reached through a handle someone keeps).
  struct exec_ref {
    caf::actor_addr addr;
    std::shared_ptr<bool> alive;
  };
  std::shared_ptr<std::vector<exec_ref>> executors = std::make_shared<std::vector<exec_ref>>();
  std::vector<caf::actor> live_executors();
  uint64_t hash = 0xcbf29ce484222325ull;
  std::deque<std::string> tail;
  size_t step = 0;

  explicit world(run_options o);
  ~world();

  // -- trace ------------------------------------------------------------------
  void line(const std::string& text, bool hashed = true);
  std::string stamp() const;
  void fault(const std::string& kind, const std::string& what);
  void violation(const std::string& what);

  // -- running ------------------------------------------------------------------
  void run_for(caf::timespan d);
  bool run_one_job();
  double draw() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  size_t pick(size_t n) { return static_cast<size_t>(rng() % n); }

  // -- the cluster ------------------------------------------------------------
  void build_cluster();
  void start_master(bool recovered);
  void spawn_master_actors(std::unique_ptr<registry_store> store, master_options mo);
  void start_standby_masters();
  caf::error start_leader(size_t slot, std::unique_ptr<registry_store> store,
                          registry_snapshot snap, uint64_t epoch);
  void stop_leader(size_t slot);
  std::string master_node() const;
  std::string master_dir() const;
  void start_agent(size_t i, const std::string& recover);
  void start_framework(size_t j);
  void start_sample_apps(double total_cpus);
  void kill_named(const std::string& name);
  std::optional<state_msg> state();

  // -- faults and checks ------------------------------------------------------
  void safety_step();
  void inject_fault();
  void kill_master();
  void cut_coordinator();
  void heal_masters();
  void heal_some();
  void supervise();
  void partition_pair();
  void link_faults();
  std::pair<std::string, std::string> random_pair();
  void check_step();
  void check_accounting(const state_msg& st);
  void liveness();
  bool converged();
  void final_checks();
  void check_registry(const state_msg& st);
};

// Daemon log lines reach the trace (unhashed); the few events that only a
// bug can cause break the run.
void log_sink(std::string_view l) {
  if (current == nullptr)
    return;
  current->line("log " + std::string{l}, false);
  if (l.find("status_update_acknowledged_unsent") != std::string_view::npos)
    current->violation("a status update was acknowledged before it was sent: "
                       + std::string{l});
  if (l.find("allocation_books_differ") != std::string_view::npos)
    current->violation("the allocator's books differ from the master's: " + std::string{l});
}

double log_clock() {
  return current != nullptr && current->env ? current->env->wall_seconds() : sim_epoch;
}

world::world(run_options o) : opts(std::move(o)), rng(derive_seed(opts.seed, "world")) {
  res.seed = opts.seed;
  current = this;
  log::level lvl = log::level::error;
  bool logs = !opts.log_level.empty() && log::parse_level(opts.log_level, lvl);
  log::set_level(logs ? lvl : log::level::error);
  log::set_sink(log_sink);
  log::set_clock(log_clock);
  register_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  sys = std::make_unique<caf::actor_system>(cfg);
  sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  env = std::make_shared<sim_env>(*sys, opts.seed);
  // Half the runs have BUGGIFY on (the other half keeps the common paths
  // common); decided apart from the world's draws.
  if (opts.buggify && derive_seed(opts.seed, "buggify-run") % 2 == 0)
    env->enable_buggify([this](const std::string& point) {
      line("buggify " + point);
      res.buggified.push_back(point);
    });
  env->table().observe([this](const char* what, const std::string& from,
                              const std::string& to, const std::string& types) {
    line(std::string{what} + " " + from + "->" + to + " " + types);
    if (ha && types.find("resource_offers_msg") != std::string::npos)
      ha->offered(from);
  });
  auto base_dir = fs::exists("/dev/shm") ? fs::path{"/dev/shm"} : fs::temp_directory_path();
  dir = base_dir / ("caldera-sim-" + std::to_string(getpid()) + "-" + std::to_string(opts.seed));
  fs::remove_all(dir);
}

world::~world() {
  ha.reset(); // the election drivers stop
  for (auto& f : frameworks)
    if (f)
      caf::anon_send_exit(f, caf::exit_reason::kill);
  for (auto& f : app_frameworks)
    caf::anon_send_exit(f, caf::exit_reason::kill);
  for (auto& a : agents)
    if (a)
      caf::send_as(a, a, shutdown_atom::value); // as the agent's daemon
  while (sched->try_run_once()) {
  }
  if (cont)
    cont->destroy_all();
  while (sched->try_run_once()) {
  }
  for (auto& a : agents)
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  for (auto& [m, r] : led)
    for (auto& a : {m, r})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::kill);
  for (auto& a : {master, registrar, node})
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  while (sched->try_run_once()) {
  }
  frameworks.clear();
  app_frameworks.clear();
  agents.clear();
  master = registrar = node = nullptr;
  cont.reset();
  env.reset();
  sys.reset();
  log::set_sink(nullptr);
  log::set_clock(nullptr);
  current = nullptr;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// -- trace ----------------------------------------------------------------------

std::string world::stamp() const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%10.3f ", env ? env->elapsed() : 0.0);
  return buf;
}

void world::line(const std::string& text, bool hashed) {
  auto l = stamp() + text;
  if (hashed) {
    for (unsigned char c : l) {
      hash ^= c;
      hash *= 0x100000001b3ull;
    }
    ++res.trace_lines;
  }
  if (opts.trace)
    std::printf("%s\n", l.c_str());
  tail.push_back(std::move(l));
  if (tail.size() > 40)
    tail.pop_front();
}

void world::fault(const std::string& kind, const std::string& what) {
  ++res.faults[kind];
  line("fault " + kind + " " + what);
}

void world::violation(const std::string& what) {
  if (!res.violation.empty())
    return;
  res.violation = what;
  res.violation_step = step;
  line("VIOLATION " + what);
}

// -- running --------------------------------------------------------------------

// Runs one ready actor for one message, chosen by the seed (not FIFO), with
// the log speaking as that actor's node.
bool world::run_one_job() {
  auto& jobs = sched->jobs;
  if (jobs.empty())
    return false;
  std::swap(jobs.front(), jobs[pick(jobs.size())]);
  auto* a = dynamic_cast<caf::abstract_actor*>(jobs.front());
  auto* n = a != nullptr ? env->table().node_of(a->id()) : nullptr;
  log::set_node(n != nullptr ? *n : std::string_view{});
  sched->try_run_once();
  return true;
}

// Runs what is ready and every timer due within `d` of virtual time, in
// time order; the clock ends `d` later.
void world::run_for(caf::timespan d) {
  auto& clock = dynamic_cast<caf::detail::test_actor_clock&>(sys->clock());
  auto end = clock.now() + d;
  for (;;) {
    while (run_one_job()) {
    }
    auto& sch = clock.schedule();
    if (!sch.empty() && sch.begin()->first <= end) {
      clock.trigger_timeout();
      continue;
    }
    if (clock.now() < end)
      clock.current_time = end;
    return;
  }
}

// -- the cluster ------------------------------------------------------------------

void world::start_master(bool recovered) {
  auto store = registry_store::open((dir / "master").string(), disk->opener());
  if (!store) {
    violation("registry does not open: " + caf::to_string(store.error()));
    return;
  }
  master_options mo = base;
  if (recovered) {
    auto snap = (*store)->load();
    if (!snap) {
      violation("registry does not load: " + caf::to_string(snap.error()));
      return;
    }
    mo.recovered = std::move(*snap);
  }
  spawn_master_actors(std::move(*store), std::move(mo));
}

// The master's actors on `store`; agents and frameworks are pointed at it
// (as they find a restarted or newly elected master by its address).
void world::spawn_master_actors(std::unique_ptr<registry_store> store, master_options mo) {
  registrar = spawn_registrar(*sys, std::move(store));
  mo.seed = derive_seed(opts.seed, "master#" + std::to_string(++restarts));
  mo.node = node;
  master = spawn_master(*sys, registrar, mo);
  node_register(node, mo.node_name, master);
  node_register(node, mo.node_name == "master" ? "registrar" : mo.node_name + "/registrar",
                registrar);
  master_down = false;
  for (auto& a : agents)
    if (a)
      caf::send_as(a, a, connect_atom_t::value, master);
  for (auto& f : frameworks)
    if (f)
      caf::anon_send(f, connect_atom_t::value, master);
  for (auto& f : app_frameworks)
    caf::anon_send(f, connect_atom_t::value, master);
}

// Standby masters: every master process starts and joins the election;
// the cluster's agents start once one leads.
void world::start_standby_masters() {
  standby_masters::hooks h;
  h.line = [this](const std::string& l) { line(l); };
  h.start_leader = [this](size_t i, std::unique_ptr<registry_store> st, registry_snapshot snap,
                          uint64_t epoch) {
    return start_leader(i, std::move(st), std::move(snap), epoch);
  };
  h.stop_leader = [this](size_t i) { stop_leader(i); };
  h.violation = [this](const std::string& what) { violation(what); };
  ha = std::make_unique<standby_masters>(*sys, env, dir.string(), disk->opener(), opts.masters,
                                         std::move(h));
  led.resize(opts.masters);
  master_down = true;
  for (size_t i = 0; i < opts.masters; ++i)
    ha->start(i);
  for (int k = 0; k < 100 && master_down; ++k)
    run_for(100ms);
  if (master_down)
    violation("no master was elected within 10 s of the cluster's start");
}

caf::error world::start_leader(size_t slot, std::unique_ptr<registry_store> store,
                               registry_snapshot snap, uint64_t epoch) {
  master_options mo = base;
  mo.recovered = std::move(snap);
  mo.epoch = epoch;
  mo.node_name = ha->name(slot);
  spawn_master_actors(std::move(store), std::move(mo));
  led.at(slot) = {master, registrar};
  return caf::none;
}

// Master `slot`'s process ended: its actors go with it.
void world::stop_leader(size_t slot) {
  auto [m, r] = led.at(slot);
  for (auto& a : {m, r})
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  if (m == master)
    master_down = true;
  led[slot] = {};
}

// The node name of the master that leads (or last led).
std::string world::master_node() const {
  if (!ha)
    return "master";
  auto l = ha->leader();
  return ha->name(l ? *l : 0);
}

std::string world::master_dir() const {
  if (!ha)
    return (dir / "master").string();
  auto l = ha->leader();
  return ha->store_dir(l ? *l : 0);
}

void world::start_agent(size_t i, const std::string& recover) {
  auto ao = agent_opts.at(i);
  ao.master = master;
  ao.recover = recover;
  auto a = spawn_agent(*sys, std::move(ao));
  auto alive = std::make_shared<bool>(true);
  a->attach_functor([alive] { *alive = false; });
  agent_alive.at(i) = alive;
  node_register(node, agent_opts[i].node_name, a);
  caf::send_as(a, a, start_atom::value, std::string{});
  agents.at(i) = a;
  agent_down.at(i) = false;
}

// Starts (or, after a kill, restarts with its framework id: a failover) the
// scheduler of job `j`.
void world::start_framework(size_t j) {
  auto job = jobs.at(j);
  scheduler_options so;
  so.name = job.name;
  so.user = "sim";
  so.roles = {job.role};
  so.master = master;
  so.failover_timeout = 3600;
  so.stop_timeout = 3600s; // a lost teardown is asked again until the links heal
  so.partition_aware = job.partition_aware;
  so.runtime = env;
  so.node_name = "fw/" + job.name;
  so.framework_id = logs.at(j)->framework_id;
  job.seed = derive_seed(opts.seed, so.node_name + "#" + so.framework_id);
  frameworks.at(j) = sys->spawn<sim_framework>(so, std::move(job), logs[j]);
  node_register(node, so.node_name, frameworks[j]);
  framework_down.at(j) = false;
}

// The cluster's shape and workload, drawn from the seed.
void world::build_cluster() {
  node = spawn_node(*sys, "sim");
  base.runtime = env;
  base.allocation_interval = 1s;
  // Links here lose messages without closing: an offer lost on its way to
  // a scheduler would hold its agent's resources for ever (seed 1023), as
  // Mesos without --offer_timeout. Longer than any sample framework holds one.
  base.offer_timeout = 60s;
  const char* roles[] = {"*", "eng", "ops", "eng/ml"};
  if (draw() < 0.5)
    base.initial_weights = {{"eng", 1.0 + static_cast<double>(pick(3))}, {"ops", 1.0}};
  if (opts.masters > 1)
    start_standby_masters();
  else
    start_master(false);
  apps = std::make_unique<sample_apps>(dir / "apps", derive_seed(opts.seed, "apps"));
  cont = make_in_process_containerizer(
    *sys, [execs = executors, apps = apps.get()](caf::actor_system& s, executor_options o) {
      auto a = apps->spawn_executor(s, o);
      if (!a)
        a = s.spawn<sim_executor>(std::move(o));
      auto alive = std::make_shared<bool>(true);
      a->attach_functor([alive] { *alive = false; });
      execs->push_back(exec_ref{a.address(), alive});
      return a;
    });
  size_t n = 1 + pick(opts.agents_max);
  res.agents = n;
  double total_cpus = 0;
  for (size_t i = 0; i < n; ++i) {
    agent_options ao;
    ao.hostname = "host" + std::to_string(i);
    auto cpus = 1 + pick(8);
    auto mem = 1024 * (1 + pick(8));
    total_cpus += static_cast<double>(cpus);
    ao.res = *resources::parse("cpus:" + std::to_string(cpus) + ";mem:" + std::to_string(mem));
    ao.work_dir = (dir / ("agent" + std::to_string(i))).string();
    ao.containers = cont;
    ao.node = node;
    ao.runtime = env;
    ao.open_store = disk->opener();
    ao.node_name = "agent/" + std::to_string(i);
    ao.executor_shutdown_grace = 2s;
    agent_opts.push_back(ao);
    agents.emplace_back();
    agent_down.push_back(false);
    agent_alive.push_back(nullptr);
    start_agent(i, "reconnect");
  }
  size_t n_jobs = 1 + pick(4);
  for (size_t j = 0; j < n_jobs; ++j) {
    job_spec job;
    job.name = "job" + std::to_string(j);
    job.role = roles[pick(4)];
    job.tasks = 2 + pick(11);
    bool small = draw() < 0.5;
    job.per_task = *resources::parse(small ? "cpus:0.5;mem:128" : "cpus:1;mem:256");
    job.shared_executor = draw() < 0.3;
    // A shared executor of small tasks takes resources of its own (charged
    // while it has tasks); with a task it still fits the smallest agent
    // (1 cpu). No draw: the seeds' runs stay as they were.
    if (job.shared_executor && small)
      job.per_executor = *resources::parse("cpus:0.1;mem:32");
    job.partition_aware = draw() < 0.5;
    res.tasks += job.tasks;
    jobs.push_back(std::move(job));
    logs.push_back(std::make_shared<job_log>());
    frameworks.emplace_back();
    framework_down.push_back(false);
    ++res.frameworks;
    start_framework(j);
  }
  start_sample_apps(total_cpus);
  line("cluster agents=" + std::to_string(n) + " frameworks=" + std::to_string(res.frameworks));
}

// The sample frameworks, each with a chance of 0.3: a word count over 3-8
// files placed on the agents' hosts, a gang of up to 6 ranks (never more
// than the cluster's cpus can hold).
void world::start_sample_apps(double total_cpus) {
  auto options = [&](const std::string& name) {
    scheduler_options so;
    so.name = name;
    so.user = "sim";
    so.master = master;
    so.failover_timeout = 3600;
    so.stop_timeout = 3600s;
    so.runtime = env;
    so.node_name = "fw/" + name;
    return so;
  };
  if (draw() < 0.3) {
    app_frameworks.push_back(
      apps->start_hadoop(*sys, options("wordcount"), 3 + pick(6), agents.size()));
    ++res.frameworks;
  }
  if (draw() < 0.3) {
    auto most = std::min<size_t>(6, static_cast<size_t>(total_cpus));
    auto ranks = static_cast<uint32_t>(1 + pick(std::max<size_t>(1, most)));
    app_frameworks.push_back(apps->start_mpi(*sys, options("gang"), ranks));
    ++res.frameworks;
  }
}

// Kills the actor the node knows as `name`, as `caldera kill-actor` does.
void world::kill_named(const std::string& name) {
  caf::anon_send(node, make<schema::KillActor>([&](auto b) { b.setName(name); }));
}

std::optional<state_msg> world::state() {
  if (master_down)
    return std::nullopt;
  caf::scoped_actor self{*sys};
  auto rh = self->request(master, caf::infinite, get_state_msg{});
  while (sched->try_run_once()) {
  }
  std::optional<state_msg> out;
  rh.receive([&](const state_msg& s) { out = s; }, [&](caf::error&) {});
  return out;
}

// -- faults ---------------------------------------------------------------------

std::pair<std::string, std::string> world::random_pair() {
  size_t i = pick(agents.size());
  auto agent = agent_opts[i].node_name;
  auto m = master_node();
  switch (pick(3)) {
    case 0:
      return {m, agent};
    case 1:
      return {m, "fw/" + logs[pick(logs.size())]->name};
    default: {
      std::vector<std::string> execs;
      for (auto& n : env->table().nodes())
        if (n.rfind(agent + "/exec/", 0) == 0)
          execs.push_back(n);
      if (execs.empty())
        return {m, agent};
      return {agent, execs[pick(execs.size())]};
    }
  }
}

void world::partition_pair() {
  auto [a, b] = random_pair();
  bool both = draw() < 0.7;
  if (draw() < 0.5)
    std::swap(a, b);
  env->table().cut(a, b, both);
  fault("partition", a + (both ? " <-> " : " -> ") + b);
}

void world::link_faults() {
  auto [a, b] = random_pair();
  link_fault f;
  f.drop = draw() < 0.5 ? 0.2 * draw() : 0;
  f.duplicate = draw() < 0.5 ? 0.2 * draw() : 0;
  f.delay = draw() < 0.7 ? 0.5 * draw() : 0;
  // Draws are made for every kind, so that leaving one out changes nothing else.
  if (!opts.allows("drop"))
    f.drop = 0;
  if (!opts.allows("duplicate"))
    f.duplicate = 0;
  if (!opts.allows("delay"))
    f.delay = 0;
  if (!f.any())
    return;
  f.max_delay = std::chrono::milliseconds(1 + pick(3000));
  env->table().set(a, b, f);
  char buf[128];
  std::snprintf(buf, sizeof(buf), " drop=%.2f dup=%.2f delay=%.2f", f.drop, f.duplicate, f.delay);
  fault("link", a + " -> " + b + buf);
}

// An agent that ended by itself (a checkpoint it cannot write at start) is
// restarted by its supervisor, as systemd restarts caldera-agent.
void world::supervise() {
  for (size_t i = 0; i < agents.size(); ++i)
    if (!agent_down[i] && agent_alive[i] && !*agent_alive[i]) {
      fault("restart", agent_opts[i].node_name + " (ended by itself; supervisor)");
      start_agent(i, "reconnect");
    }
}

void world::heal_some() {
  auto faults = env->table().faults();
  for (auto& [link, f] : faults)
    if (draw() < 0.3) {
      env->table().set(link.first, link.second, link_fault{});
      fault("heal", link.first + " -> " + link.second);
    }
  if (ha)
    heal_masters();
  else if (master_down && draw() < 0.5) {
    fault("restart", "master");
    start_master(true);
  }
  for (size_t j = 0; j < jobs.size(); ++j)
    if (framework_down[j] && draw() < 0.4) {
      fault("restart", "fw/" + jobs[j].name + " (failover)");
      start_framework(j);
    }
  for (size_t i = 0; i < agents.size(); ++i)
    if (agent_down[i] && draw() < 0.4) {
      auto how = draw() < 0.8 ? "reconnect" : "cleanup";
      fault("restart", agent_opts[i].node_name + " recover=" + how);
      start_agent(i, how);
    }
}

// Standby masters: a killed master process restarts (as a standby), a cut
// link to the coordinator heals.
void world::heal_masters() {
  for (size_t i = 0; i < ha->size(); ++i) {
    if (ha->coordinator_cut(i) && draw() < 0.3) {
      ha->set_cut(i, false);
      fault("heal", ha->name(i) + " -> coordinator");
    }
    if (!ha->up(i) && draw() < 0.5) {
      fault("restart", ha->name(i));
      ha->start(i);
    }
  }
}

// Kills the master (the leader, or with standbys sometimes a standby).
void world::kill_master() {
  if (ha) {
    auto l = ha->leader();
    size_t i = l && draw() < 0.7 ? *l : pick(ha->size());
    if (ha->up(i)) {
      fault("kill-process", ha->name(i));
      ha->kill(i);
    }
    return;
  }
  if (master_down)
    return;
  // The master process ends when the master or the registrar actor dies
  // (caldera-master exits with status 3): both go; the simulation restarts
  // them later. A killed allocator actor is replaced by the master, from
  // its own books, in the same process.
  double r = draw();
  std::string target = r < 0.65 ? "master" : r < 0.8 ? "registrar" : "allocator";
  fault("kill-actor", target);
  kill_named(target);
  if (target == "allocator")
    return;
  caf::anon_send_exit(master, caf::exit_reason::kill);
  caf::anon_send_exit(registrar, caf::exit_reason::kill);
  master_down = true;
}

// Standby masters: cuts one master's link to the coordinator (its leases
// and registry writes; its links to agents and frameworks stay).
void world::cut_coordinator() {
  size_t i = pick(ha->size());
  if (ha->coordinator_cut(i))
    return;
  ha->set_cut(i, true);
  fault("partition", ha->name(i) + " <-> coordinator");
}

void world::inject_fault() {
  switch (pick(ha ? 12 : 10)) {
    case 10:
    case 11:
      if (opts.allows("coordinator-cut"))
        cut_coordinator();
      break;
    case 9: {
      size_t j = pick(jobs.size());
      if (framework_down[j] || logs[j]->stopped || !opts.allows("kill-scheduler"))
        break;
      fault("kill-actor", "fw/" + jobs[j].name);
      kill_named("fw/" + jobs[j].name);
      framework_down[j] = true;
      break;
    }
    case 8: {
      if (!opts.allows("disk-full"))
        break;
      size_t i = pick(agents.size() + 1);
      auto where = i == agents.size() ? master_dir() : agent_opts[i].work_dir;
      auto n = 1 + pick(3);
      disk->fail_writes(where, n);
      fault("disk-full", (i == agents.size() ? master_node() : agent_opts[i].node_name)
                           + " next " + std::to_string(n) + " writes");
      break;
    }
    case 0:
      if (opts.allows("kill-master"))
        kill_master();
      break;
    case 1: {
      size_t i = pick(agents.size());
      if (!agent_down[i] && opts.allows("kill-agent")) {
        fault("kill-actor", agent_opts[i].node_name);
        kill_named(agent_opts[i].node_name);
        agent_down[i] = true;
      }
      break;
    }
    case 2:
    case 3:
      if (opts.allows("partition"))
        partition_pair();
      break;
    case 4:
    case 5:
      link_faults();
      break;
    case 6: {
      if (!opts.allows("clock-jump"))
        break;
      double secs = (draw() < 0.5 ? -1.0 : 1.0) * static_cast<double>(1 + pick(3600));
      env->jump_wall(secs);
      fault("clock-jump", std::to_string(static_cast<int>(secs)) + "s");
      break;
    }
    default: {
      auto live = live_executors();
      if (!live.empty() && opts.allows("kill-executor")) {
        auto& h = live[pick(live.size())];
        auto* n = env->table().node_of(h.id());
        fault("kill-executor", n != nullptr ? *n : "?");
        caf::anon_send_exit(h, caf::exit_reason::kill);
      }
      break;
    }
  }
}

// -- checks ---------------------------------------------------------------------

std::vector<caf::actor> world::live_executors() {
  std::vector<caf::actor> out;
  for (auto& e : *executors)
    if (*e.alive)
      if (auto h = caf::actor_cast<caf::actor>(e.addr))
        out.push_back(h);
  return out;
}

// What the master charges each agent is what it offered plus what its live
// tasks and their executors hold, and never more than the agent has.
void world::check_accounting(const state_msg& st) {
  auto v = st.read();
  std::map<std::string, resources> held;
  for (auto t : v->getTasks())
    if (!is_terminal(t.getState()) && t.getState() != schema::TaskState::UNREACHABLE)
      held[t.getAgentId()] += *resources::from_capnp(t.getResources());
  for (auto e : v->getExecutors()) // executors' own resources, once each
    held[e.getAgentId()] += *resources::from_capnp(e.getResources());
  for (auto a : v->getAgents()) {
    auto total = *resources::from_capnp(a.getResources());
    auto used = *resources::from_capnp(a.getUsedResources());
    auto offered = *resources::from_capnp(a.getOfferedResources());
    std::string id = a.getId();
    if (!total.contains(used + offered))
      violation("agent " + id + " allocates beyond its resources: used " + used.to_string()
                + " + offered " + offered.to_string() + " > " + total.to_string());
    if (used != held[id])
      violation("agent " + id + " is charged " + used.to_string() + " but its tasks hold "
                + held[id].to_string());
  }
}

void world::check_step() {
  for (auto& l : logs)
    if (!l->violations.empty())
      violation(l->violations.front());
  if (auto st = state())
    check_accounting(*st);
}

void world::safety_step() {
  ++step;
  supervise();
  if (draw() < 0.3)
    heal_some();
  if (draw() < opts.fault_rate)
    inject_fault();
  run_for(std::chrono::milliseconds(100 + pick(10'000)));
  check_step();
}

// -- liveness ---------------------------------------------------------------------

bool world::converged() {
  for (auto& l : logs)
    if (!l->done() || !l->in_flight.empty())
      return false;
  if (!apps->done())
    return false;
  auto st = state();
  if (!st)
    return false;
  auto v = st->read();
  for (auto t : v->getTasks())
    if (!is_terminal(t.getState()))
      return false;
  for (auto a : v->getAgents())
    if (!a.getActive() || a.getUsedResources().size() > 0)
      return false;
  return true;
}

void world::final_checks() {
  for (auto& l : logs)
    if (!l->done() || !l->in_flight.empty()) {
      std::string stuck;
      for (auto& id : l->in_flight) {
        auto& ups = l->updates[id];
        stuck += " " + id + "="
                 + (ups.empty() ? std::string{"no update"} : state_name(ups.back().state));
      }
      violation("job " + l->name + " did not finish: " + std::to_string(l->finished) + " of "
                + std::to_string(l->tasks) + " done, in flight:" + stuck);
    }
  if (auto st = state()) {
    auto v = st->read();
    for (auto t : v->getTasks())
      if (!is_terminal(t.getState()))
        violation(std::string{"task "} + t.getId().cStr() + " is still "
                  + state_name(t.getState()) + " after the liveness phase");
    for (auto a : v->getAgents()) {
      if (!a.getActive())
        violation(std::string{"agent "} + a.getId().cStr() + " is not active after healing");
      if (a.getUsedResources().size() > 0)
        violation(std::string{"agent "} + a.getId().cStr()
                  + " still charges resources after every framework ended");
    }
  }
  if (auto st = state())
    check_registry(*st);
  if (auto p = apps->problem(); !p.empty())
    violation(p);
  for (auto& h : live_executors()) {
    auto* n = env->table().node_of(h.id());
    violation("executor " + (n != nullptr ? *n : std::string{"?"})
              + " still runs after its framework ended");
  }
}

// The registry on the master's disk admits the agents the master knows, and
// marks unreachable exactly those it shows unreachable.
void world::check_registry(const state_msg& st) {
  auto store = registry_store::open(master_dir(), disk->opener());
  auto snap = store ? (*store)->load() : caf::expected<registry_snapshot>{store.error()};
  if (!snap) {
    violation("registry does not load after the run: " + caf::to_string(snap.error()));
    return;
  }
  std::map<std::string, bool> in_registry; // agent id -> unreachable
  for (auto& rec : snap->agents)
    in_registry[rec.read()->getAgentId()] = rec.read()->getUnreachableAt() > 0;
  std::map<std::string, bool> in_master;
  for (auto a : st.read()->getAgents())
    in_master[a.getId()] = a.getUnreachable();
  for (auto& [id, unreachable] : in_master) {
    auto r = in_registry.find(id);
    if (r == in_registry.end())
      violation("agent " + id + " is known to the master but not admitted in its registry");
    else if (r->second != unreachable)
      violation("agent " + id + " is " + (unreachable ? "unreachable" : "reachable")
                + " in the master but not in its registry");
  }
  for (auto& [id, unreachable] : in_registry)
    if (in_master.count(id) == 0)
      violation("agent " + id + " is admitted in the registry but unknown to the master");
  if (ha)
    if (auto d = ha->compare_registry(**store); !d.empty())
      violation(d);
}

// Every fault heals; the cluster must converge within an hour of virtual time.
void world::liveness() {
  line("liveness");
  env->table().heal_all();
  if (ha) {
    for (size_t i = 0; i < ha->size(); ++i) {
      ha->set_cut(i, false);
      ha->start(i);
    }
  } else if (master_down) {
    start_master(true);
  }
  for (size_t i = 0; i < agents.size(); ++i)
    if (agent_down[i])
      start_agent(i, "reconnect");
  for (size_t j = 0; j < jobs.size(); ++j)
    if (framework_down[j])
      start_framework(j);
  for (int k = 0; k < 360 && res.violation.empty(); ++k) {
    ++step;
    supervise();
    run_for(10s);
    check_step();
    if (converged())
      break;
  }
  run_for(60s); // executors of ended frameworks get their shutdown grace
  final_checks();
}

} // namespace

run_result run(const run_options& opts) {
  world w{opts};
  w.build_cluster();
  w.run_for(1s);
  w.check_step();
  for (size_t i = 0; i < opts.steps && w.res.ok(); ++i)
    w.safety_step();
  if (w.res.ok())
    w.liveness();
  auto& r = w.res;
  r.steps = w.step;
  r.hash = w.hash;
  r.virtual_seconds = w.env->elapsed();
  auto c = w.env->table().counts();
  r.delivered = c.delivered;
  r.dropped = c.dropped;
  r.duplicated = c.duplicated;
  r.delayed = c.delayed;
  for (auto& l : w.logs) {
    r.attempts += l->launched;
    r.finished += l->finished;
  }
  r.tail.assign(w.tail.begin(), w.tail.end());
  return r;
}

} // namespace caldera::sim
