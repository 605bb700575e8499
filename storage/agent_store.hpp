// The agent's checkpoint under `<work-dir>/meta` (RocksDB; memory in the
// simulator, through storage/kv.hpp): what a restarted
// agent needs to recover its executors, its tasks and the status updates the
// master has not acknowledged yet.
//
//   agent/info                          CheckpointedAgent
//   executor/<framework>\x1f<executor>  CheckpointedExecutor
//   task/<framework>\x1f<task>          CheckpointedTask (with pending updates)
//
// Writes go to RocksDB's write-ahead log without fsync: they survive the agent
// process being killed (the case agent recovery is for), not a machine crash,
// which ends the executors too. Not thread-safe: the agent actor owns it.
#pragma once

#include "storage/kv.hpp"

#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "actors/message.hpp"
#include "schemas/agent.capnp.h"


namespace caldera {

using checkpointed_agent_msg = msg<schema::CheckpointedAgent>;
using checkpointed_executor_msg = msg<schema::CheckpointedExecutor>;
using checkpointed_task_msg = msg<schema::CheckpointedTask>;

struct agent_checkpoint {
  std::string agent_id;
  uint64_t master_epoch = 0;
  std::vector<checkpointed_executor_msg> executors;
  std::vector<checkpointed_task_msg> tasks;
};

class agent_store {
public:
  ~agent_store();

  /// Opens (creating if needed) the checkpoint under `dir`. Fails with
  /// errc::storage_error naming the path and RocksDB's reason (another agent
  /// using the same work dir holds its lock, for one).
  static caf::expected<std::unique_ptr<agent_store>> open(const std::string& dir,
                                                          const store_opener& opener = nullptr);

  /// Everything checkpointed. A record that does not decode is an error.
  caf::expected<agent_checkpoint> load();

  /// The agent's id and the newest leader epoch it registered with.
  caf::error put_agent_id(const std::string& id, uint64_t master_epoch);
  caf::error put_executor(const std::string& fid, const std::string& eid,
                          const checkpointed_executor_msg& rec);
  caf::error remove_executor(const std::string& fid, const std::string& eid);
  caf::error put_task(const std::string& fid, const std::string& tid,
                      const checkpointed_task_msg& rec);
  caf::error remove_task(const std::string& fid, const std::string& tid);
  /// Forgets everything (`--recover=cleanup`).
  caf::error clear();

private:
  agent_store() = default;
  caf::error put(const std::string& key, const word_buffer& value);
  caf::error remove(const std::string& key);
  std::unique_ptr<kv_store> kv_;
  std::string dir_;
};

} // namespace caldera
