#include "agent/isolation.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <csignal>
#include <thread>
#include <unistd.h>

#include "actors/error.hpp"
#include "actors/ids.hpp"
#include "actors/log.hpp"

namespace caldera {

namespace fs = std::filesystem;

std::string read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return {};
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace {

caf::error write_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(errc::invalid_config,
                      "cannot open '" + path + "': " + std::strerror(errno));
  auto n = ::write(fd, value.data(), value.size());
  int e = errno;
  ::close(fd);
  if (n < 0 || static_cast<size_t>(n) != value.size())
    return make_error(errc::invalid_config, "cannot write '" + value + "' to '" + path
                                              + "': " + std::strerror(e));
  return {};
}

// "key value" lines (memory.stat, cpu.stat, memory.events, ...).
uint64_t keyed(const std::string& text, const std::string& key, bool* found = nullptr) {
  std::istringstream in{text};
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) {
      if (found)
        *found = true;
      return v;
    }
  if (found)
    *found = false;
  return 0;
}

uint64_t number(const std::string& text) {
  return std::strtoull(text.c_str(), nullptr, 10);
}

std::string mib(uint64_t bytes) {
  char buf[32];
  if (bytes % (1 << 20) == 0)
    std::snprintf(buf, sizeof(buf), "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  else
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// What /proc says of the processes of one session.
struct session_sample {
  uint64_t rss_bytes = 0;
  uint64_t user_ticks = 0, system_ticks = 0;
  uint32_t processes = 0;
};

// Every session's processes in one pass over /proc.
std::map<int, session_sample> sample_sessions() {
  std::map<int, session_sample> out;
  static const long page = ::sysconf(_SC_PAGESIZE);
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    auto name = e.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9')
      continue;
    std::string all = read_small_file("/proc/" + name + "/stat");
    auto close = all.rfind(')');
    if (close == std::string::npos || close + 2 >= all.size())
      continue;
    // Fields from 3 on: state ppid pgrp session ... utime(14) stime(15)
    // cutime(16) cstime(17) ... rss(24).
    std::istringstream rest{all.substr(close + 2)};
    std::vector<std::string> f{std::istream_iterator<std::string>{rest},
                               std::istream_iterator<std::string>{}};
    if (f.size() < 22 || f[0] == "Z")
      continue;
    auto& s = out[static_cast<int>(number(f[3]))];
    ++s.processes;
    s.user_ticks += number(f[11]) + number(f[13]);
    s.system_ticks += number(f[12]) + number(f[14]);
    s.rss_bytes += number(f[21]) * static_cast<uint64_t>(page);
  }
  return out;
}

} // namespace

