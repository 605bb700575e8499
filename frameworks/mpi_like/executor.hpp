// mpi_like's executor: one per rank. It computes its share of the job (the
// midpoint rule for pi = integral of 4/(1+x^2) over [0,1], as a vector of K
// block sums), finds the other ranks through the scheduler (Hello, then the
// Roster), and runs a ring allreduce (reduce-scatter then allgather, 2(N-1)
// steps of RingChunk messages to its right neighbour) so that every rank
// ends with the whole vector; their sum is pi.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "actors/executor.hpp"

namespace caldera::mpi {

/// The rank's local vector before the allreduce (K block sums of its
/// midpoints), exposed for tests.
std::vector<double> local_share(uint32_t rank, uint32_t size, uint32_t blocks,
                                uint32_t samples_per_block);

class mpi_executor : public caldera::executor {
public:
  mpi_executor(caf::actor_config& cfg, executor_options opts, bool in_process);

protected:
  void launch_task(const task_info& task) override;
  void framework_message(const std::string& data) override;
  void kill_task(const std::string& task_id) override;
  caf::message_handler extra_handlers() override;

private:
  std::pair<size_t, size_t> bounds(uint32_t chunk) const;
  void send_step();
  void try_advance();
  void done();

  bool in_process_;
  std::string task_id_;
  uint32_t attempt_ = 0, rank_ = 0, size_ = 1, step_ = 0;
  std::vector<double> v_;
  caf::actor right_;
  bool roster_ = false;
  bool over_ = false;
  std::map<uint32_t, std::pair<uint32_t, std::vector<double>>> inbox_; // step -> chunk, values
};

} // namespace caldera::mpi
