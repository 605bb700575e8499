#include "sim/apps.hpp"

#include <cmath>
#include <fstream>
#include <random>

#include <caf/actor_system.hpp>

#include "frameworks/hadoop_like/executor.hpp"
#include "frameworks/hadoop_like/job.hpp"
#include "frameworks/hadoop_like/scheduler.hpp"
#include "frameworks/mpi_like/executor.hpp"
#include "frameworks/mpi_like/scheduler.hpp"

namespace caldera::sim {

struct sample_apps::impl {
  std::filesystem::path dir;
  std::mt19937_64 rng;
  std::optional<hadoop::hadoop_options> ho;
  std::shared_ptr<hadoop::hadoop_report> hadoop;
  std::shared_ptr<mpi::mpi_report> mpi;
};

sample_apps::sample_apps(std::filesystem::path dir, uint64_t seed)
  : impl_(new impl{std::move(dir), std::mt19937_64{seed}, {}, {}, {}}) {
}

sample_apps::~sample_apps() = default;

caf::actor sample_apps::spawn_executor(caf::actor_system& sys, executor_options o) {
  if (o.executor_id.rfind("tasktracker-", 0) == 0)
    return sys.spawn<hadoop::hadoop_executor>(std::move(o), true);
  if (o.executor_id.rfind("rank-", 0) == 0)
    return sys.spawn<mpi::mpi_executor>(std::move(o), true);
  return {};
}

caf::actor sample_apps::start_hadoop(caf::actor_system& sys, scheduler_options so,
                                     size_t files, size_t hosts) {
  auto& d = *impl_;
  hadoop::hadoop_options ho;
  ho.input = (d.dir / "in").string();
  ho.output = (d.dir / "out").string();
  ho.placement = (d.dir / "placement").string();
  ho.reducers = 2;
  ho.split_bytes = 2048;
  ho.max_attempts = 1000; // faults may fail many attempts; the result must stay exact
  std::filesystem::create_directories(ho.input);
  const char* words[] = {"mesos", "caldera", "offer", "agent", "framework", "task",
                         "drf", "share", "actor", "capnp", "rocks", "gang"};
  std::ofstream place{ho.placement};
  for (size_t f = 0; f < files; ++f) {
    auto name = "part" + std::to_string(f) + ".txt";
    std::ofstream out{std::filesystem::path{ho.input} / name};
    for (int l = 0; l < 100; ++l) {
      for (int w = 0; w < 8; ++w)
        out << (w ? " " : "") << words[d.rng() % 12];
      out << "\n";
    }
    place << name << " host" << (f % hosts) << "\n";
  }
  d.ho = ho;
  d.hadoop = std::make_shared<hadoop::hadoop_report>();
  return sys.spawn<hadoop::hadoop_scheduler>(std::move(so), ho, d.hadoop);
}

caf::actor sample_apps::start_mpi(caf::actor_system& sys, scheduler_options so,
                                  uint32_t ranks) {
  auto& d = *impl_;
  mpi::mpi_options mo;
  mo.ranks = ranks;
  mo.rank_resources = "cpus:0.5;mem:64";
  mo.max_attempts = 1000;
  d.mpi = std::make_shared<mpi::mpi_report>();
  return sys.spawn<mpi::mpi_scheduler>(std::move(so), mo, d.mpi);
}

bool sample_apps::done() const {
  auto& d = *impl_;
  return (!d.hadoop || d.hadoop->done) && (!d.mpi || d.mpi->done);
}

std::string sample_apps::problem() const {
  auto& d = *impl_;
  if (d.hadoop) {
    if (!d.hadoop->done)
      return "the word count did not finish";
    if (!d.hadoop->succeeded)
      return "the word count failed: " + d.hadoop->message;
    auto got = hadoop::read_output(d.ho->output);
    auto want = hadoop::count_directly(d.ho->kind, d.ho->pattern, d.ho->input);
    if (!got || !want || *got != *want)
      return "the word count's output differs from a direct count";
  }
  if (d.mpi) {
    if (!d.mpi->done)
      return "the gang did not finish";
    if (!d.mpi->succeeded)
      return "the gang failed: " + d.mpi->message;
    if (std::fabs(d.mpi->result - M_PI) >= 1e-8)
      return "the gang's pi is " + std::to_string(d.mpi->result);
  }
  return {};
}

std::string sample_apps::summary() const {
  auto& d = *impl_;
  std::string out;
  if (d.hadoop)
    out += " wordcount_maps=" + std::to_string(d.hadoop->maps_done)
           + " wordcount_failed_attempts=" + std::to_string(d.hadoop->failed);
  if (d.mpi)
    out += " gang_attempts=" + std::to_string(d.mpi->attempts);
  return out;
}

} // namespace caldera::sim