uint64_t disk_usage(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it{dir, fs::directory_options::skip_permission_denied, ec};
  for (; !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0)
      total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

struct isolation::impl {
  isolation_options opts;
  std::vector<std::string> names;
  std::string why;
  bool cg_cpu = false, cg_mem = false, px_cpu = false, px_mem = false, du = false;
  int version = 0;           // cgroup version in use (0: none)
  // v1: controller -> the directory under which containers' cgroups go.
  std::map<std::string, std::string> v1;
  std::string v2;            // v2: the directory under which containers go

  struct container {
    container_limits lim;
    int session = 0;
    std::string sandbox;
    uint64_t peak_rss = 0;          // posix sampling
    uint64_t disk_used = 0;
    bool disk_measured = false;
  };
  std::mutex mtx;
  std::map<std::string, container> containers;

  // One pass over /proc serves every container checked within 50 ms (the
  // agent checks them all at each interval).
  std::mutex scan_mtx;
  std::map<int, session_sample> scan;
  std::chrono::steady_clock::time_point scanned_at{};

  session_sample sample(int sid) {
    std::lock_guard<std::mutex> g{scan_mtx};
    auto now = std::chrono::steady_clock::now();
    if (now - scanned_at > std::chrono::milliseconds(50)) {
      scan = sample_sessions();
      scanned_at = now;
    }
    auto i = scan.find(sid);
    return i == scan.end() ? session_sample{} : i->second;
  }

  uint64_t mem_limit(const container_limits& l) const {
    return l.mem_bytes > 0 ? l.mem_bytes + executor_mem_overhead : 0;
  }

  std::vector<std::string> dirs(const std::string& name) const {
    std::vector<std::string> out;
    if (version == 2) {
      out.push_back(v2 + "/" + name);
    } else if (version == 1) {
      std::set<std::string> seen;
      for (auto& [c, d] : v1)
        if (seen.insert(d).second)
          out.push_back(d + "/" + name);
    }
    return out;
  }

  std::string v1_dir(const std::string& controller, const std::string& name) const {
    auto i = v1.find(controller);
    return i == v1.end() ? std::string{} : i->second + "/" + name;
  }

  caf::error set_limits(const std::string& name, const container_limits& lim, bool first) {
    if (version == 1) {
      if (cg_mem && lim.mem_bytes > 0) {
        auto dir = v1_dir("memory", name);
        auto want = mem_limit(lim);
        auto have = number(read_small_file(dir + "/memory.limit_in_bytes"));
        if (first || want > have)
          if (auto err = write_file(dir + "/memory.limit_in_bytes", std::to_string(want)))
            return err;
      }
      if (cg_cpu && lim.cpus > 0) {
        auto dir = v1_dir("cpu", name);
        auto shares = std::max<uint64_t>(2, static_cast<uint64_t>(std::llround(lim.cpus * 1024)));
        if (auto err = write_file(dir + "/cpu.shares", std::to_string(shares)))
          return err;
        if (opts.cgroups_enable_cfs) {
          auto quota = std::max<uint64_t>(1000, static_cast<uint64_t>(lim.cpus * 100000));
          if (auto err = write_file(dir + "/cpu.cfs_period_us", "100000"))
            return err;
          if (auto err = write_file(dir + "/cpu.cfs_quota_us", std::to_string(quota)))
            return err;
        }
      }
    } else if (version == 2) {
      auto dir = v2 + "/" + name;
      if (cg_mem && lim.mem_bytes > 0) {
        auto want = mem_limit(lim);
        auto cur = read_small_file(dir + "/memory.max");
        if (first || cur.rfind("max", 0) == 0 || want > number(cur))
          if (auto err = write_file(dir + "/memory.max", std::to_string(want)))
            return err;
      }
      if (cg_cpu && lim.cpus > 0) {
        // cpu.weight is 1..10000 with 100 the default (cpus 1).
        auto weight = std::clamp<uint64_t>(static_cast<uint64_t>(std::llround(lim.cpus * 100)),
                                           1, 10000);
        if (auto err = write_file(dir + "/cpu.weight", std::to_string(weight)))
          return err;
        if (opts.cgroups_enable_cfs) {
          auto quota = std::max<uint64_t>(1000, static_cast<uint64_t>(lim.cpus * 100000));
          if (auto err = write_file(dir + "/cpu.max", std::to_string(quota) + " 100000"))
            return err;
        }
      }
    }
    return {};
  }

  // The OOM kills the kernel made in the container so far.
  uint64_t oom_kills(const std::string& name, uint64_t* peak) const {
    if (version == 1) {
      auto dir = v1_dir("memory", name);
      bool found = false;
      auto n = keyed(read_small_file(dir + "/memory.oom_control"), "oom_kill", &found);
      if (!found) // kernels before 4.13: the limit was hit and the OOM killer ran
        n = keyed(read_small_file(dir + "/memory.oom_control"), "under_oom");
      *peak = number(read_small_file(dir + "/memory.max_usage_in_bytes"));
      return n;
    }
    auto dir = v2 + "/" + name;
    auto n = keyed(read_small_file(dir + "/memory.events"), "oom_kill");
    auto p = read_small_file(dir + "/memory.peak");
    *peak = number(p.empty() ? read_small_file(dir + "/memory.current") : p);
    return n;
  }
};

namespace {

// The agent's own cgroup path per v1 controller, and its v2 path ("0::").
void self_cgroups(const std::string& file, std::map<std::string, std::string>& v1,
                  std::string& v2) {
  std::istringstream in{read_small_file(file)};
  for (std::string line; std::getline(in, line);) {
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos)
      continue;
    auto controllers = line.substr(a + 1, b - a - 1);
    auto path = line.substr(b + 1);
    if (controllers.empty()) {
      v2 = path;
      continue;
    }
    std::istringstream cs{controllers};
    for (std::string c; std::getline(cs, c, ',');)
      v1[c] = path;
  }
}

bool writable_dir(const std::string& d) {
  return ::access(d.c_str(), W_OK) == 0;
}

} // namespace

namespace {

const std::set<std::string> known_isolators{"cgroups/cpu", "cgroups/mem", "posix/cpu",
                                            "posix/mem", "disk/du"};

} // namespace

