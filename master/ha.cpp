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
  auto remote = main_->read_registry();
  if (!remote)
    return remote.error();
  auto local = store.raw();
  if (!local)
    return local.error();
  auto mine = registry_store::cluster_of(*local);
  if (remote->empty()) { // the cluster's first leader: its registry seeds it
    if (!mine) {
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
  auto theirs = registry_store::cluster_of(*remote);
  if (mine && theirs && *mine != *theirs)
    return make_error(errc::invalid_config,
                      "this master's registry belongs to " + *mine + ", not to " + where_
                        + " (" + *theirs + "): start it on a fresh work dir, or point "
                          "--etcd at its own cluster");
  log::info("registry_loaded", {{"records", remote->size()}, {"coordinator", where_}});
  return store.replace(*remote);
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
