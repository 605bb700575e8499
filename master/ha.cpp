#include "master/ha.hpp"

#include <mutex>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

master_ha::master_ha(std::unique_ptr<coordinator> main, std::unique_ptr<coordinator> writer,
                     leader_record me, std::chrono::seconds ttl, clock_fn now, wall_fn wall)
  : main_(std::move(main)), writer_(std::move(writer)), me_(std::move(me)), ttl_(ttl),
    now_(std::move(now)), wall_(std::move(wall)), where_(main_->describe()) {
}

caf::error master_ha::join() {
  auto lease = main_->grant(ttl_);
  if (!lease)
    return make_error(errc::not_connected, "cannot reach the coordinator " + where_ + ": "
                                             + describe(lease.error()));
  lease_ = *lease;
  last_renewed_ = now_();
  if (auto err = main_->announce(lease_, me_))
    return make_error(errc::not_connected, "cannot announce this master at " + where_ + ": "
                                             + describe(err));
  return caf::none;
}

caf::expected<bool> master_ha::campaign() {
  me_.since = wall_();
  auto r = main_->campaign(lease_, me_);
  if (!r)
    return r.error();
  leader_ = *r;
  if (r->id != me_.id)
    return false;
  me_.epoch = r->epoch;
  leading_ = true;
  metrics::election("won");
  log::info("elected", {{"epoch", me_.epoch}, {"coordinator", where_}, {"id", me_.id}});
  return true;
}

namespace {

std::string leader_text(const std::optional<leader_record>& l) {
  return l ? l->id + "@" + l->address + "#" + std::to_string(l->epoch) : std::string{};
}

} // namespace

caf::expected<bool> master_ha::stand_by() {
  auto won = campaign();
  if (won && *won)
    return true;
  if (won)
    if (auto err = warm_round())
      return err;
  if (!won && !unreachable_)
    log::warn("coordinator_unreachable", {{"coordinator", where_},
                                          {"reason", describe(won.error())}});
  unreachable_ = !won;
  if (won && leader_text(leader_) != seen_) {
    seen_ = leader_text(leader_);
    log::info("standby", {{"leader", leader_ ? leader_->address : "none"},
                          {"epoch", leader_ ? leader_->epoch : 0}});
  }
  std::string why;
  if (!renew(why)) { // a standby's lease lapsed (coordinator lost): take another
    log::warn("lease_lost", {{"reason", why}, {"role", "standby"}});
    if (auto err = join())
      return err;
  }
  return false;
}

bool master_ha::renew(std::string& why) {
  auto t0 = now_();
  // Past valid_until (a paused process, renewals cut off): the lease may
  // be gone already; not a moment more as leader.
  if (t0 >= valid_until()) {
    why = "no lease renewal within the " + std::to_string(ttl_.count())
          + " s TTL (paused, or cut off)";
    return false;
  }
  auto ok = main_->keepalive(lease_);
  if (ok && *ok) {
    last_renewed_ = t0;
    return true;
  }
  if (ok) {
    why = "the lease expired";
    return false;
  }
  // Unreachable: the lease may still hold on the coordinator, but not
  // past valid_until.
  if (now_() >= valid_until()) {
    why = "no lease renewal within the " + std::to_string(ttl_.count()) + " s TTL ("
          + describe(ok.error()) + ")";
    return false;
  }
  log::warn("lease_renewal_failed", {{"reason", describe(ok.error())}});
  return true;
}

caf::error master_ha::sync_registry(registry_store& store) {
  auto err = catch_up(store);
  if (err && !is_error(err, errc::invalid_config) && copy_revision_ != 0) {
    // Read the whole once more (a revision compacted mid-read, a write that
    // failed on this disk).
    copy_revision_ = 0;
    copy_.clear();
    err = catch_up(store);
  }
  warm_store_ = nullptr; // the leader's now: it writes it through attach
  if (err)
    return err;
  if (copy_.empty()) // the cluster's first leader: its registry seeds it
    return seed_coordinator(store);
  log::info("registry_loaded", {{"records", copy_.size()},
                                {"read", caught_.full ? "all" : "changes"},
                                {"changed", caught_.changed},
                                {"deleted", caught_.deleted},
                                {"coordinator", where_}});
  return caf::none;
}

void master_ha::keep_warm(registry_store& store, std::chrono::milliseconds period) {
  warm_store_ = &store;
  warm_period_ = period;
  next_warm_ = now_();
}

// Reads what was written since the copy's revision (all of it the first
// time), and which keys remain when the copy would not have as many as the
// registry; brings the copy and `store` up to date.
caf::error master_ha::catch_up(registry_store& store) {
  auto d = main_->read_registry_since(copy_revision_);
  if (!d)
    return d.error();
  size_t size = copy_.size();
  for (auto& [k, v] : d->changed)
    size += copy_.count(k) == 0 ? 1 : 0;
  std::optional<std::set<std::string>> keys;
  if (size != d->count) { // some were deleted
    auto k = main_->registry_keys(d->revision);
    if (!k)
      return k.error();
    keys = std::move(*k);
  }
  auto ops = take_delta(*d, keys);
  return write_copy(store, ops);
}

