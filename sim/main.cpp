// caldera-sim: the whole cluster on one seed (see sim/world.hpp).
//
//   caldera-sim --seed 42                   one run: summary and final hash
//   caldera-sim --seed 42 --trace           every cross-node message and fault
//   caldera-sim --seeds 1-2000 --jobs 2     a sweep: seeds/s, the failing seeds
//   caldera-sim --seed 42 --check-determinism   the run twice: equal hashes
//   caldera-sim --seeds 1-200 --masters 3   standby masters on an in-memory coordinator
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "sim/world.hpp"

using namespace caldera::sim;

namespace {

struct cli {
  run_options run;
  uint64_t first = 0, last = 0;
  int jobs = 1;
  bool sweep = false, check = false;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "caldera-sim: %s\n"
               "usage: caldera-sim --seed N [--trace] [--check-determinism] [--steps N]\n"
               "                   [--agents-max N] [--fault-rate P] [--faults K,K...]\n"
               "                   [--log-level L] [--no-buggify] [--masters N]\n"
               "       caldera-sim --seeds A-B [--jobs J] [--steps N] [--agents-max N] [--masters N]\n",
               why);
  return 2;
}

bool parse_u64(const char* s, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s, &end, 10);
  return errno == 0 && end != s && *end == '\0';
}

// Parses the command line; a message and exit status 2 when it is wrong.
bool parse(int argc, char** argv, cli& c, std::string& err) {
  bool have_seed = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    uint64_t n = 0;
    if (a == "--trace") {
      c.run.trace = true;
    } else if (a == "--check-determinism") {
      c.check = true;
    } else if (a == "--seed") {
      auto v = value();
      if (!v || !parse_u64(v, c.run.seed))
        return err = "--seed needs a number", false;
      have_seed = true;
    } else if (a == "--seeds") {
      auto v = value();
      auto dash = v ? std::strchr(v, '-') : nullptr;
      if (!dash || !parse_u64(std::string{v, dash}.c_str(), c.first) || !parse_u64(dash + 1, c.last)
          || c.last < c.first)
        return err = "--seeds needs A-B with A <= B", false;
      c.sweep = true;
    } else if (a == "--masters") {
      auto v = value();
      if (!v || !parse_u64(v, n) || n == 0 || n > 7)
        return err = "--masters needs a number from 1 to 7", false;
      c.run.masters = n;
    } else if (a == "--jobs" || a == "--steps" || a == "--agents-max") {
      auto v = value();
      if (!v || !parse_u64(v, n) || n == 0)
        return err = a + " needs a positive number", false;
      if (a == "--jobs")
        c.jobs = static_cast<int>(n);
      else if (a == "--steps")
        c.run.steps = n;
      else
        c.run.agents_max = n;
    } else if (a == "--fault-rate") {
      auto v = value();
      char* end = nullptr;
      c.run.fault_rate = v ? std::strtod(v, &end) : -1;
      if (!v || *end != '\0' || c.run.fault_rate < 0 || c.run.fault_rate > 1)
        return err = "--fault-rate needs a number in [0, 1]", false;
    } else if (a == "--faults") {
      auto v = value();
      if (!v)
        return err = "--faults needs a comma-separated list of fault kinds", false;
      std::string list = v;
      const std::set<std::string> kinds{"kill-master", "kill-agent", "partition", "drop",
                                        "delay", "duplicate", "clock-jump", "kill-executor",
                                        "disk-full", "kill-scheduler", "coordinator-cut"};
      for (size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        auto kind = list.substr(at, comma - at);
        if (kinds.count(kind) == 0)
          return err = "unknown fault kind '" + kind + "' in --faults", false;
        c.run.faults.insert(kind);
        at = comma + 1;
      }
    } else if (a == "--no-buggify") {
      c.run.buggify = false;
    } else if (a == "--log-level") {
      auto v = value();
      if (!v)
        return err = "--log-level needs debug, info, warn or error", false;
      c.run.log_level = v;
    } else {
      return err = "unknown option '" + a + "'", false;
    }
  }
  if (have_seed == c.sweep)
    return err = "give either --seed N or --seeds A-B", false;
  return true;
}

void print_summary(const run_result& r) {
  std::printf("seed=%llu steps=%zu agents=%zu frameworks=%zu tasks=%zu attempts=%zu "
              "finished=%zu virtual=%.0fs\n",
              static_cast<unsigned long long>(r.seed), r.steps, r.agents, r.frameworks, r.tasks,
              r.attempts, r.finished, r.virtual_seconds);
  std::printf("messages delivered=%llu dropped=%llu duplicated=%llu delayed=%llu trace_lines=%zu\n",
              static_cast<unsigned long long>(r.delivered),
              static_cast<unsigned long long>(r.dropped),
              static_cast<unsigned long long>(r.duplicated),
              static_cast<unsigned long long>(r.delayed), r.trace_lines);
  std::printf("faults");
  for (auto& [k, n] : r.faults)
    std::printf(" %s=%zu", k.c_str(), n);
  std::printf("\nbuggify");
  for (auto& p : r.buggified)
    std::printf(" %s", p.c_str());
  std::printf("%s\nhash=%016llx\n", r.buggified.empty() ? " off" : "",
              static_cast<unsigned long long>(r.hash));
}

