// The storage seam under the master's registry and the agent's checkpoint:
// an ordered map of keys to Cap'n Proto flat arrays with atomic batches.
// Two implementations: RocksDB (the daemons) and memory (the simulator),
// whose "disks" outlive the actors using them and can be told to fail.
//
// Not thread-safe: one owner (the registrar, or the agent actor) uses a store.
// Calls block on disk (RocksDB); never call them from the master's mailbox.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/message.hpp"

namespace caldera {

struct kv_op {
  std::string key;
  word_buffer value; // null: delete the key
};

class kv_store {
public:
  virtual ~kv_store() = default;

  /// Applies every op or none; with `sync`, durable (fsync) before it
  /// returns. Fails with errc::storage_error naming the store and the reason;
  /// a later write is tried afresh (a full disk that was freed works again).
  virtual caf::error write(const std::vector<kv_op>& ops, bool sync) = 0;

  /// Calls `f` for every record in key order; stops at (and returns) the
  /// first error `f` returns.
  using visitor = std::function<caf::error(const std::string& key, const char* data, size_t size)>;
  virtual caf::error scan(const visitor& f) = 0;
};

/// Opens (creating if needed) a RocksDB store under `dir`; `what` names it
/// in errors ("registry", "agent checkpoint"). Fails with storage_error
/// naming the path and RocksDB's reason (another process holding its lock).
caf::expected<std::unique_ptr<kv_store>> open_rocksdb(const std::string& dir,
                                                      const std::string& what,
                                                      size_t write_buffer_bytes = 0);

/// How a daemon opens its store (null: RocksDB): the simulator passes its
/// memory disks here.
using store_opener = std::function<caf::expected<std::unique_ptr<kv_store>>(
  const std::string& dir, const std::string& what)>;

/// Memory stores by directory, shared by the stores opened on them: a
/// restarted master or agent finds what its predecessor wrote. `fail_writes`
/// makes the next `n` writes under a directory prefix fail as a full disk.
class memory_disk : public std::enable_shared_from_this<memory_disk> {
public:
  caf::expected<std::unique_ptr<kv_store>> open(const std::string& dir, const std::string& what);
  void fail_writes(const std::string& dir_prefix, size_t n);
  size_t failed_writes() const { return failed_; }
  /// An opener for daemons' options.
  store_opener opener();

private:
  friend class memory_store;
  struct volume {
    std::map<std::string, word_buffer> records;
    size_t failing = 0;
  };
  std::map<std::string, volume> volumes_;
  std::map<std::string, size_t> failing_;
  size_t failed_ = 0;
};

} // namespace caldera
