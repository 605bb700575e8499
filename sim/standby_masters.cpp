#include "sim/standby_masters.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "sim/ha_driver.hpp"
#include "sim/sim_env.hpp"

namespace caldera::sim {

namespace {

using namespace std::chrono_literals;

// As caldera-master's defaults: etcd-lease-ttl 2 s, a standby polls every 100 ms.
constexpr std::chrono::seconds ttl = 2s;
constexpr std::chrono::milliseconds poll = 100ms;

} // namespace

standby_masters::standby_masters(caf::actor_system& sys, std::shared_ptr<sim_env> env,
                                 std::string dir, store_opener opener, size_t n, hooks h)
  : sys_(sys), env_(std::move(env)), dir_(std::move(dir)), opener_(std::move(opener)),
    hooks_(std::move(h)) {
  coord_ = std::make_shared<memory_coordination>([e = env_.get()] { return e->now(); });
  for (size_t i = 0; i < n; ++i)
    slots_.emplace_back().name = "master/" + std::to_string(i);
}

standby_masters::~standby_masters() {
  for (auto& s : slots_)
    if (s.driver)
      caf::anon_send_exit(s.driver, caf::exit_reason::kill);
}

std::string standby_masters::store_dir(size_t i) const {
  return dir_ + "/master" + std::to_string(i);
}

std::optional<size_t> standby_masters::leader() const {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].up && slots_[i].leading)
      return i;
  return std::nullopt;
}

void standby_masters::start(size_t i) {
  auto& s = slots_.at(i);
  if (s.up)
    return;
  leader_record me;
  me.id = s.name + "#" + std::to_string(++s.starts);
  me.address = s.name;
  me.hostname = s.name;
  auto ha = std::make_shared<master_ha>(
    coord_->client(s.name), coord_->client(s.name), me, ttl, [e = env_.get()] { return e->now(); },
    [e = env_.get()] { return e->wall_seconds(); });
  if (auto err = ha->join()) {
    hooks_.line("master-exit " + s.name + " (" + describe(err) + ")");
    return;
  }
  s.ha = std::move(ha);
  // Its registry, a copy of the coordinator's while it stands by (as
  // caldera-master's: every second); opened at election if it cannot be now.
  if (auto store = registry_store::open(store_dir(i), opener_)) {
    s.store = std::move(*store);
    s.ha->keep_warm(*s.store, 1s);
  }
  s.up = true;
  s.leading = false;
  s.epoch = 0;
  ha_hooks h;
  h.elected = [this, i] { return elected(i); };
  h.ended = [this, i](const std::string& why) { ended(i, why); };
  s.driver = spawn_ha_driver(sys_, s.ha, std::move(h), poll, ttl);
}

void standby_masters::kill(size_t i) {
  auto& s = slots_.at(i);
  if (!s.up)
    return;
  caf::anon_send_exit(s.driver, caf::exit_reason::kill);
  s.driver = nullptr;
  ended(i, "killed");
}

void standby_masters::set_cut(size_t i, bool cut) {
  slots_.at(i).cut = cut;
  coord_->set_reachable(slots_[i].name, !cut);
}

// The elected master loads the coordinator's registry into its own store
// and starts with every write fenced on its epoch.
caf::error standby_masters::elected(size_t i) {
  auto& s = slots_.at(i);
  auto store = std::move(s.store);
  if (!store) {
    auto opened = registry_store::open(store_dir(i), opener_);
    if (!opened)
      return opened.error();
    store = std::move(*opened);
  }
  if (auto err = s.ha->sync_registry(*store))
    return err;
  s.ha->attach(*store, [this, i](const std::string& why) { ended(i, why); });
  auto snap = store->load();
  if (!snap)
    return snap.error();
  s.leading = true;
  s.epoch = s.ha->me().epoch;
  elected_at_[s.epoch] = env_->elapsed();
  hooks_.line("elected " + s.name + " epoch=" + std::to_string(s.epoch));
  return hooks_.start_leader(i, std::move(store), std::move(*snap),
                             static_cast<uint64_t>(s.epoch));
}

// The process ends (exit 4 or killed): its actors go, its lease stays
// until it lapses.
void standby_masters::ended(size_t i, const std::string& why) {
  auto& s = slots_.at(i);
  if (!s.up)
    return;
  hooks_.line("master-exit " + s.name + " (" + why + ")");
  if (s.driver)
    caf::anon_send_exit(s.driver, caf::exit_reason::kill);
  s.driver = nullptr;
  s.store.reset();
  s.up = false;
  if (s.leading)
    hooks_.stop_leader(i);
  s.leading = false;
}

void standby_masters::offered(const std::string& from) {
  for (auto& s : slots_) {
    if (s.name != from)
      continue;
    auto now = env_->elapsed();
    for (auto e = elected_at_.upper_bound(s.epoch); e != elected_at_.end(); ++e)
      if (e->second <= now)
        hooks_.violation(from + " (epoch " + std::to_string(s.epoch) + ") made offers at "
                         + std::to_string(now) + " s after a master of epoch "
                         + std::to_string(e->first) + " was elected at "
                         + std::to_string(e->second) + " s");
    return;
  }
}

std::string standby_masters::compare_registry(registry_store& leader_store) {
  auto remote = coord_->client("checker")->read_registry();
  auto local = leader_store.raw();
  if (!remote || !local)
    return "the registries do not read";
  for (auto& [k, v] : *remote)
    if (auto l = local->find(k); l == local->end() || l->second != v)
      return "registry record " + k + " differs between the leader's store and the coordinator";
  for (auto& [k, v] : *local)
    if (remote->count(k) == 0)
      return "registry record " + k + " is in the leader's store, not in the coordinator";
  return {};
}

} // namespace caldera::sim
