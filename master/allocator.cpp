#include "master/allocator.hpp"

#include <algorithm>

namespace caldera {

namespace {

std::string parent_of(const std::string& role) {
  auto slash = role.rfind('/');
  return slash == std::string::npos ? std::string{} : role.substr(0, slash);
}

} // namespace

std::vector<resources> allocator::default_min_allocatable() {
  return {*resources::parse("cpus:0.01"), *resources::parse("mem:32")};
}

allocator::allocator(std::vector<resources> min_allocatable)
  : min_allocatable_(std::move(min_allocatable)) {
  roles_[""];
}

void allocator::update_totals() const {
  if (!totals_dirty_)
    return;
  totals_dirty_ = false;
  for (auto& [name, node] : roles_) {
    node.children.set_totals(totals_);
    node.frameworks.set_totals(totals_);
  }
}

void allocator::add_agent(const std::string& agent_id, const resources& total) {
  remove_agent(agent_id);
  auto idx = next_agent_idx_++;
  auto it = agents_.emplace(agent_id, agent_entry{total, total, idx}).first;
  by_idx_.emplace(idx, it);
  mark_dirty(it->second);
  for (auto& [k, v] : total.scalars())
    totals_[k] += v;
  totals_dirty_ = true;
}

void allocator::remove_agent(const std::string& agent_id) {
  auto i = agents_.find(agent_id);
  if (i == agents_.end())
    return;
  for (auto& [k, v] : i->second.total.scalars())
    totals_[k] = std::max(0.0, totals_[k] - v);
  for (auto& [_, fw] : frameworks_)
    fw.filters.erase(i->second.idx);
  by_idx_.erase(i->second.idx);
  agents_.erase(i);
  totals_dirty_ = true;
}

bool allocator::has_agent(const std::string& agent_id) const {
  return agents_.count(agent_id) > 0;
}

void allocator::activate_agent(const std::string& agent_id, bool active) {
  if (auto i = agents_.find(agent_id); i != agents_.end()) {
    i->second.active = active;
    if (active)
      mark_dirty(i->second);
  }
}

void allocator::mark_dirty(agent_entry& a) {
  if (a.dirty)
    return;
  a.dirty = true;
  dirty_.push_back(a.idx);
}

bool allocator::under_quota(const std::string& role) const {
  if (quotas_.empty())
    return false;
  for (std::string q = role;; q = parent_of(q)) {
    if (quotas_.count(q) > 0)
      return true;
    if (q.empty())
      return false;
  }
}

void allocator::expire_filters(time_point now) {
  while (!expiries_.empty() && expiries_.top().first <= now) {
    if (auto i = by_idx_.find(expiries_.top().second); i != by_idx_.end())
      mark_dirty(i->second->second);
    expiries_.pop();
  }
}

allocator::visit_list allocator::take_dirty() {
  visit_list visit;
  auto wanted = [](const agent_entry& a) { return a.active && !a.free.empty(); };
  if (sweep_all_ || dirty_.size() > agents_.size() / 4) {
    visit.reserve(agents_.size());
    for (auto& [id, a] : agents_) {
      a.dirty = false;
      if (wanted(a))
        visit.emplace_back(&id, &a);
    }
  } else {
    for (auto idx : dirty_) {
      auto i = by_idx_.find(idx);
      if (i == by_idx_.end())
        continue;
      i->second->second.dirty = false;
      if (wanted(i->second->second))
        visit.emplace_back(&i->second->first, &i->second->second);
    }
    std::sort(visit.begin(), visit.end(),
              [](auto& x, auto& y) { return *x.first < *y.first; });
  }
  dirty_.clear();
  sweep_all_ = false;
  return visit;
}

void allocator::ensure_role(const std::string& role) {
  if (roles_.count(role) > 0)
    return;
  auto parent = parent_of(role);
  ensure_role(parent);
  auto& node = roles_[role];
  node.parent = parent;
  node.children.set_totals(totals_);
  node.frameworks.set_totals(totals_);
  node.children.add("");
  auto w = weights_.find(role);
  roles_[parent].children.add(role, w == weights_.end() ? 1.0 : w->second);
}

void allocator::add_framework(const std::string& framework_id,
                              std::vector<std::string> roles) {
  if (roles.empty())
    roles.push_back("*");
  auto& fw = frameworks_[framework_id];
  fw.roles = std::move(roles);
  fw.active = true;
  mark_all_dirty();
  for (auto& r : fw.roles) {
    ensure_role(r);
    roles_[r].frameworks.add(framework_id);
  }
  sync_walks(framework_id);
}

void allocator::sync_walks(const std::string& framework_id) {
  auto i = frameworks_.find(framework_id);
  if (i == frameworks_.end())
    return;
  auto& fw = i->second;
  for (auto& r : fw.roles) {
    bool on = fw.active && !fw.suppressed && fw.suppressed_roles.count(r) == 0;
    roles_[r].frameworks.set_active(framework_id, on);
  }
}

void allocator::remove_framework(const std::string& framework_id) {
  auto i = frameworks_.find(framework_id);
  if (i == frameworks_.end())
    return;
  for (auto& r : i->second.roles) {
    auto& node = roles_[r];
    // Whatever is still charged leaves the role with the framework.
    auto left = node.frameworks.allocation(framework_id);
    if (!left.empty())
      charge(framework_id, r, left, false);
    if (!left.empty() && under_quota(r))
      mark_all_dirty();
    node.frameworks.remove(framework_id);
  }
  frameworks_.erase(i);
}

void allocator::activate_framework(const std::string& framework_id, bool active) {
  if (auto i = frameworks_.find(framework_id); i != frameworks_.end()) {
    i->second.active = active;
    sync_walks(framework_id);
    if (active)
      mark_all_dirty();
  }
}

void allocator::suppress(const std::string& framework_id, const std::string& role) {
  auto i = frameworks_.find(framework_id);
  if (i == frameworks_.end())
    return;
  if (role.empty())
    i->second.suppressed = true;
  else
    i->second.suppressed_roles.insert(role);
  sync_walks(framework_id);
}

void allocator::revive(const std::string& framework_id, const std::string& role) {
  auto i = frameworks_.find(framework_id);
  if (i == frameworks_.end())
    return;
  if (role.empty()) {
    i->second.suppressed = false;
    i->second.suppressed_roles.clear();
  } else {
    i->second.suppressed_roles.erase(role);
  }
  i->second.filters.clear();
  sync_walks(framework_id);
  mark_all_dirty();
}

void allocator::set_weight(const std::string& role, double weight) {
  if (weight <= 0)
    return;
  weights_[role] = weight;
  if (roles_.count(role) > 0)
    roles_[roles_[role].parent].children.set_weight(role, weight);
}

double allocator::weight(const std::string& role) const {
  auto i = weights_.find(role);
  return i == weights_.end() ? 1.0 : i->second;
}

void allocator::set_quota(const std::string& role, quota q) {
  ensure_role(role);
  quotas_[role] = std::move(q);
  mark_all_dirty();
}

void allocator::remove_quota(const std::string& role) {
  quotas_.erase(role);
  mark_all_dirty();
}

void allocator::charge(const std::string& framework_id, const std::string& role,
                       const scalars& s, bool add) {
  if (roles_.count(role) == 0)
    return;
  auto apply = [&](drf_sorter& sorter, const std::string& name) {
    if (add)
      sorter.allocate(name, s);
    else
      sorter.unallocate(name, s);
  };
  auto& node = roles_[role];
  apply(node.frameworks, framework_id);
  apply(node.children, "");
  for (std::string r = role; !r.empty();) {
    auto parent = roles_[r].parent;
    apply(roles_[parent].children, r);
    r = parent;
  }
}

void allocator::recover(const std::string& agent_id, const std::string& framework_id,
                        const std::string& role, const resources& r,
                        std::optional<time_point> refuse_until) {
  if (r.empty())
    return;
  charge(framework_id, role, r.scalars(), false);
  if (under_quota(role))
    mark_all_dirty();
  auto i = agents_.find(agent_id);
  if (i == agents_.end())
    return;
  auto& a = i->second;
  a.free += r;
  mark_dirty(a);
  // Never more free than the agent has (the intersection with its total).
  if (!a.total.contains(a.free))
    a.free = a.total - (a.total - a.free);
  if (refuse_until) {
    if (auto f = frameworks_.find(framework_id); f != frameworks_.end()) {
      f->second.filters[a.idx] = filter{r, *refuse_until};
      expiries_.emplace(*refuse_until, a.idx);
    }
  }
}

bool allocator::use(const std::string& agent_id, const std::string& framework_id,
                    const std::string& role, const resources& r) {
  auto i = agents_.find(agent_id);
  if (i == agents_.end() || !i->second.free.contains(r))
    return false;
  i->second.free -= r;
  ensure_role(role);
  charge(framework_id, role, r.scalars(), true);
  return true;
}

bool allocator::filtered(framework_entry& fw, uint32_t agent_idx,
                         const resources& offerable, time_point now) {
  if (fw.filters.empty())
    return false;
  auto i = fw.filters.find(agent_idx);
  if (i == fw.filters.end())
    return false;
  if (i->second.until <= now) {
    fw.filters.erase(i);
    return false;
  }
  return i->second.refused.contains(offerable);
}

bool allocator::allocatable(const resources& r) const {
  if (r.empty())
    return false;
  if (min_allocatable_.empty())
    return true;
  for (auto& m : min_allocatable_)
    if (r.contains(m))
      return true;
  // Reserved resources count by name, whatever their role.
  auto s = r.scalars();
  for (auto& m : min_allocatable_) {
    bool ok = true;
    for (auto& [k, v] : m.scalars())
      if (s[k] + 1e-9 < v)
        ok = false;
    if (ok)
      return true;
  }
  return false;
}

void allocator::apply_limits(const std::string& role, resources& r) const {
  for (std::string q = role;; q = parent_of(q)) {
    auto i = quotas_.find(q);
    if (i != quotas_.end() && !i->second.limit.empty()) {
      auto used = role_allocation(q);
      for (auto& [k, v] : i->second.limit.scalars())
        r.cap(k, v - used[k]);
    }
    if (q.empty())
      break;
  }
}

template <class R, class F>
bool allocator::walk(const std::string& node_name, R&& role_ok, F&& f) {
  auto& node = roles_[node_name];
  for (auto& [share, child] : node.children.order()) {
    if (child->empty()) {
      if (node_name.empty() || node.frameworks.order().empty() || !role_ok(node_name))
        continue;
      for (auto& [fshare, fid] : node.frameworks.order())
        if (f(node_name, *fid))
          return true;
    } else if (walk(*child, role_ok, f)) {
      return true;
    }
  }
  return false;
}

const resources& allocator::role_offerable(cycle& c, agent_entry& a,
                                           const std::string& role) {
  if (c.cached_agent == &a && c.cached_role == role)
    return c.cached;
  c.cached_agent = &a;
  c.cached_role = role;
  c.cached = a.free.allocatable_to_role(role);
  if (!c.cached.empty())
    apply_limits(role, c.cached);
  if (!allocatable(c.cached))
    c.cached = resources{};
  return c.cached;
}

bool allocator::may_offer(cycle& c, agent_entry& a, const std::string& role,
                          const std::string& fid) {
  auto& cached = role_offerable(c, a, role);
  if (cached.empty())
    return false;
  auto i = frameworks_.find(fid);
  if (i == frameworks_.end())
    return false;
  auto& fw = i->second;
  if (!fw.active || fw.suppressed
      || (!fw.suppressed_roles.empty() && fw.suppressed_roles.count(role) > 0))
    return false;
  return !filtered(fw, a.idx, cached, c.now);
}

resources allocator::offerable(cycle& c, agent_entry& a, const std::string& role,
                               const std::string& fid) {
  return may_offer(c, a, role, fid) ? c.cached : resources{};
}

void allocator::give(cycle& c, agent_entry& a, const std::string& aid,
                     const std::string& role, const std::string& fid, resources r) {
  c.cached_agent = nullptr;
  if (r == a.free)
    a.free = resources{};
  else
    a.free -= r;
  charge(fid, role, r.scalars(), true);
  c.out.push_back(allocation{fid, aid, role, std::move(r)});
}

void allocator::serve_quotas(cycle& c, const visit_list& visit) {
  for (auto& [role, q] : quotas_) {
    if (q.guarantee.empty() || roles_.count(role) == 0)
      continue;
    for (auto& [aid, a] : visit) {
      auto lacking = q.guarantee.scalars();
      auto have = role_allocation(role);
      bool met = true;
      for (auto& [k, v] : lacking) {
        v -= have[k];
        if (v > 1e-9)
          met = false;
      }
      if (met)
        break;
      if (a->free.empty() || !a->active)
        continue;
      auto role_ok = [&](const std::string& r) { return !role_offerable(c, *a, r).empty(); };
      walk(role, role_ok, [&](const std::string& r, const std::string& fid) {
        auto o = offerable(c, *a, r, fid);
        for (auto& [k, v] : lacking)
          o.cap(k, std::max(0.0, v));
        if (!allocatable(o))
          return false;
        give(c, *a, *aid, r, fid, std::move(o));
        return true;
      });
    }
  }
}

void allocator::serve_fair_share(cycle& c, const visit_list& visit) {
  for (auto& [aid, a] : visit) {
    auto role_ok = [&](const std::string& r) { return !role_offerable(c, *a, r).empty(); };
    while (a->active && !a->free.empty()) {
      bool gave = walk("", role_ok, [&](const std::string& role, const std::string& fid) {
        if (!may_offer(c, *a, role, fid))
          return false;
        give(c, *a, *aid, role, fid, std::move(c.cached)); // no copy: the cache ends here
        return true;
      });
      if (!gave)
        break;
    }
  }
}

std::vector<allocator::allocation> allocator::allocate(time_point now) {
  update_totals();
  expire_filters(now);
  last_visited_ = 0;
  if (frameworks_.empty())
    return {};
  auto visit = take_dirty();
  last_visited_ = visit.size();
  cycle c;
  c.now = now;
  c.out.reserve(visit.size());
  serve_quotas(c, visit);   // unmet quota guarantees first
  serve_fair_share(c, visit);
  return std::move(c.out);
}

const resources* allocator::total(const std::string& agent_id) const {
  auto i = agents_.find(agent_id);
  return i == agents_.end() ? nullptr : &i->second.total;
}

const resources* allocator::free(const std::string& agent_id) const {
  auto i = agents_.find(agent_id);
  return i == agents_.end() ? nullptr : &i->second.free;
}

std::vector<std::string> allocator::roles() const {
  std::vector<std::string> out;
  for (auto& [name, node] : roles_)
    if (!name.empty())
      out.push_back(name);
  return out;
}

scalars allocator::role_allocation(const std::string& role) const {
  if (role.empty()) {
    scalars all;
    for (auto& [share, name] : roles_.at("").children.order())
      for (auto& [k, v] : roles_.at("").children.allocation(*name))
        all[k] += v;
    return all;
  }
  auto i = roles_.find(role);
  if (i == roles_.end())
    return {};
  return roles_.at(i->second.parent).children.allocation(role);
}

double allocator::role_share(const std::string& role) const {
  update_totals();
  auto i = roles_.find(role);
  if (i == roles_.end() || role.empty())
    return 0;
  return roles_.at(i->second.parent).children.share(role);
}

double allocator::framework_share(const std::string& framework_id,
                                  const std::string& role) const {
  update_totals();
  auto i = roles_.find(role);
  return i == roles_.end() ? 0 : i->second.frameworks.share(framework_id);
}

} // namespace caldera
