#include "support/process_util.hpp"

#include <sys/resource.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace caldera::test {

uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return ntohs(addr.sin_port);
}

temp_dir::temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "caldera-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

child::child(std::vector<std::string> argv_s) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<char*> argv;
  for (auto& s : argv_s)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  fd_ = fds[0];
  if (rc != 0) {
    ::close(fd_);
    fd_ = -1;
    reaped_ = true;
    throw std::runtime_error("cannot start " + argv_s[0] + ": " + std::strerror(rc));
  }
  reader_ = std::thread([this] { drain(); });
}

child::~child() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (reader_.joinable()) {
    // Processes of its group may still hold the pipe: kill them too.
    ::kill(-pid_, SIGKILL);
    reader_.join();
  }
  if (fd_ >= 0)
    ::close(fd_);
}

void child::drain() {
  char buf[4096];
  for (;;) {
    auto got = ::read(fd_, buf, sizeof(buf));
    if (got < 0 && errno == EINTR)
      continue;
    std::lock_guard<std::mutex> g{mtx_};
    if (got <= 0) {
      eof_ = true;
      cv_.notify_all();
      return;
    }
    out_.append(buf, static_cast<size_t>(got));
    cv_.notify_all();
  }
}

std::string child::output() const {
  std::lock_guard<std::mutex> g{mtx_};
  return out_;
}

bool child::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> g{mtx_};
  return cv_.wait_for(g, timeout, [&] {
    return eof_ || out_.find(text) != std::string::npos;
  }) && out_.find(text) != std::string::npos;
}

int child::wait_exit(std::chrono::milliseconds timeout) {
  bool closed;
  {
    std::unique_lock<std::mutex> g{mtx_};
    closed = cv_.wait_for(g, timeout, [&] { return eof_; });
  }
  if (!closed)
    ::kill(-pid_, SIGKILL); // output still open at the deadline: give up on it
  if (!reaped_) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (!closed)
    return -1;
  if (WIFEXITED(status_))
    return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

bool child::output_closed() const {
  std::lock_guard<std::mutex> g{mtx_};
  return eof_;
}

void child::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

std::string logged_endpoint(child& c, const std::string& event) {
  auto marker = event + " endpoint=\"";
  if (!c.wait_for(marker, std::chrono::seconds(30)))
    throw std::runtime_error("no '" + event + "' in: " + c.output());
  auto out = c.output();
  auto at = out.find(marker) + marker.size();
  return out.substr(at, out.find('"', at) - at);
}

std::string bin(const std::string& name) {
  return std::string{CALDERA_BIN_DIR} + "/" + name;
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0)
    return fd;
  if (fd >= 0)
    ::close(fd);
  return -1;
}

std::string source(const std::string& rel) {
  return std::string{CALDERA_SOURCE_DIR} + "/" + rel;
}

void raise_fd_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
}

std::string make_certs(const std::string& dir) {
  child c{{"/bin/sh", "-c", source("scripts/make-certs") + " " + dir}};
  if (c.wait_exit(std::chrono::seconds(60)) == 0)
    return {};
  auto out = c.output();
  return out.empty() ? "make-certs failed" : out;
}

} // namespace caldera::test
