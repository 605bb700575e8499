#include "storage/registry_store.hpp"

#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "actors/error.hpp"
#include "storage/decode.hpp"

namespace caldera {

namespace {

using detail::decode_record;
using detail::storage_error;

const std::string agent_prefix = "agent/";
const std::string framework_prefix = "framework/";
const std::string master_key = "master/info";
const std::string role_prefix = "role/";

} // namespace

void registry_store::batch::put_agent(const std::string& id,
                                      const agent_record_msg& rec) {
  ops_.push_back({agent_prefix + id, rec.buffer()});
}

void registry_store::batch::remove_agent(const std::string& id) {
  ops_.push_back({agent_prefix + id, nullptr});
}

void registry_store::batch::put_framework(const std::string& id,
                                          const framework_record_msg& rec) {
  ops_.push_back({framework_prefix + id, rec.buffer()});
}

void registry_store::batch::remove_framework(const std::string& id) {
  ops_.push_back({framework_prefix + id, nullptr});
}

void registry_store::batch::put_master(const master_record_msg& rec) {
  ops_.push_back({master_key, rec.buffer()});
}

void registry_store::batch::put_role(const std::string& role,
                                     const role_record_msg& rec) {
  ops_.push_back({role_prefix + role, rec.buffer()});
}

void registry_store::batch::append(const batch& other) {
  ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
}

registry_store::~registry_store() = default;

caf::expected<std::unique_ptr<registry_store>>
registry_store::open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(errc::storage_error,
                      "cannot create '" + dir + "': " + ec.message());
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.max_open_files = 64;
  opts.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, &raw);
  if (!st.ok())
    return storage_error("cannot open registry '" + dir + "'", st);
  std::unique_ptr<registry_store> out{new registry_store};
  out->db_.reset(raw);
  out->dir_ = dir;
  return out;
}

caf::expected<registry_snapshot> registry_store::load() {
  registry_snapshot snap;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{})};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = it->key().ToString();
    if (key.rfind(agent_prefix, 0) == 0) {
      auto m = decode_record<schema::AgentRecord>(it->value(), key);
      if (!m)
        return m.error();
      snap.agents.push_back(std::move(*m));
    } else if (key.rfind(framework_prefix, 0) == 0) {
      auto m = decode_record<schema::FrameworkRecord>(it->value(), key);
      if (!m)
        return m.error();
      snap.frameworks.push_back(std::move(*m));
    } else if (key.rfind(role_prefix, 0) == 0) {
      auto m = decode_record<schema::RoleRecord>(it->value(), key);
      if (!m)
        return m.error();
      snap.roles.push_back(std::move(*m));
    } else if (key == master_key) {
      auto m = decode_record<schema::MasterRecord>(it->value(), key);
      if (!m)
        return m.error();
      snap.master = std::move(*m);
    }
  }
  if (!it->status().ok())
    return storage_error("cannot read registry '" + dir_ + "'", it->status());
  return snap;
}

caf::error registry_store::apply(const batch& b) {
  rocksdb::WriteBatch wb;
  for (auto& op : b.ops_) {
    if (op.value) {
      auto bytes = op.value->asBytes();
      wb.Put(op.key, rocksdb::Slice{reinterpret_cast<const char*>(bytes.begin()),
                                    bytes.size()});
    } else {
      wb.Delete(op.key);
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto st = db_->Write(wo, &wb);
  if (!st.ok())
    return storage_error("registry write failed", st);
  return caf::none;
}

} // namespace caldera