// What the host offers: v2 with cpu and memory, else v1 with both; and the
// agent's own cgroups.
struct cgroup_host {
  int version = 0; // 0: none usable
  std::string unified; // v2's mount
  std::string why;     // why none, when none
  std::map<std::string, std::string> self_v1;
  std::string self_v2;
  std::string where(const std::string& mount) const {
    return "v" + std::to_string(version) + " at " + (version == 2 ? unified : mount);
  }
};

namespace {

cgroup_host detect_host(const isolation_options& opts) {
  cgroup_host h;
  self_cgroups(opts.self_cgroup_file, h.self_v1, h.self_v2);
  const std::string& m = opts.cgroup_mount;
  for (auto cand : {m, m + "/unified"})
    if (fs::exists(cand + "/cgroup.controllers")) {
      h.unified = cand;
      break;
    }
  if (!h.unified.empty()) {
    std::istringstream words{read_small_file(h.unified + "/cgroup.controllers")};
    std::set<std::string> ctl{std::istream_iterator<std::string>{words},
                              std::istream_iterator<std::string>{}};
    bool both = ctl.count("memory") > 0 && ctl.count("cpu") > 0;
    if (both && writable_dir(h.unified + h.self_v2))
      h.version = 2;
    else if (!both)
      h.why = "cgroup v2 at " + h.unified + " has no cpu and memory controllers";
    else
      h.why = "cgroup v2 at " + h.unified + h.self_v2 + " is not writable";
  }
  if (h.version == 0) {
    bool mem = fs::exists(m + "/memory/memory.limit_in_bytes");
    bool cpu = fs::exists(m + "/cpu/cpu.shares");
    if (mem && cpu && writable_dir(m + "/memory" + h.self_v1["memory"])
        && writable_dir(m + "/cpu" + h.self_v1["cpu"]))
      h.version = 1;
    else if (h.why.empty())
      h.why = mem && cpu ? "the cgroup v1 hierarchies at " + m + " are not writable"
                         : "no cgroup hierarchy with cpu and memory at " + m;
  }
  return h;
}

// The isolators `opts` asks for (the host's default when none), and why.
caf::expected<std::vector<std::string>> choose_isolators(const isolation_options& opts,
                                                         const cgroup_host& h,
                                                         std::string& why) {
  std::vector<std::string> names;
  if (opts.isolation.empty()) {
    if (h.version != 0) {
      why = "default: cgroups (" + h.where(opts.cgroup_mount) + ")";
      return std::vector<std::string>{"cgroups/cpu", "cgroups/mem"};
    }
    why = "default: posix, because " + h.why;
    return std::vector<std::string>{"posix/cpu", "posix/mem"};
  }
  std::istringstream in{opts.isolation};
  for (std::string n; std::getline(in, n, ',');) {
    if (n.empty())
      continue;
    if (known_isolators.count(n) == 0)
      return make_error(errc::invalid_config,
                        "unknown isolator '" + n
                          + "' (known: cgroups/cpu, cgroups/mem, posix/cpu, posix/mem, disk/du)");
    if (n.rfind("cgroups/", 0) == 0 && h.version == 0)
      return make_error(errc::invalid_config, "'" + n + "' is not available here: " + h.why);
    if (std::find(names.begin(), names.end(), n) == names.end())
      names.push_back(n);
  }
  why = "as configured";
  if (h.version != 0)
    why += " (cgroup " + h.where(opts.cgroup_mount) + ")";
  return names;
}

// cgroup v2 lets a cgroup that holds processes enable no controllers for
// its children ("no internal processes"): the agent started by systemd in
// its service's delegated cgroup is such a process. Its processes move into
// the leaf <base>/agent first, beside the containers.
caf::error leave_for_leaf(const std::string& base) {
  std::istringstream procs{read_small_file(base + "/cgroup.procs")};
  std::vector<std::string> pids{std::istream_iterator<std::string>{procs},
                                std::istream_iterator<std::string>{}};
  if (pids.empty())
    return caf::error{};
  std::error_code ec;
  fs::create_directories(base + "/agent", ec);
  if (ec)
    return make_error(errc::invalid_config, "cannot create " + base + "/agent: " + ec.message());
  // A process that ended meanwhile cannot move (ESRCH): fine. One that
  // stays makes enabling the controllers fail below, which says so.
  for (auto& pid : pids)
    if (auto err = write_file(base + "/agent/cgroup.procs", pid))
      log::debug("cgroup_move_failed", {{"pid", pid}, {"reason", describe(err)}});
  return caf::error{};
}

// v2: containers go under <agent's cgroup>/<cgroups_root>, the controllers
// enabled at every level down to them. Returns that directory.
caf::expected<std::string> setup_v2(const isolation_options& opts, const cgroup_host& h,
                                    bool cpu, bool mem) {
  std::string base = h.unified + (h.self_v2 == "/" ? "" : h.self_v2);
  std::string root = base + "/" + opts.cgroups_root;
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return make_error(errc::invalid_config, "cannot create " + root + ": " + ec.message());
  if (h.self_v2 != "/")
    if (auto err = leave_for_leaf(base))
      return make_error(errc::invalid_config, "cgroup v2: cannot move the agent into "
                                                + base + "/agent (" + describe(err) + ")");
  std::string ctl = std::string{cpu ? "+cpu " : ""} + (mem ? "+memory" : "");
  std::vector<std::string> levels{base};
  for (auto& part : fs::path{opts.cgroups_root})
    levels.push_back(levels.back() + "/" + part.string());
  for (auto& d : levels)
    if (auto err = write_file(d + "/cgroup.subtree_control", ctl))
      return make_error(errc::invalid_config,
                        "cgroup v2: cannot enable the cpu and memory controllers under " + d
                          + " (" + describe(err)
                          + "); start the agent in a delegated cgroup, or use posix");
  return root;
}

// v1: per controller, the directory its containers' cgroups go under.
caf::expected<std::map<std::string, std::string>> setup_v1(const isolation_options& opts,
                                                           cgroup_host& h, bool cpu, bool mem) {
  const std::string& m = opts.cgroup_mount;
  std::vector<std::string> ctls;
  if (mem)
    ctls.push_back("memory");
  if (cpu) {
    ctls.push_back("cpu");
    if (fs::exists(m + "/cpuacct/cpuacct.stat"))
      ctls.push_back("cpuacct");
  }
  std::map<std::string, std::string> out;
  for (auto& c : ctls) {
    std::string root = m + "/" + c + (h.self_v1[c] == "/" ? "" : h.self_v1[c]) + "/"
                       + opts.cgroups_root;
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec)
      return make_error(errc::invalid_config, "cannot create " + root + ": " + ec.message());
    out[c] = root;
  }
  return out;
}

} // namespace

