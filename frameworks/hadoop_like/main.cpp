// hadoop-like: one MapReduce job on a caldera cluster.
//
//   hadoop-like --master HOST:PORT --job wordcount|grep --input DIR --output DIR
//               [--pattern REGEX] [--reducers R] [--role ROLE] [--placement FILE]
//               [--locality-wait 3s] [--split-size BYTES] [--task-resources RES]
//
// and the options every framework takes (actors/bootstrap.hpp: --role,
// --connect-timeout, --principal, ...). Exits 0 when the output is complete
// (DIR/_SUCCESS written), 1 when the job failed or no master was reached,
// 2 on a bad command line. `hadoop-like executor` is the executor the
// agents start (it reads CALDERA_* variables).
#include <cstdio>
#include <filesystem>
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/bootstrap.hpp"
#include "frameworks/hadoop_like/executor.hpp"
#include "frameworks/hadoop_like/scheduler.hpp"

namespace {

struct job_config : caldera::framework_config {
  std::string job = "wordcount";
  std::string pattern;
  std::string input;
  std::string output;
  uint32_t reducers = 2;
  std::string placement;
  caf::timespan locality_wait = std::chrono::seconds(3);
  uint64_t split_size = 64 << 10;
  std::string task_resources = "cpus:0.5;mem:64";
  int max_attempts = 4;
  bool quiet = false;

  job_config() : framework_config("hadoop-like") {
    failover_timeout = 60;
    options()
      .add(job, "job", "wordcount or grep")
      .add(pattern, "pattern", "grep: the regex whose matches are counted")
      .add(input, "input", "directory of text input files")
      .add(output, "output", "directory for part-r-NNNNN files and _SUCCESS")
      .add(reducers, "reducers", "number of reduce tasks")
      .add(placement, "placement", "file of 'FILE HOST[,HOST...]' lines (split locations)")
      .add(locality_wait, "locality-wait", "how long a map waits for a node-local offer")
      .add(split_size, "split-size", "bytes per input split")
      .add(task_resources, "task-resources", "resources of each map or reduce task")
      .add(max_attempts, "max-attempts", "attempts per task before the job fails")
      .add(quiet, "quiet", "no progress lines");
  }

  std::optional<std::string> validate() override {
    if (auto why = framework_config::validate())
      return why;
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

caldera::hadoop::hadoop_options job_options(const job_config& cfg) {
  namespace fs = std::filesystem;
  using namespace caldera;
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
  ho.executor_command = caldera::executable_path() + " executor";
  ho.verbose = !cfg.quiet;
  return ho;
}

int main(int argc, char** argv) {
  using namespace caldera;
  if (argc > 1 && std::string{argv[1]} == "executor")
    return run_executor_process("hadoop-like executor", argc - 1, argv + 1,
                                [](caf::actor_system& sys, executor_options o) {
                                  sys.spawn<hadoop::hadoop_executor>(std::move(o), false);
                                });
  job_config cfg;
  auto report = std::make_shared<hadoop::hadoop_report>();
  int rc = run_framework(cfg, argc, argv, [&](caf::actor_system& sys, scheduler_options so) {
    if (so.name == "hadoop-like")
      so.name = "hadoop-like " + cfg.job;
    return sys.spawn<hadoop::hadoop_scheduler>(so, job_options(cfg), report);
  });
  if (rc != 0 || cfg.help_printed())
    return rc;
  if (!report->done)
    std::fprintf(stderr, "hadoop-like: interrupted\n");
  return report->succeeded ? 0 : 1;
}
