#include "agent/gc.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sys/statvfs.h>

namespace caldera {

void sandbox_gc::schedule(const std::string& path, clock::time_point since) {
  paths_[path] = since;
}

void sandbox_gc::unschedule(const std::string& path) {
  paths_.erase(path);
}

std::chrono::seconds sandbox_gc::age_limit(double disk_usage) const {
  double factor = std::max(0.0, 1.0 - headroom_ - disk_usage);
  return std::chrono::seconds{
    static_cast<int64_t>(std::floor(static_cast<double>(delay_.count()) * factor))};
}

std::vector<std::string> sandbox_gc::prune(clock::time_point now, double disk_usage) {
  auto limit = age_limit(disk_usage);
  std::vector<std::string> removed;
  for (auto i = paths_.begin(); i != paths_.end();) {
    if (now - i->second >= limit) {
      std::error_code ec;
      std::filesystem::remove_all(i->first, ec);
      // The framework's directory goes with its last sandbox.
      std::filesystem::remove(std::filesystem::path{i->first}.parent_path(), ec);
      removed.push_back(i->first);
      i = paths_.erase(i);
    } else {
      ++i;
    }
  }
  return removed;
}

double filesystem_usage(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0 || s.f_blocks == 0)
    return 0;
  return 1.0 - static_cast<double>(s.f_bavail) / static_cast<double>(s.f_blocks);
}

} // namespace caldera
