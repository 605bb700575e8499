#include "agent/containerizer.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <condition_variable>
#include <mutex>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/types.hpp"

extern char** environ;

namespace caldera {

std::string describe_wait_status(int status) {
  if (status == unknown_exit_status)
    return "exit status unknown (started by an earlier agent)";
  if (WIFEXITED(status))
    return "Command exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string{"Command terminated by signal SIG"} + (name ? name : "?");
  }
  return "Command ended with wait status " + std::to_string(status);
}

namespace {

// The start time of `pid` (field 22 of /proc/<pid>/stat), or "" if gone.
std::string start_time(pid_t pid) {
  std::string all = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = all.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream rest{all.substr(close + 2)};
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  return field;
}

// Whether `pid` still runs (not a zombie) and is the process started at
// `recorded` (field 22 of its stat), not a later one that reused the pid.
bool runs(pid_t pid, const std::string& recorded) {
  std::string all = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = all.rfind(')');
  if (close == std::string::npos || recorded.empty())
    return false;
  std::istringstream rest{all.substr(close + 2)};
  std::string state;
  rest >> state;
  return state != "Z" && state != "X" && start_time(pid) == recorded;
}

std::string read_record(const std::string& path) {
  std::ifstream f{path};
  std::string recorded;
  f >> recorded;
  return recorded;
}

// Kills every process of session `sid` (they may have left its process
// group, as the command executor's child does), then the group itself.
void kill_session(pid_t sid) noexcept try {
  ::kill(-sid, SIGKILL);
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    auto name = e.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9')
      continue;
    std::string all = read_small_file((e.path() / "stat").string());
    auto close = all.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{all.substr(close + 2)};
    std::string state, ppid, pgrp, session;
    if (rest >> state >> ppid >> pgrp >> session && session == std::to_string(sid))
      ::kill(static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10)), SIGKILL);
  }
} catch (...) {
  // /proc changed while it was read; the group kill above still happened.
}

// A user's ids, looked up before fork.
struct user_ids {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;
};

caf::expected<user_ids> lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr)
    return make_error(errc::invalid_config,
                      "user '" + name + "' does not exist on this agent"
                        + (rc != 0 ? std::string{" ("} + std::strerror(rc) + ")" : ""));
  user_ids u;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  u.home = pw.pw_dir ? pw.pw_dir : "/";
  int n = 64;
  u.groups.resize(static_cast<size_t>(n));
  if (::getgrouplist(name.c_str(), u.gid, u.groups.data(), &n) < 0) {
    u.groups.resize(static_cast<size_t>(n));
    ::getgrouplist(name.c_str(), u.gid, u.groups.data(), &n);
  }
  u.groups.resize(static_cast<size_t>(std::max(n, 0)));
  if (u.uid != ::geteuid() && ::geteuid() != 0)
    return make_error(errc::invalid_config,
                      "the agent runs as uid " + std::to_string(::geteuid())
                        + " and cannot switch to user '" + name
                        + "': run it as root, or with --switch_user=false");
  return u;
}

