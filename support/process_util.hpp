// Real processes for the demo driver, the benchmarks and the process tests:
// start a binary with its output on a pipe, wait (bounded) for a line to appear
// or for it to exit, and never leak it: the destructor kills its process group.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace caldera::test {

/// A TCP port on 127.0.0.1 that nothing listens on right now.
uint16_t free_port();

/// A TCP connection to 127.0.0.1:port (a raw peer); -1 when refused.
int connect_loopback(uint16_t port);

/// A fresh directory under the system temp dir, removed by `~temp_dir`.
struct temp_dir {
  temp_dir();
  ~temp_dir();
  std::string path;
};

class child {
public:
  /// Starts `argv` (argv[0] a path) in its own process group, stdout and
  /// stderr both to a pipe this object reads.
  explicit child(std::vector<std::string> argv);
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// Reads output until it contains `text`; false if the process ended or
  /// `timeout` passed first.
  bool wait_for(const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Reads output until EOF and reaps the process; returns its exit code
  /// (128 + signal if it was killed), or -1 on timeout (then it is killed).
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  void signal(int sig);
  /// Whether its output is closed (it has ended, or closed stdout and
  /// stderr); `wait_exit` then returns at once.
  bool output_closed() const;
  /// Everything read so far.
  std::string output() const;
  pid_t pid() const { return pid_; }

private:
  // A reader thread drains the pipe all the time, so a chatty daemon never
  // blocks on a full pipe while nobody waits on it.
  void drain();
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool eof_ = false;
  std::string out_;
  std::thread reader_;
};

/// The "host:port" a daemon logged as `EVENT endpoint="..."` (waits for it).
std::string logged_endpoint(child& c, const std::string& event);

/// Path of a caldera binary in the build tree.
std::string bin(const std::string& name);

/// Path of a file in the source tree.
std::string source(const std::string& rel);

/// Raises this process's open-file limit to its hard limit (what holds
/// thousands of connections).
void raise_fd_limit();

/// Writes a CA and certificates into `dir` (scripts/make-certs); "" when it
/// did, else what it printed.
std::string make_certs(const std::string& dir);

} // namespace caldera::test
