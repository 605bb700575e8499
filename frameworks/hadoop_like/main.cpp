// hadoop-like: one MapReduce job on a caldera cluster.
//
//   hadoop-like --master HOST:PORT --job wordcount|grep --input DIR --output DIR
//               [--pattern REGEX] [--reducers R] [--role ROLE] [--placement FILE]
//               [--locality-wait 3s] [--split-size BYTES] [--task-resources RES]
//
// Exits 0 when the output is complete (DIR/_SUCCESS written), 1 when the job
// failed, 2 on a bad command line. `hadoop-like executor` is the executor the
// agents start (it reads CALDERA_* variables).
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/framework_identity.hpp"
#include "actors/node.hpp"
#include "frameworks/hadoop_like/executor.hpp"
#include "frameworks/hadoop_like/scheduler.hpp"

namespace {

struct job_config : caldera::node_config {
  std::string master = "127.0.0.1:5050";
  std::string job = "wordcount";
  std::string pattern;
  std::string input;
  std::string output;
  uint32_t reducers = 2;
  std::string role = "*";
  std::string placement;
  caf::timespan locality_wait = std::chrono::seconds(3);
  uint64_t split_size = 64 << 10;
  std::string task_resources = "cpus:0.5;mem:64";
  int max_attempts = 4;
  bool quiet = false;

  caldera::master_address master_ep;
  caldera::framework_identity identity;

  job_config() : node_config("hadoop-like") {
    options()
      .add(master, "master", "the master: HOST:PORT, a list, or etcd://HOST:PORT[,...]/PREFIX")
      .add(job, "job", "wordcount or grep")
      .add(pattern, "pattern", "grep: the regex whose matches are counted")
      .add(input, "input", "directory of text input files")
      .add(output, "output", "directory for part-r-NNNNN files and _SUCCESS")
      .add(reducers, "reducers", "number of reduce tasks")
      .add(role, "role", "role to register in")
      .add(placement, "placement", "file of 'FILE HOST[,HOST...]' lines (split locations)")
      .add(locality_wait, "locality-wait", "how long a map waits for a node-local offer")
      .add(split_size, "split-size", "bytes per input split")
      .add(task_resources, "task-resources", "resources of each map or reduce task")
      .add(max_attempts, "max-attempts", "attempts per task before the job fails")
      .add(quiet, "quiet", "no progress lines");
    auto opts = options();
    identity.declare(opts);
  }

  std::optional<std::string> validate() override {
    auto ep = caldera::parse_master_address(master);
    if (!ep)
      return "option 'master': " + caldera::describe(ep.error());
    master_ep = *ep;
    if (job != "wordcount" && job != "grep")
      return "option 'job': '" + job + "' is neither 'wordcount' nor 'grep'";
    if (job == "grep" && pattern.empty())
      return "option 'pattern': grep needs a pattern";
    if (input.empty())
      return "option 'input': required";
    if (output.empty())
      return "option 'output': required";
    if (reducers < 1)
      return "option 'reducers': must be at least 1";
    if (max_attempts < 1)
      return "option 'max-attempts': must be at least 1";
    auto r = caldera::resources::parse(task_resources);
    if (!r || r->empty())
      return "option 'task-resources': '" + task_resources + "' is not a resource list";
    return std::nullopt;
  }
};

} // namespace

int main(int argc, char** argv) {
  using namespace caldera;
  if (argc > 1 && std::string{argv[1]} == "executor")
    return run_executor_process("hadoop-like executor", argc - 1, argv + 1,
                                [](caf::actor_system& sys, executor_options o) {
                                  sys.spawn<hadoop::hadoop_executor>(std::move(o), false);
                                });
  block_termination_signals();
  job_config cfg;
  if (auto err = cfg.configure(argc, argv)) {
    std::fprintf(stderr, "hadoop-like: %s\n", err->c_str());
    return 2;
  }
  if (cfg.help_printed())
    return 0;
  namespace fs = std::filesystem;
  std::error_code ec;
  hadoop::hadoop_options ho;
  ho.kind = cfg.job == "grep" ? hadoop::job_kind::grep : hadoop::job_kind::wordcount;
  ho.pattern = cfg.pattern;
  ho.input = fs::absolute(cfg.input, ec).string();
  ho.output = fs::absolute(cfg.output, ec).string();
  ho.reducers = cfg.reducers;
  ho.placement = cfg.placement;
  ho.locality_wait = cfg.locality_wait;
  ho.split_bytes = cfg.split_size;
  ho.task_resources = cfg.task_resources;
  ho.max_attempts = cfg.max_attempts;
  ho.executor_command = executable_path() + " executor";
  ho.verbose = !cfg.quiet;
  scheduler_options so;
  so.name = "hadoop-like " + cfg.job;
  so.roles = {cfg.role};
  if (auto why = cfg.identity.apply(so)) {
    std::fprintf(stderr, "%s: %s\n", "hadoop-like", why->c_str());
    return 2;
  }
  so.master_endpoint = cfg.master_ep;
  so.failover_timeout = 60;
  caf::actor_system sys{cfg};
  auto report = std::make_shared<hadoop::hadoop_report>();
  auto sched = sys.spawn<hadoop::hadoop_scheduler>(so, ho, report);
  std::thread([sched] {
    wait_for_termination();
    caf::anon_send_exit(sched, caf::exit_reason::user_shutdown);
  }).detach();
  sys.await_all_actors_done();
  if (!report->done)
    std::fprintf(stderr, "hadoop-like: interrupted\n");
  return report->succeeded ? 0 : 1;
}
