#include "frameworks/hadoop_like/executor.hpp"

#include <caf/actor_system.hpp>

#include "actors/app_message.hpp"
#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "actors/peer.hpp"
#include "frameworks/hadoop_like/hadoop.capnp.h"

namespace caldera::hadoop {

namespace {

job_kind kind_of(JobKind k) {
  return k == JobKind::GREP ? job_kind::grep : job_kind::wordcount;
}

} // namespace

hadoop_executor::hadoop_executor(caf::actor_config& cfg, executor_options opts,
                                 bool in_process)
  : caldera::executor(cfg, std::move(opts)), in_process_(in_process) {
}

const std::string& hadoop_executor::address() {
  if (address_.empty()) {
    std::string host = options().agent_endpoint ? options().agent_endpoint->host
                                                : std::string{"127.0.0.1"};
    auto a = advertise(system(), caf::actor_cast<caf::actor>(this), host, in_process_);
    if (a)
      address_ = *a;
    else
      log::error("shuffle_unavailable", {{"reason", describe(a.error())}});
  }
  return address_;
}

void hadoop_executor::launch_task(const task_info& task) {
  send_status(task.task_id, schema::TaskState::RUNNING);
  bool ok = guarded("hadoop task", [&] {
    if (task.task_id.rfind("map-", 0) == 0)
      run_map(task);
    else if (task.task_id.rfind("reduce-", 0) == 0)
      run_reduce(task);
    else
      send_status(task.task_id, schema::TaskState::FAILED, "neither a map nor a reduce task");
  });
  if (!ok)
    send_status(task.task_id, schema::TaskState::FAILED, "task data does not decode");
}

void hadoop_executor::run_map(const task_info& task) {
  auto m = from_bytes<MapTask>(task.data);
  auto v = m.read();
  auto job = v->getJob();
  split s{v->getMapId(), v->getFile(), v->getOffset(), v->getLength()};
  auto c = hadoop::run_map(kind_of(job.getKind()), job.getPattern(), s);
  if (!c) {
    send_status(task.task_id, schema::TaskState::FAILED, describe(c.error()));
    return;
  }
  auto reducers = std::max<uint32_t>(job.getReducers(), 1);
  auto& parts = outputs_[s.id];
  parts.assign(reducers, {});
  for (auto& [k, n] : *c)
    parts[partition_of(k, reducers)].emplace_back(k, n);
  auto& addr = address();
  if (addr.empty()) {
    send_status(task.task_id, schema::TaskState::FAILED, "cannot serve map output");
    return;
  }
  send_status(task.task_id, schema::TaskState::FINISHED,
              "shuffle=" + addr + " keys=" + std::to_string(c->size()));
}

void hadoop_executor::run_reduce(const task_info& task) {
  auto m = from_bytes<ReduceTask>(task.data);
  auto v = m.read();
  auto run = std::make_shared<reduce_run>();
  run->task_id = task.task_id;
  run->partition = v->getPartition();
  run->output = v->getJob().getOutput();
  run->waiting = v->getOutputs().size();
  reduces_[task.task_id] = run;
  auto finish_if_done = [this, run] {
    if (run->over || run->waiting > 0)
      return;
    run->over = true;
    reduces_.erase(run->task_id);
    if (auto err = write_part(run->output, run->partition, run->merged)) {
      send_status(run->task_id, schema::TaskState::FAILED, describe(err));
      return;
    }
    send_status(run->task_id, schema::TaskState::FINISHED,
                "keys=" + std::to_string(run->merged.size()));
  };
  if (run->waiting == 0) {
    finish_if_done();
    return;
  }
  auto outputs = v->getOutputs();
  for (auto ref : outputs) {
    uint32_t map_id = ref.getMapId();
    std::string addr = ref.getAddress();
    resolve(
      this, addr,
      [this, run, map_id, addr, finish_if_done](caf::actor server) {
        if (run->over)
          return;
        auto req = make_app<Fetch>("fetch", [&](Fetch::Builder b) {
          b.setMapId(map_id);
          b.setPartition(run->partition);
        });
        request(server, std::chrono::seconds(60), req)
          .then(
            [this, run, map_id, addr, finish_if_done](const app_msg& reply) {
              if (run->over)
                return;
              bool ok = guarded("Partition", [&] {
                auto rv = reply.read();
                auto p = payload<Partition>(rv);
                if (!p.getFound()) {
                  fetch_failed(run, map_id, addr, "the server has no such output");
                  return;
                }
                for (auto e : p.getEntries())
                  run->merged[e.getKey()] += e.getCount();
                --run->waiting;
                finish_if_done();
              });
              if (!ok)
                fetch_failed(run, map_id, addr, "reply does not decode");
            },
            [this, run, map_id, addr](caf::error& err) {
              fetch_failed(run, map_id, addr, describe(err));
            });
      },
      [this, run, map_id, addr](const caf::error& err) {
        fetch_failed(run, map_id, addr, describe(err));
      });
  }
}

void hadoop_executor::fetch_failed(const std::shared_ptr<reduce_run>& run, uint32_t map_id,
                                   const std::string& address, const std::string& why) {
  if (run->over)
    return;
  run->over = true;
  reduces_.erase(run->task_id);
  log::warn("fetch_failed", {{"task_id", run->task_id}, {"map", static_cast<int64_t>(map_id)},
                             {"address", address}, {"reason", why}});
  send_status(run->task_id, schema::TaskState::FAILED,
              "fetch failed: map=" + std::to_string(map_id) + " at " + address + ": " + why,
              std::nullopt, "REASON_FETCH_FAILED");
}

void hadoop_executor::kill_task(const std::string& task_id) {
  if (auto i = reduces_.find(task_id); i != reduces_.end()) {
    i->second->over = true;
    reduces_.erase(i);
  }
  send_status(task_id, schema::TaskState::KILLED, "killed");
}

caf::message_handler hadoop_executor::extra_handlers() {
  return {
    [this](const app_msg& m) -> app_msg {
      uint32_t map_id = 0, part = 0;
      bool ok = guarded("Fetch", [&] {
        auto v = m.read();
        auto f = payload<Fetch>(v);
        map_id = f.getMapId();
        part = f.getPartition();
      });
      return make_app<Partition>("partition", [&](Partition::Builder b) {
        b.setMapId(map_id);
        b.setPartition(part);
        auto i = outputs_.find(map_id);
        if (!ok || i == outputs_.end() || part >= i->second.size()) {
          b.setFound(false);
          return;
        }
        b.setFound(true);
        auto& entries = i->second[part];
        auto l = b.initEntries(static_cast<unsigned>(entries.size()));
        for (unsigned j = 0; j < entries.size(); ++j) {
          l[j].setKey(entries[j].first);
          l[j].setCount(entries[j].second);
        }
      });
    },
  };
}

} // namespace caldera::hadoop