// Starts a container's first process: a new session, in its cgroups (the
// `joins` files), output to the sandbox files, as `user`. A failure before
// exec comes back through a close-on-exec pipe as a clear error.
caf::expected<pid_t> spawn(std::vector<char*>& argv, std::vector<char*>& envp,
                           const std::string& out, const std::string& err,
                           const std::string& sandbox, const std::vector<std::string>& joins,
                           const std::optional<user_ids>& user) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return make_error(errc::invalid_config, std::string{"pipe: "} + std::strerror(errno));
  // vfork: the agent's address space is not copied (fork cost a third of
  // the launch rate); the child runs on it until exec, so it makes raw
  // system calls only (glibc's setuid would signal the agent's threads),
  // with every signal blocked until its handlers are reset.
  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = ::vfork();
  if (pid < 0) {
    int e = errno;
    ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return make_error(errc::invalid_config, std::string{"fork: "} + std::strerror(e));
  }
  if (pid == 0) {
    // The child.
    for (int sig = 1; sig < NSIG; ++sig)
      ::signal(sig, SIG_DFL);
    auto fail = [&](int stage) {
      int report[2] = {stage, errno};
      (void)!::write(pipefd[1], report, sizeof(report));
      ::_exit(127);
    };
    ::close(pipefd[0]);
    if (::setsid() < 0)
      fail(1);
    for (auto& j : joins) {
      int fd = ::open(j.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1)
        fail(2);
      ::close(fd);
    }
    int in = ::open("/dev/null", O_RDONLY);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || o < 0 || e < 0 || ::dup2(in, 0) < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0)
      fail(3);
    if (::chdir(sandbox.c_str()) != 0)
      fail(4);
    if (user) {
      if (::syscall(SYS_setgroups, user->groups.size(), user->groups.data()) != 0
          || ::syscall(SYS_setresgid, user->gid, user->gid, user->gid) != 0
          || ::syscall(SYS_setresuid, user->uid, user->uid, user->uid) != 0)
        fail(5);
    }
    sigset_t none;
    sigemptyset(&none);
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, _NSIG / 8);
    ::execve(argv[0], argv.data(), envp.data());
    fail(6);
  }
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  ::close(pipefd[1]);
  int report[2] = {0, 0};
  ssize_t n;
  while ((n = ::read(pipefd[0], report, sizeof(report))) < 0 && errno == EINTR) {
  }
  ::close(pipefd[0]);
  if (n <= 0)
    return pid; // exec succeeded (the pipe closed on exec)
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  static const char* const stages[] = {"",
                                       "setsid",
                                       "joining its cgroups",
                                       "opening its sandbox's stdout/stderr",
                                       "entering its sandbox",
                                       "switching to the task's user",
                                       "executing"};
  int stage = report[0] >= 1 && report[0] <= 6 ? report[0] : 6;
  return make_error(errc::invalid_config, std::string{"cannot start '"} + argv[0] + "': "
                                            + stages[stage] + " failed: "
                                            + std::strerror(report[1]));
}

// The environment of a container's process: the agent's (less its own
// CALDERA_ variables, and its user's names when the task runs as another),
// then the spec's.
std::vector<std::string> environment_of(const container_spec& spec,
                                        const std::optional<user_ids>& user) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("CALDERA_", 0) == 0)
      continue;
    if (user && (kv.rfind("USER=", 0) == 0 || kv.rfind("LOGNAME=", 0) == 0
                 || kv.rfind("HOME=", 0) == 0))
      continue;
    env.push_back(std::move(kv));
  }
  if (user) {
    env.push_back("USER=" + spec.user);
    env.push_back("LOGNAME=" + spec.user);
    env.push_back("HOME=" + user->home);
  }
  for (auto& [k, v] : spec.env)
    env.push_back(k + "=" + v);
  return env;
}

// Creates the sandbox's stdout and stderr; the sandbox and both belong to
// the task's user.
caf::error make_outputs(const container_spec& spec, const std::optional<user_ids>& user,
                        const std::string& out, const std::string& err) {
  for (auto* f : {&out, &err}) {
    int fd = ::open(f->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0)
      ::close(fd);
  }
  if (user)
    for (const std::string* f : {&spec.sandbox, &out, &err})
      if (::chown(f->c_str(), user->uid, user->gid) != 0)
        return make_error(errc::invalid_config, "cannot give '" + *f + "' to user '" + spec.user
                                                  + "': " + std::strerror(errno));
  return caf::error{};
}

class posix_containerizer : public containerizer {
public:
  posix_containerizer(std::string executor_path, std::string state_dir,
                      std::shared_ptr<isolation> iso)
    : executor_path_(std::move(executor_path)), state_dir_(std::move(state_dir)),
      iso_(std::move(iso)) {
    std::error_code ec;
    std::filesystem::create_directories(state_dir_, ec);
  }

