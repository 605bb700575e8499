#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cstdarg>
#include <cstdio>

#include "actors/log.hpp"
#include "storage/decode.hpp"
#include "storage/kv.hpp"

namespace caldera {

namespace {

// RocksDB's own info log, kept off the disk it writes to: on a full disk
// its LOG file fails first, and Debian's RocksDB aborts on the next line
// written to a failed file. Its news goes to caldera's log at debug level.
class info_logger : public rocksdb::Logger {
public:
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (!log::enabled(log::level::debug))
      return;
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), format, ap);
    log::debug("rocksdb", {{"message", std::string_view{buf}}});
  }
};

class rocksdb_store : public kv_store {
public:
  rocksdb_store(rocksdb::DB* db, rocksdb::Options opts, std::string dir, std::string what)
    : db_(db), opts_(std::move(opts)), dir_(std::move(dir)), what_(std::move(what)) {
  }

  caf::error write(const std::vector<kv_op>& ops, bool sync) override {
    if (failed_) {
      // After a failed log write (a full disk) this handle must not write
      // again (Debian's RocksDB asserts, and Resume() does not clear a
      // failed WAL): reopen, which recovers what was written, so that
      // freeing space is enough.
      db_.reset();
      rocksdb::DB* raw = nullptr;
      auto st = rocksdb::DB::Open(opts_, dir_, &raw);
      if (!st.ok())
        return detail::storage_error(what_ + " write failed (reopening '" + dir_ + "')", st);
      db_.reset(raw);
      failed_ = false;
    }
    rocksdb::WriteBatch wb;
    for (auto& op : ops)
      if (op.value)
        wb.Put(op.key, detail::as_slice(op.value));
      else
        wb.Delete(op.key);
    // Written, then the log synced as a step of its own: a failed append
    // (a full disk) then ends the write at once. Synced within Write, the
    // failed append is followed by a sync that Debian's RocksDB asserts on.
    auto st = db_->Write(rocksdb::WriteOptions{}, &wb);
    if (st.ok() && sync)
      st = db_->SyncWAL();
    if (!st.ok()) {
      failed_ = true;
      return detail::storage_error(what_ + " write failed", st);
    }
    return caf::none;
  }

  caf::error scan(const visitor& f) override {
    if (!db_)
      return make_error(errc::storage_error, what_ + " '" + dir_ + "' is closed (reopen failed)");
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
  rocksdb::Options opts_;
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
  opts.info_log = std::make_shared<info_logger>();
  // No preallocated log space: a full disk shows at the write it fails,
  // and freeing space is enough for the next (small records; no cost here).
  opts.allow_fallocate = false;
  if (write_buffer_bytes > 0)
    opts.write_buffer_size = write_buffer_bytes;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, &raw);
  if (!st.ok())
    return detail::storage_error("cannot open " + what + " '" + dir + "'", st);
  return std::unique_ptr<kv_store>{new rocksdb_store(raw, opts, dir, what)};
}

} // namespace caldera
