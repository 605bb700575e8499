#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/decode.hpp"
#include "storage/kv.hpp"

namespace caldera {

namespace {

class rocksdb_store : public kv_store {
public:
  rocksdb_store(rocksdb::DB* db, std::string dir, std::string what)
    : db_(db), dir_(std::move(dir)), what_(std::move(what)) {
  }

  caf::error write(const std::vector<kv_op>& ops, bool sync) override {
    if (failed_) {
      // After an error (a full disk) RocksDB stays read-only until resumed:
      // try again, so that freeing space is enough.
      auto st = db_->Resume();
      if (!st.ok())
        return detail::storage_error(what_ + " write failed (resume)", st);
      failed_ = false;
    }
    rocksdb::WriteBatch wb;
    for (auto& op : ops)
      if (op.value)
        wb.Put(op.key, detail::as_slice(op.value));
      else
        wb.Delete(op.key);
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    auto st = db_->Write(wo, &wb);
    if (!st.ok()) {
      failed_ = true;
      return detail::storage_error(what_ + " write failed", st);
    }
    return caf::none;
  }

  caf::error scan(const visitor& f) override {
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{})};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto v = it->value();
      if (auto err = f(it->key().ToString(), v.data(), v.size()))
        return err;
    }
    if (!it->status().ok())
      return detail::storage_error("cannot read " + what_ + " '" + dir_ + "'", it->status());
    return caf::none;
  }

private:
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  std::string what_;
  bool failed_ = false;
};

} // namespace

caf::expected<std::unique_ptr<kv_store>> open_rocksdb(const std::string& dir,
                                                      const std::string& what,
                                                      size_t write_buffer_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(errc::storage_error, "cannot create '" + dir + "': " + ec.message());
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.max_open_files = 64;
  opts.keep_log_file_num = 2;
  if (write_buffer_bytes > 0)
    opts.write_buffer_size = write_buffer_bytes;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, &raw);
  if (!st.ok())
    return detail::storage_error("cannot open " + what + " '" + dir + "'", st);
  return std::unique_ptr<kv_store>{new rocksdb_store(raw, dir, what)};
}

} // namespace caldera
