#include "frameworks/mpi_like/executor.hpp"

#include <cstdio>

#include <caf/actor_system.hpp>

#include "actors/app_message.hpp"
#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/peer.hpp"
#include "frameworks/mpi_like/mpi.capnp.h"

namespace caldera::mpi {

std::vector<double> local_share(uint32_t rank, uint32_t size, uint32_t blocks,
                                uint32_t samples_per_block) {
  std::vector<double> v(blocks, 0.0);
  double width = 1.0 / (double(blocks) * double(samples_per_block));
  for (uint32_t k = 0; k < blocks; ++k)
    for (uint32_t j = rank; j < samples_per_block; j += size) {
      double x = (double(k) + (double(j) + 0.5) / double(samples_per_block)) / double(blocks);
      v[k] += 4.0 / (1.0 + x * x) * width;
    }
  return v;
}

mpi_executor::mpi_executor(caf::actor_config& cfg, executor_options opts, bool in_process)
  : caldera::executor(cfg, std::move(opts)), in_process_(in_process) {
}

std::pair<size_t, size_t> mpi_executor::bounds(uint32_t chunk) const {
  size_t k = v_.size();
  return {k * chunk / size_, k * (chunk + 1) / size_};
}

void mpi_executor::launch_task(const task_info& task) {
  bool ok = guarded("RankTask", [&] {
    auto m = from_bytes<RankTask>(task.data);
    auto v = m.read();
    task_id_ = task.task_id;
    attempt_ = v->getAttempt();
    rank_ = v->getRank();
    size_ = std::max<uint32_t>(v->getSize(), 1);
    v_ = local_share(rank_, size_, std::max<uint32_t>(v->getVectorLength(), 1),
                     std::max<uint32_t>(v->getSamplesPerBlock(), 1));
  });
  if (!ok) {
    send_status(task.task_id, schema::TaskState::FAILED, "task data does not decode");
    return;
  }
  send_status(task_id_, schema::TaskState::RUNNING);
  std::string host = options().agent_endpoint ? options().agent_endpoint->host
                                              : std::string{"127.0.0.1"};
  auto addr = advertise(system(), caf::actor_cast<caf::actor>(this), host, in_process_);
  if (!addr) {
    send_status(task_id_, schema::TaskState::FAILED,
                "cannot listen for the ring: " + describe(addr.error()));
    return;
  }
  auto hello = make<Hello>([&](Hello::Builder b) {
    b.setAttempt(attempt_);
    b.setRank(rank_);
    b.setAddress(*addr);
  });
  send_message(to_bytes(hello));
  if (size_ == 1)
    done();
}

void mpi_executor::framework_message(const std::string& data) {
  if (roster_ || over_ || size_ == 1)
    return;
  std::string right;
  bool ok = guarded("Roster", [&] {
    auto m = from_bytes<Roster>(data);
    auto v = m.read();
    if (v->getAttempt() != attempt_ || v->getAddresses().size() != size_)
      return;
    right = v->getAddresses()[(rank_ + 1) % size_];
  });
  if (!ok || right.empty())
    return;
  roster_ = true;
  resolve(
    this, right,
    [this](caf::actor a) {
      right_ = std::move(a);
      send_step();
      try_advance();
    },
    [this, right](const caf::error& err) {
      over_ = true;
      send_status(task_id_, schema::TaskState::FAILED,
                  "cannot reach rank " + std::to_string((rank_ + 1) % size_) + " at " + right
                    + ": " + describe(err));
    });
}

// Sends this step's outgoing chunk to the right neighbour.
void mpi_executor::send_step() {
  if (over_ || !right_ || step_ >= 2 * (size_ - 1))
    return;
  uint32_t n = size_;
  uint32_t chunk = step_ < n - 1 ? (rank_ + n - step_ % n) % n
                                 : (rank_ + 1 + n - (step_ - (n - 1)) % n) % n;
  auto [lo, hi] = bounds(chunk);
  send(right_, make_app<RingChunk>("ring", [&](RingChunk::Builder b) {
         b.setAttempt(attempt_);
         b.setStep(step_);
         b.setChunk(chunk);
         auto l = b.initValues(static_cast<unsigned>(hi - lo));
         for (size_t i = lo; i < hi; ++i)
           l.set(static_cast<unsigned>(i - lo), v_[i]);
       }));
}

// Applies what the left neighbour sent for the current step, if it came.
void mpi_executor::try_advance() {
  while (!over_ && right_ && step_ < 2 * (size_ - 1)) {
    auto i = inbox_.find(step_);
    if (i == inbox_.end())
      return;
    auto [chunk, values] = std::move(i->second);
    inbox_.erase(i);
    auto [lo, hi] = bounds(chunk);
    if (values.size() != hi - lo) {
      over_ = true;
      send_status(task_id_, schema::TaskState::FAILED, "ring chunk of the wrong size");
      return;
    }
    bool reduce = step_ < size_ - 1;
    for (size_t k = lo; k < hi; ++k)
      v_[k] = reduce ? v_[k] + values[k - lo] : values[k - lo];
    ++step_;
    send_step();
  }
  if (!over_ && step_ == 2 * (size_ - 1))
    done();
}

void mpi_executor::done() {
  if (over_)
    return;
  over_ = true;
  double sum = 0;
  for (double x : v_)
    sum += x;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "result=%.17g", sum);
  send_status(task_id_, schema::TaskState::FINISHED, buf);
  finish(); // the rank's work is done: exit once the update is acknowledged
}

void mpi_executor::kill_task(const std::string& task_id) {
  over_ = true;
  send_status(task_id, schema::TaskState::KILLED, "killed");
}

caf::message_handler mpi_executor::extra_handlers() {
  return {
    [this](const app_msg& m) {
      guarded("RingChunk", [&] {
        auto v = m.read();
        if (v->getKind() != "ring")
          return;
        auto c = payload<RingChunk>(v);
        if (c.getAttempt() != attempt_ || c.getStep() < step_)
          return;
        std::vector<double> values;
        values.reserve(c.getValues().size());
        for (auto x : c.getValues())
          values.push_back(x);
        inbox_[c.getStep()] = {c.getChunk(), std::move(values)};
      });
      try_advance();
    },
  };
}

} // namespace caldera::mpi
