// mpi-like: a gang-scheduled job of N ranks on a caldera cluster that
// computes pi with a ring allreduce between the ranks.
//
//   mpi-like --master HOST:PORT --ranks N [--cpus C --mem M] [--role ROLE]
//            [--gang-timeout 10s] [--vector-length K] [--samples S]
//
// and the options every framework takes (actors/bootstrap.hpp). Prints the
// result and exits 0 when it is verified (|result - pi| < 1e-8), 1 otherwise
// (or when no master was reached), 2 on a bad command line. `mpi-like executor` is the rank
// executor the agents start.
#include <cstdio>
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/bootstrap.hpp"
#include "frameworks/mpi_like/executor.hpp"
#include "frameworks/mpi_like/scheduler.hpp"

namespace {

struct mpi_config : caldera::framework_config {
  uint32_t ranks = 4;
  double cpus = 0.5;
  double mem = 64;
  caf::timespan gang_timeout = std::chrono::seconds(10);
  caf::timespan backoff = std::chrono::seconds(3);
  uint32_t vector_length = 1024;
  uint32_t samples = 64;
  int max_attempts = 3;
  bool quiet = false;

  mpi_config() : framework_config("mpi-like") {
    failover_timeout = 60;
    options()
      .add(ranks, "ranks", "number of ranks (all start together)")
      .add(cpus, "cpus", "cpus per rank")
      .add(mem, "mem", "memory per rank, MiB")
      .add(gang_timeout, "gang-timeout", "how long to gather offers before backing off")
      .add(backoff, "backoff", "how long to stay out after a gang timeout")
      .add(vector_length, "vector-length", "length of the allreduced vector")
      .add(samples, "samples", "midpoints per vector element")
      .add(max_attempts, "max-attempts", "gang launches before giving up")
      .add(quiet, "quiet", "no progress lines");
  }

  std::optional<std::string> validate() override {
    if (auto why = framework_config::validate())
      return why;
    if (ranks < 1 || ranks > 4096)
      return "option 'ranks': must be 1..4096";
    if (!(cpus > 0) || !(mem > 0))
      return "options 'cpus' and 'mem': must be positive";
    if (vector_length < ranks)
      return "option 'vector-length': must be at least the number of ranks";
    if (samples < 1)
      return "option 'samples': must be at least 1";
    if (max_attempts < 1)
      return "option 'max-attempts': must be at least 1";
    return std::nullopt;
  }
};

} // namespace

int main(int argc, char** argv) {
  using namespace caldera;
  if (argc > 1 && std::string{argv[1]} == "executor")
    return run_executor_process("mpi-like executor", argc - 1, argv + 1,
                                [](caf::actor_system& sys, executor_options o) {
                                  sys.spawn<mpi::mpi_executor>(std::move(o), false);
                                });
  mpi_config cfg;
  auto report = std::make_shared<mpi::mpi_report>();
  int rc = run_framework(cfg, argc, argv, [&](caf::actor_system& sys, scheduler_options so) {
    mpi::mpi_options mo;
    mo.ranks = cfg.ranks;
    mo.rank_resources = "cpus:" + std::to_string(cfg.cpus) + ";mem:" + std::to_string(cfg.mem);
    mo.gang_timeout = cfg.gang_timeout;
    mo.backoff = cfg.backoff;
    mo.vector_length = cfg.vector_length;
    mo.samples_per_block = cfg.samples;
    mo.max_attempts = cfg.max_attempts;
    mo.executor_command = executable_path() + " executor";
    mo.verbose = !cfg.quiet;
    return sys.spawn<mpi::mpi_scheduler>(so, mo, report);
  });
  if (rc != 0 || cfg.help_printed())
    return rc;
  if (!report->done)
    std::fprintf(stderr, "mpi-like: interrupted\n");
  return report->succeeded ? 0 : 1;
}