caf::error isolation::use(const std::vector<std::string>& names, cgroup_host& h) {
  auto& p = *p_;
  p.names = names;
  p.cg_cpu = p.cg_mem = p.px_cpu = p.px_mem = p.du = false;
  for (auto& n : names) {
    p.cg_cpu |= n == "cgroups/cpu";
    p.cg_mem |= n == "cgroups/mem";
    p.px_cpu |= n == "posix/cpu";
    p.px_mem |= n == "posix/mem";
    p.du |= n == "disk/du";
  }
  if (p.cg_mem && p.px_mem)
    return make_error(errc::invalid_config, "choose cgroups/mem or posix/mem, not both");
  if (p.cg_cpu && p.px_cpu)
    return make_error(errc::invalid_config, "choose cgroups/cpu or posix/cpu, not both");
  if (!p.cg_cpu && !p.cg_mem)
    return caf::error{};
  p.version = h.version;
  if (h.version == 2) {
    auto root = setup_v2(p.opts, h, p.cg_cpu, p.cg_mem);
    if (!root)
      return root.error();
    p.v2 = *root;
    return caf::error{};
  }
  auto roots = setup_v1(p.opts, h, p.cg_cpu, p.cg_mem);
  if (!roots)
    return roots.error();
  p.v1 = *roots;
  return caf::error{};
}

caf::expected<std::unique_ptr<isolation>> isolation::create(const isolation_options& opts) {
  auto p = std::make_unique<impl>();
  p->opts = opts;
  auto h = detect_host(opts);
  auto names = choose_isolators(opts, h, p->why);
  if (!names)
    return names.error();
  std::unique_ptr<isolation> iso{new isolation{std::move(p)}};
  auto err = iso->use(*names, h);
  if (err && opts.isolation.empty() && h.version != 0) {
    // The default cgroups could not be set up: posix, saying why.
    iso->p_->why = "default: posix, because " + error_message(err);
    iso->p_->version = 0;
    err = iso->use({"posix/cpu", "posix/mem"}, h);
  }
  if (err)
    return err;
  return iso;
}

