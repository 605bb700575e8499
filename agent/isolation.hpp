// Isolators: what keeps one container (an executor and its tasks) from
// taking another's CPU, memory or disk, with the names Mesos operators know.
//
//   cgroups/cpu  cpu.shares (v1) or cpu.weight (v2) proportional to cpus;
//                a hard cap (cfs quota / cpu.max) with --cgroups_enable_cfs
//   cgroups/mem  memory.limit_in_bytes (v1) or memory.max (v2); an OOM kill
//                in the container (memory.oom_control / memory.events) is a
//                memory limitation
//   posix/cpu    usage from /proc only (no enforcement, as in Mesos)
//   posix/mem    RSS of the container's session sampled from /proc; over the
//                limit is a memory limitation
//   disk/du      sandbox usage measured every --disk_watch_interval; over the
//                disk resource is a disk limitation with
//                --enforce_container_disk_quota
//
// A container's cgroups live under the agent's own cgroup in each hierarchy
// (`<hierarchy>/<agent's cgroup>/caldera/<name>`), so an agent started in a
// delegated cgroup (systemd Delegate=yes) needs nothing more. The default,
// when --isolation is not given, is cgroups where a writable hierarchy with
// the cpu and memory controllers exists, else posix.
//
// A memory limit is the tasks' (and executor's) mem plus
// `executor_mem_overhead` (32 MiB: the command executor's own footprint).
//
// posix/mem sets no rlimit: RLIMIT_AS and RLIMIT_DATA count reserved address
// space, not memory in use (every thread's 8 MiB stack counts, and a JVM or
// Go runtime reserves far more than it touches), so a limit that fits the
// task would kill the executor; RLIMIT_RSS is ignored by Linux. Sampling the
// session's RSS is what fits; a spike shorter than the interval can pass.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace caldera {

inline constexpr uint64_t executor_mem_overhead = 32ull << 20;

struct container_limits {
  double cpus = 0;            // 0: none
  uint64_t mem_bytes = 0;     // what the tasks asked for; 0: none
  uint64_t disk_bytes = 0;    // 0: none
};

/// Mesos' ResourceStatistics, for one container.
struct container_usage {
  double timestamp = 0;
  double cpus_user_time_secs = 0;
  double cpus_system_time_secs = 0;
  double cpus_limit = 0;
  uint64_t cpus_nr_throttled = 0;
  uint64_t mem_rss_bytes = 0;
  uint64_t mem_limit_bytes = 0;
  uint64_t disk_used_bytes = 0;
  uint64_t disk_limit_bytes = 0;
  uint32_t processes = 0;
};

/// Why a container was destroyed: a Mesos reason and a message.
struct limitation {
  std::string reason;  // REASON_CONTAINER_LIMITATION_MEMORY / _DISK
  std::string message;
};

struct isolation_options {
  /// Comma-separated isolator names; empty: the default for this host.
  std::string isolation;
  bool cgroups_enable_cfs = false;
  bool enforce_container_disk_quota = false;
  /// Where cgroup hierarchies are mounted (tests point it at a fake tree).
  std::string cgroup_mount = "/sys/fs/cgroup";
  /// The agent's own cgroup per controller ("/proc/self/cgroup" format).
  std::string self_cgroup_file = "/proc/self/cgroup";
  /// Directory under the agent's cgroup holding its containers' cgroups;
  /// caldera-agent uses "caldera/<hash of its work dir>" so that agents
  /// sharing a host (tests, several per machine) never touch each other's.
  std::string cgroups_root = "caldera";
};

struct cgroup_host;

class isolation {
public:
  /// Checks the names and what the host offers. An unknown name, or a
  /// cgroups isolator the host cannot give, is an error naming it. By
  /// default (no names): cgroups where the host has a writable hierarchy
  /// with cpu and memory and the agent can set it up, else posix (`why`
  /// says which and why).
  static caf::expected<std::unique_ptr<isolation>> create(const isolation_options& opts);
  ~isolation();

  /// The isolators in use, and one line saying why (logged at start).
  const std::vector<std::string>& names() const;
  const std::string& why() const;
  bool has(const std::string& name) const;

  /// Before the container's first process: creates its cgroups and sets
  /// limits. `name` is unique per container and a valid file name.
  caf::error prepare(const std::string& name, const container_limits& lim);
  /// Files the container's first process writes "0" into before it execs
  /// (joining its cgroups).
  std::vector<std::string> join_files(const std::string& name) const;
  /// Records the session id of the container's processes (posix sampling)
  /// and its sandbox (disk/du).
  void started(const std::string& name, int session, const std::string& sandbox);
  /// New limits as tasks come and go (memory is never lowered, as in Mesos).
  void update(const std::string& name, const container_limits& lim);
  /// A limitation the container has hit, if any; `with_disk` also measures
  /// its sandbox (costly: only every disk watch interval).
  std::optional<limitation> check(const std::string& name, bool with_disk);
  container_usage usage(const std::string& name);
  /// Kills every process in the container's cgroups (those that left its
  /// session too).
  void kill_all(const std::string& name);
  /// Kills what is left in the container's cgroups and removes them
  /// (retrying while the kernel finishes the killed processes, up to 1 s).
  void cleanup(const std::string& name);
  /// Cleans up every container cgroup under this agent's root that is not
  /// in `keep` (left by an agent that was killed); returns how many.
  size_t remove_stale(const std::vector<std::string>& keep);

  struct impl;

private:
  explicit isolation(std::unique_ptr<impl> p);
  /// Sets up isolators `names` on `host` (their cgroups' roots).
  caf::error use(const std::vector<std::string>& names, cgroup_host& host);
  std::unique_ptr<impl> p_;
};

/// A small file's content ("" when it cannot be read: /proc and cgroup
/// entries vanish while being read, and that must never throw).
std::string read_small_file(const std::string& path);

/// Bytes used by the files under `dir` (allocated blocks, as du counts;
/// symlinks not followed). Never throws.
uint64_t disk_usage(const std::string& dir);

} // namespace caldera