  caf::expected<std::string> launch(const container_spec& spec,
                                    std::function<void(int)> on_exit) override {
    std::vector<std::string> argv_s;
    if (spec.command.empty())
      argv_s = {executor_path_};
    else
      argv_s = {"/bin/sh", "-c", spec.command};
    // Everything the child needs is made before fork: after it, only
    // async-signal-safe calls.
    std::optional<user_ids> user;
    if (!spec.user.empty()) {
      auto u = lookup_user(spec.user);
      if (!u)
        return u.error();
      user = std::move(*u);
    }
    auto env_s = environment_of(spec, user);
    std::vector<char*> argv;
    for (auto& s : argv_s)
      argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& s : env_s)
      envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string out = spec.sandbox + "/stdout";
    std::string err = spec.sandbox + "/stderr";
    if (auto e = make_outputs(spec, user, out, err))
      return e;
    std::string cgroup = std::to_string(::getpid()) + "-" + std::to_string(++launched_);
    std::vector<std::string> joins;
    if (iso_) {
      if (auto e = iso_->prepare(cgroup, spec.limits))
        return make_error(errc::invalid_config, "cannot isolate the container: " + describe(e));
      joins = iso_->join_files(cgroup);
    }
    auto pid_or = spawn(argv, envp, out, err, spec.sandbox, joins, user);
    if (!pid_or) {
      if (iso_)
        iso_->cleanup(cgroup);
      return pid_or.error();
    }
    pid_t pid = *pid_or;
    if (iso_)
      iso_->started(cgroup, pid, spec.sandbox);
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      live_->pids[std::to_string(pid)] = pid;
      live_->cgroups[std::to_string(pid)] = cgroup;
    }
    auto record = state_dir_ + "/" + std::to_string(pid);
    {
      std::ofstream f{record};
      f << start_time(pid) << "\n" << cgroup << "\n" << spec.sandbox << "\n";
    }
    // The reaper shares `live_` and `iso_`, never `this`: it may outlive
    // the containerizer.
    reaper_started(*live_);
    std::thread([live = live_, iso = iso_, cgroup, pid, record, on_exit = std::move(on_exit)] {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      ended(*live, iso.get(), cgroup, pid, record);
      on_exit(status);
      reaper_done(*live);
    }).detach();
    return std::to_string(pid);
  }

  void destroy(const std::string& container_id) override {
    std::lock_guard<std::mutex> g{live_->mtx};
    auto i = live_->pids.find(container_id);
    if (i == live_->pids.end())
      return;
    kill_session(i->second);
    if (auto cg = live_->cgroups.find(container_id); iso_ && cg != live_->cgroups.end())
      iso_->kill_all(cg->second);
  }

  void terminate(const std::string& container_id) override {
    std::lock_guard<std::mutex> g{live_->mtx};
    if (auto i = live_->pids.find(container_id); i != live_->pids.end())
      ::kill(-i->second, SIGTERM);
  }

  bool wait_reaped(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> g{live_->mtx};
    return live_->all_reaped.wait_for(g, timeout, [&] { return live_->reapers == 0; });
  }

  void destroy_all() override {
    std::lock_guard<std::mutex> g{live_->mtx};
    for (auto& [id, pid] : live_->pids) {
      kill_session(pid);
      if (auto cg = live_->cgroups.find(id); iso_ && cg != live_->cgroups.end())
        iso_->kill_all(cg->second);
    }
  }

  bool recover(const std::string& container_id, std::function<void(int)> on_exit,
               caf::actor) override {
    char* end = nullptr;
    long pid = std::strtol(container_id.c_str(), &end, 10);
    if (end == container_id.c_str() || *end != '\0' || pid <= 1)
      return false;
    auto record = state_dir_ + "/" + container_id;
    auto recorded = read_record(record);
    if (!runs(static_cast<pid_t>(pid), recorded)) {
      std::remove(record.c_str());
      return false;
    }
    std::string cgroup, sandbox;
    {
      std::ifstream f{record};
      std::string first;
      std::getline(f, first);
      std::getline(f, cgroup);
      std::getline(f, sandbox);
    }
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      live_->pids[container_id] = static_cast<pid_t>(pid);
      if (!cgroup.empty())
        live_->cgroups[container_id] = cgroup;
    }
    if (iso_ && !cgroup.empty())
      iso_->started(cgroup, static_cast<pid_t>(pid), sandbox);
    // Not our child: watch it through a pidfd (or /proc where pidfds are
    // missing); its exit status is lost with its old parent.
    reaper_started(*live_);
    std::thread([live = live_, iso = iso_, cgroup, pid = static_cast<pid_t>(pid), record,
                 recorded, on_exit = std::move(on_exit)] {
      int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
      while (runs(pid, recorded)) {
        if (fd >= 0) {
          pollfd p{fd, POLLIN, 0};
          ::poll(&p, 1, 1000);
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
      if (fd >= 0)
        ::close(fd);
      ended(*live, iso.get(), cgroup, pid, record);
      on_exit(unknown_exit_status);
      reaper_done(*live);
    }).detach();
    return true;
  }

  size_t destroy_unknown() override {
    size_t killed = 0;
    std::error_code ec;
    std::lock_guard<std::mutex> g{live_->mtx};
    for (auto& e : std::filesystem::directory_iterator(state_dir_, ec)) {
      auto name = e.path().filename().string();
      if (live_->pids.count(name) > 0)
        continue;
      char* end = nullptr;
      long pid = std::strtol(name.c_str(), &end, 10);
      if (end != nullptr && *end == '\0' && pid > 1
          && runs(static_cast<pid_t>(pid), read_record(e.path().string()))) {
        kill_session(static_cast<pid_t>(pid));
        log::warn("orphan_container_destroyed", {{"pid", static_cast<int64_t>(pid)}});
        ++killed;
      }
      std::filesystem::remove(e.path(), ec);
    }
    // Cgroups no live container uses: left by an agent that was killed.
    if (iso_) {
      std::vector<std::string> keep;
      for (auto& [id, cg] : live_->cgroups)
        keep.push_back(cg);
      if (auto n = iso_->remove_stale(keep); n > 0)
        log::info("stale_cgroups_removed", {{"count", static_cast<int64_t>(n)}});
    }
    return killed;
  }

  const char* name() const override {
    return "posix";
  }

  void update(const std::string& container_id, const container_limits& lim) override {
    if (auto cg = cgroup_of(container_id); iso_ && !cg.empty())
      iso_->update(cg, lim);
  }

  std::optional<limitation> check(const std::string& container_id, bool with_disk) override {
    // What ended a container is taken once, by the agent's own check (the
    // disk watch runs on another thread and must not take it).
    if (!with_disk) {
      std::lock_guard<std::mutex> g{live_->mtx};
      if (auto i = live_->ended_limited.find(container_id); i != live_->ended_limited.end()) {
        auto l = i->second;
        live_->ended_limited.erase(i);
        return l;
      }
    }
    auto cg = cgroup_of(container_id);
    if (!iso_ || cg.empty())
      return std::nullopt;
    return iso_->check(cg, with_disk);
  }

  std::optional<container_usage> usage(const std::string& container_id) override {
    auto cg = cgroup_of(container_id);
    if (!iso_ || cg.empty())
      return std::nullopt;
    return iso_->usage(cg);
  }

  std::string isolators() const override {
    if (!iso_)
      return {};
    std::string out;
    for (auto& n : iso_->names())
      out += (out.empty() ? "" : ",") + n;
    return out;
  }

private:
  struct live_set {
    std::mutex mtx;
    size_t reapers = 0;          // reaper threads not finished (cgroup not removed yet)
    std::condition_variable all_reaped;
    std::map<std::string, pid_t> pids;
    std::map<std::string, std::string> cgroups;          // container id -> cgroup name
    std::map<std::string, limitation> ended_limited;      // ended by a limit
  };

  static void reaper_started(live_set& live) {
    std::lock_guard<std::mutex> g{live.mtx};
    ++live.reapers;
  }

  static void reaper_done(live_set& live) {
    std::lock_guard<std::mutex> g{live.mtx};
    if (--live.reapers == 0)
      live.all_reaped.notify_all();
  }

  // A container's session leader is gone: note whether a limit ended it
  // (known only while its cgroup exists), kill what its session left, and
  // remove its record and cgroups. Runs on the reaper's thread.
  static void ended(live_set& live, isolation* iso, const std::string& cgroup, pid_t pid,
                    const std::string& record) {
    auto id = std::to_string(pid);
    auto limited = iso && !cgroup.empty() ? iso->check(cgroup, false) : std::nullopt;
    {
      std::lock_guard<std::mutex> g{live.mtx};
      live.pids.erase(id);
      live.cgroups.erase(id);
      if (limited)
        live.ended_limited[id] = *limited;
    }
    // In cgroups of its own (cgroups/ isolators), what the container left is
    // killed by cleanup (an unprivileged process cannot leave them); only
    // without them is all of /proc read for its session (a scan per task:
    // 10% of the agent's CPU at 300 tasks/s).
    if (iso && !cgroup.empty() && !iso->join_files(cgroup).empty())
      ::kill(-pid, SIGKILL);
    else
      kill_session(pid);
    std::remove(record.c_str());
    if (iso && !cgroup.empty())
      iso->cleanup(cgroup);
  }

  std::string cgroup_of(const std::string& container_id) {
    std::lock_guard<std::mutex> g{live_->mtx};
    auto i = live_->cgroups.find(container_id);
    return i == live_->cgroups.end() ? std::string{} : i->second;
  }

  std::string executor_path_;
  std::string state_dir_;
  std::shared_ptr<isolation> iso_;
  std::shared_ptr<live_set> live_ = std::make_shared<live_set>();
  uint64_t launched_ = 0;
};

