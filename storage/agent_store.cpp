#include "storage/agent_store.hpp"

#include <filesystem>


#include "storage/decode.hpp"

namespace caldera {

namespace {

using detail::decode_record;

const std::string agent_key = "agent/info";
const std::string executor_prefix = "executor/";
const std::string task_prefix = "task/";
constexpr char sep = '\x1f';

} // namespace

agent_store::~agent_store() = default;

caf::expected<std::unique_ptr<agent_store>> agent_store::open(const std::string& dir,
                                                         const store_opener& opener) {
  auto kv = opener ? opener(dir, "agent checkpoint")
                   : open_rocksdb(dir, "agent checkpoint", size_t{4} << 20);
  if (!kv)
    return kv.error();
  std::unique_ptr<agent_store> out{new agent_store};
  out->kv_ = std::move(*kv);
  out->dir_ = dir;
  return out;
}

caf::expected<agent_checkpoint> agent_store::load() {
  agent_checkpoint cp;
  auto err = kv_->scan([&](const std::string& key, const char* data, size_t size) -> caf::error {
    if (key == agent_key) {
      auto m = decode_record<schema::CheckpointedAgent>(data, size, key);
      if (!m)
        return m.error();
      cp.agent_id = m->read()->getAgentId();
      cp.master_epoch = m->read()->getMasterEpoch();
    } else if (key.rfind(executor_prefix, 0) == 0) {
      auto m = decode_record<schema::CheckpointedExecutor>(data, size, key);
      if (!m)
        return m.error();
      cp.executors.push_back(std::move(*m));
    } else if (key.rfind(task_prefix, 0) == 0) {
      auto m = decode_record<schema::CheckpointedTask>(data, size, key);
      if (!m)
        return m.error();
      cp.tasks.push_back(std::move(*m));
    }
    return caf::none;
  });
  if (err)
    return err;
  return cp;
}

// Checkpoint writes go to the write-ahead log without fsync (see the header).
caf::error agent_store::put(const std::string& key, const word_buffer& value) {
  return kv_->write({kv_op{key, value}}, false);
}

caf::error agent_store::remove(const std::string& key) {
  return kv_->write({kv_op{key, nullptr}}, false);
}

caf::error agent_store::put_agent_id(const std::string& id, uint64_t master_epoch) {
  return put(agent_key, make<schema::CheckpointedAgent>([&](auto b) {
                          b.setAgentId(id);
                          b.setMasterEpoch(master_epoch);
                        }).buffer());
}

caf::error agent_store::put_executor(const std::string& fid, const std::string& eid,
                                     const checkpointed_executor_msg& rec) {
  return put(executor_prefix + fid + sep + eid, rec.buffer());
}

caf::error agent_store::remove_executor(const std::string& fid, const std::string& eid) {
  return remove(executor_prefix + fid + sep + eid);
}

caf::error agent_store::put_task(const std::string& fid, const std::string& tid,
                                 const checkpointed_task_msg& rec) {
  return put(task_prefix + fid + sep + tid, rec.buffer());
}

caf::error agent_store::remove_task(const std::string& fid, const std::string& tid) {
  return remove(task_prefix + fid + sep + tid);
}

caf::error agent_store::clear() {
  std::vector<kv_op> ops;
  if (auto err = kv_->scan([&](const std::string& key, const char*, size_t) -> caf::error {
        ops.push_back(kv_op{key, nullptr});
        return caf::none;
      }))
    return err;
  return kv_->write(ops, false);
}

} // namespace caldera
