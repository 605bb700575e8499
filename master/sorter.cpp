#include "master/sorter.hpp"

#include <algorithm>

namespace caldera {

void drf_sorter::add(const std::string& name, double weight) {
  auto [it, added] = clients_.try_emplace(name);
  if (!added)
    return;
  it->second.weight = weight > 0 ? weight : 1.0;
  it->second.share = 0;
  order_.emplace(0.0, &it->first);
}

void drf_sorter::remove(const std::string& name) {
  auto i = clients_.find(name);
  if (i == clients_.end())
    return;
  order_.erase({i->second.share, &i->first});
  clients_.erase(i);
}

void drf_sorter::set_active(const std::string& name, bool active) {
  auto i = clients_.find(name);
  if (i == clients_.end() || i->second.active == active)
    return;
  i->second.active = active;
  if (active)
    order_.emplace(i->second.share, &i->first);
  else
    order_.erase({i->second.share, &i->first});
}

void drf_sorter::set_weight(const std::string& name, double weight) {
  auto i = clients_.find(name);
  if (i == clients_.end() || weight <= 0)
    return;
  i->second.weight = weight;
  reposition(i->first, i->second);
}

double drf_sorter::compute(const client& c) const {
  double dominant = 0;
  for (auto& [k, v] : c.alloc) {
    auto t = totals_.find(k);
    if (t == totals_.end() || t->second <= 0)
      continue;
    dominant = std::max(dominant, v / t->second);
  }
  return dominant / c.weight;
}

void drf_sorter::reposition(const std::string& name, client& c) {
  double s = compute(c);
  if (s == c.share)
    return;
  if (c.active)
    order_.erase({c.share, &name});
  c.share = s;
  if (c.active)
    order_.emplace(s, &name);
}

void drf_sorter::allocate(const std::string& name, const scalars& s) {
  auto i = clients_.find(name);
  if (i == clients_.end())
    return;
  for (auto& [k, v] : s)
    i->second.alloc[k] += v;
  reposition(i->first, i->second);
}

void drf_sorter::unallocate(const std::string& name, const scalars& s) {
  auto i = clients_.find(name);
  if (i == clients_.end())
    return;
  for (auto& [k, v] : s) {
    auto& a = i->second.alloc[k];
    a = std::max(0.0, a - v);
    if (a < 1e-9)
      i->second.alloc.erase(k);
  }
  reposition(i->first, i->second);
}

void drf_sorter::set_totals(const scalars& totals) {
  totals_ = totals;
  order_.clear();
  for (auto& [name, c] : clients_) {
    c.share = compute(c);
    if (c.active)
      order_.emplace(c.share, &name);
  }
}

double drf_sorter::share(const std::string& name) const {
  auto i = clients_.find(name);
  return i == clients_.end() ? 0 : i->second.share;
}

const scalars& drf_sorter::allocation(const std::string& name) const {
  static const scalars none;
  auto i = clients_.find(name);
  return i == clients_.end() ? none : i->second.alloc;
}

} // namespace caldera