// Applies delta `d` (and, when known, the keys that remain) to the copy;
// returns the same changes as store writes.
master_ha::raw_ops master_ha::take_delta(registry_delta& d,
                                         const std::optional<std::set<std::string>>& keys) {
  caught_ = {};
  caught_.full = copy_revision_ == 0;
  raw_ops ops;
  for (auto i = copy_.begin(); keys && i != copy_.end();) {
    if (keys->count(i->first) > 0) {
      ++i;
      continue;
    }
    ops.emplace_back(i->first, std::nullopt);
    i = copy_.erase(i);
    ++caught_.deleted;
  }
  for (auto& [k, v] : d.changed) {
    ops.emplace_back(k, v);
    copy_[k] = std::move(v);
    ++caught_.changed;
  }
  copy_revision_ = d.revision;
  return ops;
}

// Makes `store` hold the copy: only `ops` when it held the copy before,
// else the whole of it (after checking that the store is of this cluster).
// An empty copy (a new cluster) leaves the store as it is: it may seed it.
caf::error master_ha::write_copy(registry_store& store, const raw_ops& ops) {
  if (copy_.empty()) {
    in_step_ = nullptr; // its deletes were not written: rewritten whole next time
    return caf::none;
  }
  if (in_step_ == &store) {
    auto err = ops.empty() ? caf::error{} : store.apply_raw(ops);
    if (err)
      in_step_ = nullptr;
    return err;
  }
  auto local = store.raw();
  if (!local)
    return local.error();
  auto mine = registry_store::cluster_of(*local);
  auto theirs = registry_store::cluster_of(copy_);
  if (mine && theirs && *mine != *theirs)
    return make_error(errc::invalid_config,
                      "this master's registry belongs to " + *mine + ", not to " + where_
                        + " (" + *theirs + "): start it on a fresh work dir, or point "
                          "--etcd at its own cluster");
  if (auto err = store.replace(copy_))
    return err;
  in_step_ = &store;
  return caf::none;
}

// The first leader of a cluster names it and commits its own registry.
caf::error master_ha::seed_coordinator(registry_store& store) {
  auto local = store.raw();
  if (!local)
    return local.error();
  if (!registry_store::cluster_of(*local)) {
    registry_store::batch b;
    b.put_cluster("cluster-" + me_.id);
    if (auto err = store.apply(b))
      return err;
    local = store.raw();
    if (!local)
      return local.error();
  }
  std::vector<coord_op> ops;
  for (auto& [k, v] : *local)
    ops.push_back({k, v});
  auto ok = main_->fenced_write(me_.epoch, ops);
  if (!ok)
    return ok.error();
  if (!*ok)
    return make_error(errc::unauthorized, "lost the leadership while seeding the registry");
  log::info("registry_seeded", {{"records", ops.size()}});
  return caf::none;
}

// A standby's round of keeping its copy warm (every warm_period_). Only a
// foreign registry is an error; others (unreachable, a full disk) delay the
// copy: sync_registry reads what it needs at election.
caf::error master_ha::warm_round() {
  if (!warm_store_ || now_() < next_warm_)
    return caf::none;
  next_warm_ = now_() + warm_period_;
  auto err = catch_up(*warm_store_);
  if (!err) {
    warm_failing_ = false;
    if (caught_.changed + caught_.deleted > 0)
      log::debug("standby_registry", {{"records", copy_.size()}, {"changed", caught_.changed},
                                      {"deleted", caught_.deleted}});
    return caf::none;
  }
  if (is_error(err, errc::invalid_config))
    return err;
  if (!warm_failing_)
    log::warn("standby_registry_behind", {{"reason", describe(err)},
                                          {"action", "read again in a round"}});
  warm_failing_ = true;
  return caf::none;
}

registry_store::replica_fn master_ha::replica(std::function<void(const std::string&)> lost) {
  auto w = writer_;
  auto epoch = me_.epoch;
  auto mtx = std::make_shared<std::mutex>();
  return [w, epoch, mtx, lost](const auto& rops) -> caf::error {
    std::vector<coord_op> ops;
    ops.reserve(rops.size());
    for (auto& [k, v] : rops)
      ops.push_back({k, v});
    std::lock_guard<std::mutex> g{*mtx};
    auto ok = w->fenced_write(epoch, ops);
    if (!ok)
      return make_error(errc::storage_error,
                        "the coordinator did not commit the write: " + describe(ok.error()));
    if (!*ok) {
      auto why = "a registry write was refused: epoch " + std::to_string(epoch)
                 + " no longer leads";
      lost(why);
      return make_error(errc::unauthorized, why);
    }
    return caf::none;
  };
}

// A tenth of the TTL short of it: room for clocks that run at slightly
// different rates here and on the coordinator.
std::chrono::steady_clock::time_point master_ha::valid_until() const {
  auto ttl = std::chrono::duration_cast<std::chrono::steady_clock::duration>(ttl_);
  return last_renewed_ + ttl - ttl / 10;
}

void master_ha::attach(registry_store& store, std::function<void(const std::string&)> lost) {
  store.set_replica(replica(lost), [lost](const caf::error& err) {
    lost("a registry write committed to the coordinator failed on this master's disk: "
         + describe(err));
  });
}

void master_ha::resign() {
  if (lease_ != 0)
    (void)main_->revoke(lease_);
  lease_ = 0;
  leading_ = false;
}

} // namespace caldera