class in_process_containerizer : public containerizer {
public:
  in_process_containerizer(caf::actor_system& sys, executor_factory f)
    : sys_(sys), factory_(std::move(f)) {
  }

  caf::expected<std::string> launch(const container_spec& spec,
                                    std::function<void(int)> on_exit) override {
    executor_options opts;
    opts.agent = spec.agent;
    if (spec.runtime)
      opts.runtime = spec.runtime;
    opts.node_name = spec.node_name;
    opts.framework_id = spec.framework_id;
    opts.executor_id = spec.executor_id;
    opts.sandbox = spec.sandbox;
    if (auto t = spec.env.find("CALDERA_EXECUTOR_TOKEN"); t != spec.env.end())
      opts.token = t->second;
    auto a = factory_(sys_, opts);
    if (!a)
      return make_error(errc::invalid_config, "executor factory returned nothing");
    auto id = spec.framework_id + "/" + spec.executor_id + "#" + std::to_string(++n_);
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      live_->actors[id] = entry{a, std::move(on_exit)};
    }
    a->attach_functor([live = live_, id](const caf::error& reason) {
      std::function<void(int)> f;
      {
        std::lock_guard<std::mutex> g{live->mtx};
        auto i = live->actors.find(id);
        if (i == live->actors.end())
          return;
        f = std::move(i->second.on_exit);
        live->actors.erase(i);
      }
      if (f)
        f(reason && reason != caf::exit_reason::normal ? 1 : 0);
    });
    return id;
  }

  void destroy(const std::string& container_id) override {
    caf::actor a;
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      auto i = live_->actors.find(container_id);
      if (i == live_->actors.end())
        return;
      a = i->second.handle;
    }
    caf::anon_send_exit(a, caf::exit_reason::kill);
  }

  void destroy_all() override {
    std::vector<caf::actor> all;
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      for (auto& [id, e] : live_->actors)
        all.push_back(e.handle);
    }
    for (auto& a : all)
      caf::anon_send_exit(a, caf::exit_reason::kill);
  }

  bool recover(const std::string& container_id, std::function<void(int)> on_exit,
               caf::actor agent) override {
    caf::actor a;
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      auto i = live_->actors.find(container_id);
      if (i == live_->actors.end())
        return false;
      i->second.on_exit = std::move(on_exit);
      a = i->second.handle;
    }
    caf::anon_send(a, connect_atom_t::value, std::move(agent));
    return true;
  }

  size_t destroy_unknown() override {
    return 0; // every in-process executor is known to the system's agents
  }

  const char* name() const override {
    return "in-process";
  }

private:
  struct entry {
    caf::actor handle;
    std::function<void(int)> on_exit;
  };
  struct live_set {
    std::mutex mtx;
    std::map<std::string, entry> actors;
  };
  caf::actor_system& sys_;
  executor_factory factory_;
  std::shared_ptr<live_set> live_ = std::make_shared<live_set>();
  uint64_t n_ = 0;
};

} // namespace

std::unique_ptr<containerizer> make_posix_containerizer(std::string executor_path,
                                                        std::string state_dir,
                                                        std::shared_ptr<isolation> iso) {
  return std::make_unique<posix_containerizer>(std::move(executor_path),
                                               std::move(state_dir), std::move(iso));
}

std::unique_ptr<containerizer>
make_in_process_containerizer(caf::actor_system& sys, executor_factory factory) {
  return std::make_unique<in_process_containerizer>(sys, std::move(factory));
}

} // namespace caldera
