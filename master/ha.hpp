// Standby masters (issue 16): a master started with --etcd joins the
// election with a lease, waits as a standby while another leads, keeping
// its own RocksDB a copy of the coordinator's registry (the replicated,
// fenced commit point) by reading what changed every second, and once
// elected reads only what changed since. Every registry write of the leader is
// committed to the coordinator first, conditional on the leader key still
// being the one it created (its epoch): a deposed or partitioned old leader
// can never write. A leader that cannot renew its lease within the TTL, or
// whose write is refused, stops at once (exit status 4, as Mesos exits); a
// supervised restart rejoins as a standby.
//
// Plain code over the coordinator interface: the master's main drives it
// (its calls block on the coordinator), unit tests drive it with the memory
// coordinator.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/coordinator.hpp"
#include "storage/registry_store.hpp"

namespace caldera {

class master_ha {
public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
  using wall_fn = std::function<double()>;
  /// `main` serves the election and the lease; `writer` the registrar's
  /// fenced writes (another thread: its own client). `now` measures the
  /// lease, `wall` dates the election.
  master_ha(std::unique_ptr<coordinator> main, std::unique_ptr<coordinator> writer,
            leader_record me, std::chrono::seconds ttl, clock_fn now, wall_fn wall);

  /// Takes a lease and announces this master; fails naming the coordinator.
  caf::error join();

  /// One try: leads now (true), or another does (false; `leader()` says
  /// who, if anyone). Errors are the coordinator's (unreachable).
  caf::expected<bool> campaign();

  /// One round of a standby (call every poll): campaigns, logs each change
  /// of leader (and the first failure to reach the coordinator), renews its
  /// own lease and takes another if it lapsed. True: this master leads
  /// now. An error: the coordinator cannot be reached to take a new lease
  /// (the process ends).
  caf::expected<bool> stand_by();

  /// Renews the lease (call every ttl/3). False once leadership is lost:
  /// the lease expired, or no renewal got through for a whole TTL.
  bool renew(std::string& why);

  /// Loads the coordinator's registry into `store` (the first leader of a
  /// cluster seeds the coordinator from its store instead, naming the
  /// cluster in it). A store that names another cluster is refused. After
  /// keep_warm on the same store, only what changed since is read.
  caf::error sync_registry(registry_store& store);

  /// Keeps `store` (this master's registry, which it does not write as a
  /// leader yet) a copy of the coordinator's while standing by: stand_by()
  /// brings it up to date every `period` (a warm standby). A store that
  /// names another cluster makes stand_by() fail. `store` must outlive the
  /// standby rounds.
  void keep_warm(registry_store& store, std::chrono::milliseconds period);

  /// What the last catch-up with the coordinator's registry read.
  struct catch_up_stats {
    bool full = false;   // all of it (the first time, or after a failure)
    size_t changed = 0;  // records written since the copy's revision
    size_t deleted = 0;
  };
  const catch_up_stats& last_catch_up() const { return caught_; }

  /// The fenced commit for registry_store::set_replica; a refusal (no
  /// longer leader) calls `lost` with the reason before it returns.
  registry_store::replica_fn replica(std::function<void(const std::string&)> lost);

  /// Makes `store` commit every write to the coordinator first (replica);
  /// `lost` hears a refusal, and a write committed there that `store`
  /// could not take (its disk full): the master's state would then lag
  /// the commit point, so it must not go on leading (Mesos' registrar
  /// aborts the master likewise).
  void attach(registry_store& store, std::function<void(const std::string&)> lost);

  /// Gives up the lease (a clean stop: a standby takes over at once).
  void resign();

  /// Until when this master's lease can be counted on: a time before the
  /// coordinator could let the lease expire (it counts from when it got
  /// the last renewal; this master from when it sent it). A leader acts
  /// as one only until then unless a renewal gets through.
  std::chrono::steady_clock::time_point valid_until() const;
  /// valid_until() less the time now (negative once passed).
  std::chrono::steady_clock::duration time_left() const { return valid_until() - now_(); }

  const leader_record& me() const { return me_; }
  const std::optional<leader_record>& leader() const { return leader_; }
  bool leading() const { return leading_; }
  const std::string& where() const { return where_; }

private:
  using raw_ops = registry_store::raw_changes;
  caf::error catch_up(registry_store& store);
  raw_ops take_delta(registry_delta& d, const std::optional<std::set<std::string>>& keys);
  caf::error write_copy(registry_store& store, const raw_ops& ops);
  caf::error seed_coordinator(registry_store& store);
  caf::error warm_round();

  std::unique_ptr<coordinator> main_;
  std::shared_ptr<coordinator> writer_;
  leader_record me_;
  std::chrono::seconds ttl_;
  clock_fn now_;
  wall_fn wall_;
  int64_t lease_ = 0;
  bool leading_ = false;
  std::optional<leader_record> leader_;
  std::chrono::steady_clock::time_point last_renewed_;
  std::string seen_ = "?"; // the leader a standby last logged
  bool unreachable_ = false; // a standby said the coordinator is unreachable
  std::string where_;
  // The warm copy: the coordinator's registry at `copy_revision_`.
  registry_store* warm_store_ = nullptr;
  std::chrono::milliseconds warm_period_{0};
  std::chrono::steady_clock::time_point next_warm_{};
  int64_t copy_revision_ = 0; // 0: no copy yet
  std::map<std::string, std::string> copy_;
  registry_store* in_step_ = nullptr; // the store that holds `copy_` exactly
  bool warm_failing_ = false;         // said once until a round succeeds
  catch_up_stats caught_;
};

} // namespace caldera