// The command that runs `seed` again with every option that shapes a run.
std::string replay_command(uint64_t seed, const run_options& o) {
  std::string cmd = "caldera-sim --seed " + std::to_string(seed) + " --steps "
                    + std::to_string(o.steps) + " --agents-max " + std::to_string(o.agents_max);
  if (o.masters > 1)
    cmd += " --masters " + std::to_string(o.masters);
  if (o.fault_rate != run_options{}.fault_rate) {
    char rate[32];
    std::snprintf(rate, sizeof(rate), "%g", o.fault_rate);
    cmd += std::string{" --fault-rate "} + rate;
  }
  std::string kinds;
  for (auto& k : o.faults)
    kinds += (kinds.empty() ? "" : ",") + k;
  if (!kinds.empty())
    cmd += " --faults " + kinds;
  if (!o.buggify)
    cmd += " --no-buggify";
  return cmd + " --trace";
}

void print_failure(const run_result& r, const run_options& o) {
  std::printf("VIOLATION at step %zu: %s\nlast trace lines:\n", r.violation_step,
              r.violation.c_str());
  for (auto& l : r.tail)
    std::printf("  %s\n", l.c_str());
  std::printf("replay: %s\n", replay_command(r.seed, o).c_str());
}

int run_one(cli& c) {
  auto r = run(c.run);
  print_summary(r);
  if (!r.ok()) {
    print_failure(r, c.run);
    return 1;
  }
  if (c.check) {
    auto again = run(c.run);
    if (again.hash != r.hash || again.trace_lines != r.trace_lines) {
      std::printf("determinism: FAILED, second run hash=%016llx trace_lines=%zu "
                  "(diff the --trace output of two runs)\n",
                  static_cast<unsigned long long>(again.hash), again.trace_lines);
      return 1;
    }
    std::printf("determinism: ok (two runs, equal traces)\n");
  }
  std::printf("result=ok\n");
  return 0;
}

} // namespace

int sweep(cli& c);

int main(int argc, char** argv) {
  cli c;
  std::string err;
  if (!parse(argc, argv, c, err))
    return usage(err.c_str());
  return c.sweep ? sweep(c) : run_one(c);
}

// -- sweep: one child process per seed, `jobs` at a time -------------------------

namespace {

struct child {
  uint64_t seed;
  int fd;
};

// A child's one-line report: "ok HASH" or "fail STEP VIOLATION".
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

pid_t start_child(const cli& c, uint64_t seed, int& fd) {
  int p[2];
  if (pipe(p) != 0)
    return -1;
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    run_options o = c.run;
    o.seed = seed;
    o.trace = false;
    auto r = run(o);
    std::string line = r.ok() ? "ok " + std::to_string(r.hash)
                              : "fail " + std::to_string(r.violation_step) + " " + r.violation;
    auto left = line.size();
    const char* at = line.data();
    while (left > 0) {
      auto n = write(p[1], at, left);
      if (n <= 0)
        break;
      left -= static_cast<size_t>(n);
      at += n;
    }
    _exit(r.ok() ? 0 : 1);
  }
  close(p[1]);
  fd = p[0];
  return pid;
}

} // namespace

int sweep(cli& c) {
  auto t0 = std::chrono::steady_clock::now(); // a person's wall time, not the simulation's
  std::map<pid_t, child> running;
  std::vector<std::pair<uint64_t, std::string>> failed;
  uint64_t next = c.first, done = 0, total = c.last - c.first + 1;
  while (next <= c.last || !running.empty()) {
    while (next <= c.last && running.size() < static_cast<size_t>(c.jobs)) {
      int fd = -1;
      auto pid = start_child(c, next, fd);
      if (pid < 0) {
        std::fprintf(stderr, "caldera-sim: cannot start a child: %s\n", std::strerror(errno));
        return 1;
      }
      running[pid] = child{next++, fd};
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    auto i = running.find(pid);
    if (i == running.end())
      continue;
    auto report = read_all(i->second.fd);
    if (WIFSIGNALED(status))
      failed.emplace_back(i->second.seed, std::string{"crashed with signal "}
                                            + strsignal(WTERMSIG(status)));
    else if (report.rfind("ok ", 0) != 0)
      failed.emplace_back(i->second.seed, report);
    running.erase(i);
    if (++done % 100 == 0)
      std::fprintf(stderr, "... %llu/%llu seeds, %zu failed\n",
                   static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), failed.size());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("seeds=%llu passed=%llu failed=%zu seconds=%.1f seeds/s=%.2f\n",
              static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(total - failed.size()), failed.size(), secs,
              static_cast<double>(total) / secs);
  for (auto& [seed, why] : failed)
    std::printf("failing seed %llu: %s\n  replay: %s\n", static_cast<unsigned long long>(seed),
                why.c_str(), replay_command(seed, c.run).c_str());
  return failed.empty() ? 0 : 1;
}