isolation::isolation(std::unique_ptr<impl> p) : p_(std::move(p)) {
}

isolation::~isolation() {
  // This agent's root goes when no container is left in it (best effort:
  // after a kill -9 the next agent on the same work dir takes over).
  if (p_->version == 2)
    ::rmdir(p_->v2.c_str());
  for (auto& [c, r] : p_->v1)
    ::rmdir(r.c_str());
}

const std::vector<std::string>& isolation::names() const {
  return p_->names;
}

const std::string& isolation::why() const {
  return p_->why;
}

bool isolation::has(const std::string& name) const {
  return std::find(p_->names.begin(), p_->names.end(), name) != p_->names.end();
}

caf::error isolation::prepare(const std::string& name, const container_limits& lim) {
  for (auto& d : p_->dirs(name)) {
    std::error_code ec;
    // Another agent starting on this host may remove our root while it is
    // empty (remove_stale): try again then.
    for (int attempt = 0; attempt < 3; ++attempt)
      if (fs::create_directories(d, ec), !ec)
        break;
    if (ec)
      return make_error(errc::invalid_config, "cannot create cgroup " + d + ": " + ec.message());
  }
  if (auto err = p_->set_limits(name, lim, true))
    return err;
  std::lock_guard<std::mutex> g{p_->mtx};
  p_->containers[name].lim = lim;
  return {};
}

std::vector<std::string> isolation::join_files(const std::string& name) const {
  std::vector<std::string> out;
  for (auto& d : p_->dirs(name))
    out.push_back(d + "/cgroup.procs");
  return out;
}

void isolation::started(const std::string& name, int session, const std::string& sandbox) {
  std::lock_guard<std::mutex> g{p_->mtx};
  auto& c = p_->containers[name];
  c.session = session;
  c.sandbox = sandbox;
}

void isolation::update(const std::string& name, const container_limits& lim) {
  {
    std::lock_guard<std::mutex> g{p_->mtx};
    auto& c = p_->containers[name].lim; // recovered containers start unknown
    c.cpus = lim.cpus;
    c.mem_bytes = std::max(c.mem_bytes, lim.mem_bytes);
    c.disk_bytes = lim.disk_bytes;
  }
  p_->set_limits(name, lim, false);
}

std::optional<limitation> isolation::check(const std::string& name, bool with_disk) {
  impl::container c;
  {
    std::lock_guard<std::mutex> g{p_->mtx};
    auto i = p_->containers.find(name);
    if (i == p_->containers.end())
      return std::nullopt;
    c = i->second;
  }
  auto over_mem = [&](uint64_t seen, const char* how) {
    return limitation{"REASON_CONTAINER_LIMITATION_MEMORY",
                      "memory limit " + mib(c.lim.mem_bytes) + " exceeded: " + how + " "
                        + mib(seen) + " (limit " + mib(p_->mem_limit(c.lim))
                        + " with the executor's " + mib(executor_mem_overhead) + ")"};
  };
  if (p_->cg_mem && c.lim.mem_bytes > 0) {
    uint64_t peak = 0;
    if (p_->oom_kills(name, &peak) > 0)
      return over_mem(peak, "the kernel's OOM killer ran in the container at a peak of");
  }
  if (p_->px_mem && c.lim.mem_bytes > 0 && c.session > 0) {
    auto s = p_->sample(c.session);
    {
      std::lock_guard<std::mutex> g{p_->mtx};
      auto& pk = p_->containers[name].peak_rss;
      pk = std::max(pk, s.rss_bytes);
    }
    if (s.rss_bytes > p_->mem_limit(c.lim))
      return over_mem(s.rss_bytes, "resident");
  }
  if (p_->du && with_disk && !c.sandbox.empty()) {
    auto used = disk_usage(c.sandbox);
    {
      std::lock_guard<std::mutex> g{p_->mtx};
      auto& k = p_->containers[name];
      k.disk_used = used;
      k.disk_measured = true;
    }
    if (p_->opts.enforce_container_disk_quota && c.lim.disk_bytes > 0 && used > c.lim.disk_bytes)
      return limitation{"REASON_CONTAINER_LIMITATION_DISK",
                        "disk limit " + mib(c.lim.disk_bytes) + " exceeded: the sandbox holds "
                          + mib(used)};
  }
  return std::nullopt;
}

