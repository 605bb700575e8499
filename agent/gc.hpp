// Garbage collection of sandboxes, with Mesos' rule: a sandbox is scheduled
// for removal when its executor ends, and removed once it is older than
//
//   age limit = gc_delay x max(0, 1 - gc_disk_headroom - disk usage)
//
// where disk usage is the fraction of the work directory's filesystem in
// use (checked every --disk_watch_interval): a week by default, sooner as
// the disk fills. A sandbox whose executor runs is never scheduled.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace caldera {

class sandbox_gc {
public:
  using clock = std::chrono::system_clock;

  sandbox_gc(std::chrono::seconds delay, double headroom) : delay_(delay), headroom_(headroom) {
  }

  /// Removes `path` once it is old enough, counting from `since`.
  void schedule(const std::string& path, clock::time_point since);
  /// Keeps `path` (its executor runs again).
  void unschedule(const std::string& path);

  /// The age limit at this disk usage (0..1).
  std::chrono::seconds age_limit(double disk_usage) const;
  /// Removes what is older than the age limit at `disk_usage`; returns the
  /// paths removed.
  std::vector<std::string> prune(clock::time_point now, double disk_usage);

  size_t scheduled() const {
    return paths_.size();
  }

private:
  std::chrono::seconds delay_;
  double headroom_;
  std::map<std::string, clock::time_point> paths_;
};

/// The fraction (0..1) of the filesystem holding `path` in use; 0 if unknown.
double filesystem_usage(const std::string& path);

} // namespace caldera
