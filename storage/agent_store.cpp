#include "storage/agent_store.hpp"

#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/decode.hpp"

namespace caldera {

namespace {

using detail::decode_record;
using detail::storage_error;

const std::string agent_key = "agent/info";
const std::string executor_prefix = "executor/";
const std::string task_prefix = "task/";
constexpr char sep = '\x1f';

} // namespace

agent_store::~agent_store() = default;

caf::expected<std::unique_ptr<agent_store>> agent_store::open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(errc::storage_error, "cannot create '" + dir + "': " + ec.message());
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.max_open_files = 32;
  opts.keep_log_file_num = 2;
  opts.write_buffer_size = 4 << 20;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, &raw);
  if (!st.ok())
    return storage_error("cannot open agent checkpoint '" + dir + "'", st);
  std::unique_ptr<agent_store> out{new agent_store};
  out->db_.reset(raw);
  out->dir_ = dir;
  return out;
}

caf::expected<agent_checkpoint> agent_store::load() {
  agent_checkpoint cp;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{})};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = it->key().ToString();
    if (key == agent_key) {
      auto m = decode_record<schema::CheckpointedAgent>(it->value(), key);
      if (!m)
        return m.error();
      cp.agent_id = m->read()->getAgentId();
    } else if (key.rfind(executor_prefix, 0) == 0) {
      auto m = decode_record<schema::CheckpointedExecutor>(it->value(), key);
      if (!m)
        return m.error();
      cp.executors.push_back(std::move(*m));
    } else if (key.rfind(task_prefix, 0) == 0) {
      auto m = decode_record<schema::CheckpointedTask>(it->value(), key);
      if (!m)
        return m.error();
      cp.tasks.push_back(std::move(*m));
    }
  }
  if (!it->status().ok())
    return storage_error("cannot read agent checkpoint '" + dir_ + "'", it->status());
  return cp;
}

caf::error agent_store::put(const std::string& key, const word_buffer& value) {
  auto st = db_->Put(rocksdb::WriteOptions{}, key, detail::as_slice(value));
  if (!st.ok())
    return storage_error("agent checkpoint write failed", st);
  return caf::none;
}

caf::error agent_store::remove(const std::string& key) {
  auto st = db_->Delete(rocksdb::WriteOptions{}, key);
  if (!st.ok())
    return storage_error("agent checkpoint write failed", st);
  return caf::none;
}

caf::error agent_store::put_agent_id(const std::string& id) {
  return put(agent_key,
             make<schema::CheckpointedAgent>([&](auto b) { b.setAgentId(id); }).buffer());
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
  rocksdb::WriteBatch wb;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{})};
  for (it->SeekToFirst(); it->Valid(); it->Next())
    wb.Delete(it->key());
  auto st = db_->Write(rocksdb::WriteOptions{}, &wb);
  if (!st.ok())
    return storage_error("agent checkpoint write failed", st);
  return caf::none;
}

} // namespace caldera
