// The master's durable registry, over the storage seam (storage/kv.hpp:
// RocksDB, or memory in the simulator). Records are Cap'n Proto flat
// arrays keyed by kind and id:
//
//   agent/<agent-id>          AgentRecord       (admitted agents)
//   framework/<framework-id>  FrameworkRecord
//   master/info               MasterRecord
//   role/<role>               RoleRecord        (weights and quotas)
//   cluster/info              ClusterRecord     (standby masters: whose registry)
//
// A change is a `batch` of puts and deletes applied as one atomic, synced
// WriteBatch. Not thread-safe: one owner (the registrar actor) uses it. Calls
// block on disk; never call them from the master's own mailbox.
#pragma once

#include "storage/kv.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/types.hpp"


namespace caldera {

using agent_record_msg = msg<schema::AgentRecord>;
using framework_record_msg = msg<schema::FrameworkRecord>;
using master_record_msg = msg<schema::MasterRecord>;
using role_record_msg = msg<schema::RoleRecord>;

/// What the registry held when it was opened.
struct registry_snapshot {
  std::vector<agent_record_msg> agents;
  std::vector<framework_record_msg> frameworks;
  std::vector<role_record_msg> roles;
  std::optional<master_record_msg> master;
};

class registry_store {
public:
  /// A set of changes applied atomically by `apply`.
  class batch {
  public:
    void put_agent(const std::string& id, const agent_record_msg& rec);
    void remove_agent(const std::string& id);
    void put_framework(const std::string& id, const framework_record_msg& rec);
    void remove_framework(const std::string& id);
    void put_master(const master_record_msg& rec);
    void put_role(const std::string& role, const role_record_msg& rec);
    void put_cluster(const std::string& id);
    bool empty() const { return ops_.empty(); }
    size_t size() const { return ops_.size(); }
    void append(const batch& other);

  private:
    friend class registry_store;
    struct op {
      std::string key;
      word_buffer value; // null: delete
    };
    std::vector<op> ops_;
  };

  ~registry_store();

  /// Opens (creating if needed) the registry under `dir`, in RocksDB or
  /// through `opener` (the simulator's memory disks). Fails with
  /// errc::storage_error naming the path and the store's reason.
  static caf::expected<std::unique_ptr<registry_store>> open(const std::string& dir,
                                                             const store_opener& opener = nullptr);

  /// Reads every record. Records that do not decode fail with storage_error.
  caf::expected<registry_snapshot> load();

  /// Applies `b` as one synced batch; returns only after the write. A
  /// failed write (a full disk) changes nothing; the next one is tried afresh.
  /// With a replica, `b` is committed there first: its refusal writes
  /// nothing here.
  caf::error apply(const batch& b);

  /// The cluster id in records `raw` (as raw() gives them), if any.
  static std::optional<std::string> cluster_of(const std::map<std::string, std::string>& raw);

  /// Every record as bytes, by key (for the coordinator's copy).
  caf::expected<std::map<std::string, std::string>> raw();
  /// Makes the store hold exactly `records` (one synced batch of what
  /// differs).
  caf::error replace(const std::map<std::string, std::string>& records);

  /// Records as bytes by key, or deletes (nullopt).
  using raw_changes = std::vector<std::pair<std::string, std::optional<std::string>>>;
  /// Writes `changes` as one synced batch, here only (a standby's copy of
  /// the coordinator's registry).
  caf::error apply_raw(const raw_changes& changes);

  /// Where a batch is committed before it is written here (standby masters:
  /// the coordinator, fenced on leadership). Gets (key, bytes or nullopt).
  using replica_fn = std::function<caf::error(const raw_changes&)>;
  /// `behind` hears a write the replica committed but this store could not
  /// take (a full disk): this copy is behind the commit point from then on.
  using behind_fn = std::function<void(const caf::error&)>;
  void set_replica(replica_fn f, behind_fn behind = nullptr) {
    replica_ = std::move(f);
    behind_ = std::move(behind);
  }

private:
  registry_store() = default;
  std::unique_ptr<kv_store> kv_;
  std::string dir_;
  replica_fn replica_;
  behind_fn behind_;
};

} // namespace caldera
