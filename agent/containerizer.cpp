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
#include <mutex>
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

// A small file's content ("" when it cannot be read: /proc entries vanish
// while being read, and that must never throw).
std::string read_proc_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return {};
  std::string out;
  char buf[1024];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// The start time of `pid` (field 22 of /proc/<pid>/stat), or "" if gone.
std::string start_time(pid_t pid) {
  std::string all = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
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
  std::string all = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
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
    std::string all = read_proc_file((e.path() / "stat").string());
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

class posix_containerizer : public containerizer {
public:
  posix_containerizer(std::string executor_path, std::string state_dir)
    : executor_path_(std::move(executor_path)), state_dir_(std::move(state_dir)) {
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
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      if (kv.rfind("CALDERA_", 0) != 0)
        env_s.push_back(std::move(kv));
    }
    for (auto& [k, v] : spec.env)
      env_s.push_back(k + "=" + v);
    std::vector<char*> argv;
    for (auto& s : argv_s)
      argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& s : env_s)
      envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string out = spec.sandbox + "/stdout";
    std::string err = spec.sandbox + "/stderr";
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, spec.sandbox.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK
                                      | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
      return make_error(errc::invalid_config, "cannot start '" + argv_s[0]
                                                + "': " + std::strerror(rc));
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      live_->pids[std::to_string(pid)] = pid;
    }
    auto record = state_dir_ + "/" + std::to_string(pid);
    {
      std::ofstream f{record};
      f << start_time(pid) << "\n";
    }
    // The reaper shares `live_`, never `this`: it may outlive the
    // containerizer.
    std::thread([live = live_, pid, record, on_exit = std::move(on_exit)] {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      {
        std::lock_guard<std::mutex> g{live->mtx};
        live->pids.erase(std::to_string(pid));
      }
      // The session may have left processes behind: kill them all.
      kill_session(pid);
      std::remove(record.c_str());
      on_exit(status);
    }).detach();
    return std::to_string(pid);
  }

  void destroy(const std::string& container_id) override {
    std::lock_guard<std::mutex> g{live_->mtx};
    auto i = live_->pids.find(container_id);
    if (i == live_->pids.end())
      return;
    kill_session(i->second);
  }

  void destroy_all() override {
    std::lock_guard<std::mutex> g{live_->mtx};
    for (auto& [id, pid] : live_->pids)
      kill_session(pid);
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
    {
      std::lock_guard<std::mutex> g{live_->mtx};
      live_->pids[container_id] = static_cast<pid_t>(pid);
    }
    // Not our child: watch it through a pidfd (or /proc where pidfds are
    // missing); its exit status is lost with its old parent.
    std::thread([live = live_, pid = static_cast<pid_t>(pid), record, recorded,
                 on_exit = std::move(on_exit)] {
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
      {
        std::lock_guard<std::mutex> g{live->mtx};
        live->pids.erase(std::to_string(pid));
      }
      kill_session(pid);
      std::remove(record.c_str());
      on_exit(unknown_exit_status);
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
    return killed;
  }

  const char* name() const override {
    return "posix";
  }

private:
  struct live_set {
    std::mutex mtx;
    std::map<std::string, pid_t> pids;
  };
  std::string executor_path_;
  std::string state_dir_;
  std::shared_ptr<live_set> live_ = std::make_shared<live_set>();
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
    opts.framework_id = spec.framework_id;
    opts.executor_id = spec.executor_id;
    opts.sandbox = spec.sandbox;
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
                                                        std::string state_dir) {
  return std::make_unique<posix_containerizer>(std::move(executor_path),
                                               std::move(state_dir));
}

std::unique_ptr<containerizer>
make_in_process_containerizer(caf::actor_system& sys, executor_factory factory) {
  return std::make_unique<in_process_containerizer>(sys, std::move(factory));
}

} // namespace caldera
