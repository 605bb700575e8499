#include "master/allocator.hpp"

#include <algorithm>

namespace caldera {

void allocator::add_agent(const std::string& agent_id, const resources& total) {
  agents_[agent_id] = agent_entry{total, total};
}

void allocator::remove_agent(const std::string& agent_id) {
  agents_.erase(agent_id);
  for (auto& [_, fw] : frameworks_)
    fw.filters.erase(agent_id);
}

bool allocator::has_agent(const std::string& agent_id) const {
  return agents_.count(agent_id) > 0;
}

void allocator::add_framework(const std::string& framework_id,
                              std::vector<std::string> roles) {
  if (roles.empty())
    roles.push_back("*");
  auto [it, added] = frameworks_.try_emplace(framework_id);
  it->second.roles = std::move(roles);
  it->second.active = true;
  if (added)
    rotation_.push_back(framework_id);
}

void allocator::remove_framework(const std::string& framework_id) {
  frameworks_.erase(framework_id);
  rotation_.erase(std::remove(rotation_.begin(), rotation_.end(), framework_id),
                  rotation_.end());
  if (cursor_ >= rotation_.size())
    cursor_ = 0;
}

void allocator::activate_framework(const std::string& framework_id, bool active) {
  if (auto i = frameworks_.find(framework_id); i != frameworks_.end())
    i->second.active = active;
}

void allocator::suppress(const std::string& framework_id) {
  if (auto i = frameworks_.find(framework_id); i != frameworks_.end())
    i->second.suppressed = true;
}

void allocator::revive(const std::string& framework_id) {
  if (auto i = frameworks_.find(framework_id); i != frameworks_.end()) {
    i->second.suppressed = false;
    i->second.filters.clear();
  }
}

bool allocator::use(const std::string& agent_id, const resources& r) {
  auto i = agents_.find(agent_id);
  if (i == agents_.end() || !i->second.free.contains(r))
    return false;
  i->second.free -= r;
  return true;
}

void allocator::recover(const std::string& agent_id, const resources& r,
                        const std::string& framework_id,
                        std::optional<time_point> refuse_until) {
  auto i = agents_.find(agent_id);
  if (i == agents_.end())
    return;
  auto& a = i->second;
  a.free += r;
  // Never more free than the agent has.
  if (!a.total.contains(a.free))
    a.free = a.total - (a.total - a.free);
  if (refuse_until && !framework_id.empty() && !r.empty()) {
    if (auto f = frameworks_.find(framework_id); f != frameworks_.end())
      f->second.filters[agent_id] = filter{r, *refuse_until};
  }
}

bool allocator::filtered(framework_entry& fw, const std::string& agent_id,
                         const resources& offerable, time_point now) {
  auto i = fw.filters.find(agent_id);
  if (i == fw.filters.end())
    return false;
  if (i->second.until <= now) {
    fw.filters.erase(i);
    return false;
  }
  return i->second.refused.contains(offerable);
}

std::vector<allocator::allocation> allocator::allocate(time_point now) {
  std::vector<allocation> out;
  if (rotation_.empty())
    return out;
  for (auto& [agent_id, a] : agents_) {
    if (a.free.empty())
      continue;
    for (size_t n = 0; n < rotation_.size(); ++n) {
      auto& fid = rotation_[(cursor_ + n) % rotation_.size()];
      auto& fw = frameworks_[fid];
      if (!fw.active || fw.suppressed)
        continue;
      auto offerable = a.free.allocatable_to(fw.roles);
      if (offerable.empty() || filtered(fw, agent_id, offerable, now))
        continue;
      a.free -= offerable;
      out.push_back(allocation{fid, agent_id, std::move(offerable)});
      cursor_ = (cursor_ + n + 1) % rotation_.size();
      break;
    }
  }
  return out;
}

const resources* allocator::total(const std::string& agent_id) const {
  auto i = agents_.find(agent_id);
  return i == agents_.end() ? nullptr : &i->second.total;
}

const resources* allocator::free(const std::string& agent_id) const {
  auto i = agents_.find(agent_id);
  return i == agents_.end() ? nullptr : &i->second.free;
}

} // namespace caldera