container_usage isolation::usage(const std::string& name) {
  container_usage u;
  u.timestamp = wall_seconds();
  impl::container c;
  {
    std::lock_guard<std::mutex> g{p_->mtx};
    auto i = p_->containers.find(name);
    if (i == p_->containers.end())
      return u;
    c = i->second;
  }
  u.cpus_limit = c.lim.cpus;
  u.mem_limit_bytes = p_->mem_limit(c.lim);
  u.disk_limit_bytes = c.lim.disk_bytes;
  static const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto s = c.session > 0 ? p_->sample(c.session) : session_sample{};
  u.processes = s.processes;
  u.cpus_user_time_secs = static_cast<double>(s.user_ticks) / hz;
  u.cpus_system_time_secs = static_cast<double>(s.system_ticks) / hz;
  u.mem_rss_bytes = s.rss_bytes;
  if (p_->version == 1) {
    if (p_->cg_cpu) {
      auto acct = p_->v1_dir("cpuacct", name);
      if (!acct.empty()) {
        auto st = read_small_file(acct + "/cpuacct.stat");
        u.cpus_user_time_secs = static_cast<double>(keyed(st, "user")) / hz;
        u.cpus_system_time_secs = static_cast<double>(keyed(st, "system")) / hz;
      }
      u.cpus_nr_throttled = keyed(read_small_file(p_->v1_dir("cpu", name) + "/cpu.stat"), "nr_throttled");
    }
    if (p_->cg_mem) {
      auto st = read_small_file(p_->v1_dir("memory", name) + "/memory.stat");
      bool found = false;
      auto rss = keyed(st, "total_rss", &found);
      u.mem_rss_bytes = found ? rss : keyed(st, "rss");
    }
  } else if (p_->version == 2) {
    auto dir = p_->v2 + "/" + name;
    if (p_->cg_cpu) {
      auto st = read_small_file(dir + "/cpu.stat");
      u.cpus_user_time_secs = static_cast<double>(keyed(st, "user_usec")) / 1e6;
      u.cpus_system_time_secs = static_cast<double>(keyed(st, "system_usec")) / 1e6;
      u.cpus_nr_throttled = keyed(st, "nr_throttled");
    }
    if (p_->cg_mem)
      u.mem_rss_bytes = keyed(read_small_file(dir + "/memory.stat"), "anon");
  }
  if (p_->du) {
    if (!c.disk_measured && !c.sandbox.empty())
      c.disk_used = disk_usage(c.sandbox);
    u.disk_used_bytes = c.disk_used;
  } else if (!c.sandbox.empty()) {
    u.disk_used_bytes = disk_usage(c.sandbox);
  }
  return u;
}

void isolation::kill_all(const std::string& name) {
  for (auto& d : p_->dirs(name)) {
    std::istringstream procs{read_small_file(d + "/cgroup.procs")};
    for (long pid = 0; procs >> pid;)
      if (pid > 1)
        ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

void isolation::cleanup(const std::string& name) {
  // A killed process leaves its cgroup only once the kernel has finished
  // it; rmdir fails (EBUSY) until then. This runs on a reaper thread.
  for (auto& d : p_->dirs(name)) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (::rmdir(d.c_str()) == 0 || errno == ENOENT)
        break;
      kill_all(name);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::lock_guard<std::mutex> g{p_->mtx};
  p_->containers.erase(name);
}

size_t isolation::remove_stale(const std::vector<std::string>& keep) {
  std::set<std::string> names;
  auto roots = p_->version == 2 ? std::vector<std::string>{p_->v2} : std::vector<std::string>{};
  for (auto& [c, r] : p_->v1)
    roots.push_back(r);
  for (auto& r : roots) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(r, ec))
      if (e.is_directory(ec))
        names.insert(e.path().filename().string());
  }
  size_t n = 0;
  for (auto& name : names)
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) {
      cleanup(name);
      ++n;
    }
  // Empty roots of other agents that ended (rmdir refuses non-empty ones;
  // an agent whose root went makes it again at its next container).
  for (auto& r : roots) {
    std::error_code ec;
    auto parent = fs::path{r}.parent_path();
    for (auto& e : fs::directory_iterator(parent, ec))
      if (e.is_directory(ec) && e.path() != fs::path{r})
        ::rmdir(e.path().c_str());
  }
  return n;
}

} // namespace caldera
