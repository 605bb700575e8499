// /master/state rendered straight into text with a streaming JSON writer,
// reusing the text of every task unchanged since the previous render. At
// 10k agents and 100k tasks the body is ~40 MB and most of it is tasks that
// did not change between two snapshots (only offers did), so a render is a
// sort, a lookup and a copy per task plus the agents.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "actors/json_writer.hpp"
#include "master/http_api.hpp"

namespace caldera {

/// Writes a Resource list as Mesos' JSON object ({"cpus":4,"ports":"[31000-32000]"}).
void write_resources(json_writer& w, capnp::List<schema::Resource>::Reader xs);
/// One task entry (Mesos v0 shape plus each status's reason and message).
void write_task(json_writer& w, schema::TaskEntry::Reader t);
void write_executor(json_writer& w, schema::ExecutorEntry::Reader e);
/// One agent entry of /master/state and /master/slaves; `extra` adds
/// fields to it.
void write_agent(json_writer& w, schema::AgentState::Reader a,
                 const std::function<void(json_writer&)>& extra = {});
/// When a task was first seen (its first status), for ordering.
double first_status_time(schema::TaskEntry::Reader t);

class state_renderer {
public:
  explicit state_renderer(master_http_info info) : info_(std::move(info)) {
  }

  /// /master/state of `p`. Not thread-safe: one thread renders.
  std::string render(const published_state& p);

  /// "frameworks", "completed_frameworks" and "unregistered_frameworks" of
  /// `st` as keys of the object `w` is in; only framework `only` if set.
  /// Without a renderer (`self` null) every task is rendered afresh.
  static void write_frameworks(json_writer& w, schema::State::Reader st,
                               const master_http_info& info, state_renderer* self,
                               const std::string& only = {});

private:
  struct cached {
    uint32_t statuses = 0;
    uint16_t state = 0;
    uint64_t seen = 0;
    std::string text;
  };
  void task(json_writer& w, schema::TaskEntry::Reader t);

  master_http_info info_;
  std::unordered_map<std::string, cached> tasks_;
  uint64_t generation_ = 0;
  size_t last_size_ = 1 << 16;
};

} // namespace caldera
