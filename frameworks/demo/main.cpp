// caldera-demo: multi-tenant sharing of the same nodes, end to end.
//
// Starts a master and 3 agents as processes on loopback, generates text
// input, runs hadoop-like (word count, role "hadoop") and mpi-like (a gang of
// ranks computing pi, role "mpi") at the same time under DRF, shows live
// progress and each framework's share of the cluster's CPUs, then checks
// both results, shuts the cluster down and writes
//   <out>/summary.json   per framework: tasks launched / finished / failed,
//                        locality share, result verified
//   <out>/shares.svg     each framework's CPU share over time
// Exits 0 only if every check passed.
//
//   caldera-demo [--out demo-out] [--port 5050] [--files 24] [--lines 60000]
//                [--ranks 6] [--samples 600000] [--small] [--secure]
//
// --secure runs the same cluster with TLS on every link, authenticated
// frameworks and agents and the ACLs of scripts/make-certs.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/resources.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"
#include "frameworks/hadoop_like/job.hpp"
#include "support/process_util.hpp"

namespace fs = std::filesystem;
using caldera::test::child;
using namespace std::chrono_literals;

namespace {

struct demo_options {
  std::string out = "demo-out";
  uint16_t port = 5050;
  int files = 24;
  int lines = 60000;
  int ranks = 6;
  int samples = 600000;
  int reducers = 4;
  int split_size = 262144;
  std::string agent_resources = "cpus:4;mem:4096";
  bool secure = false;
};

// --secure: the cluster of conf/master-secure.conf (README, "Security"):
// certificates and secrets from scripts/make-certs in <out>/run/pki, TLS on
// every link, frameworks (as alice) and agents authenticated, the ACLs of
// make-certs. Extra arguments per process; empty when off.
struct secure_setup {
  std::string pki;
  std::vector<std::string> master, agent, framework;
};

std::vector<std::string> tls_args(const std::string& pki, const std::string& who) {
  return {"--openssl.certificate", pki + "/" + who + ".pem", "--openssl.key",
          pki + "/" + who + "-key.pem", "--openssl.cafile", pki + "/ca.pem"};
}

std::optional<std::string> make_secure(const std::string& src, const fs::path& run,
                                       secure_setup& s) {
  s.pki = (run / "pki").string();
  child certs{{"/bin/sh", "-c", src + "/scripts/make-certs " + s.pki}};
  if (certs.wait_exit(120s) != 0)
    return "scripts/make-certs failed:\n" + certs.output();
  s.master = tls_args(s.pki, "master");
  s.master.insert(s.master.end(), {"--authenticate", "--authenticate_agents", "--credentials",
                                   s.pki + "/credentials.json", "--acls", s.pki + "/acls.json"});
  s.agent = tls_args(s.pki, "agent");
  s.agent.insert(s.agent.end(), {"--credential", s.pki + "/agent.credential",
                                 "--executor-certificate", s.pki + "/executor.pem",
                                 "--executor-key", s.pki + "/executor-key.pem"});
  s.framework = {"--config", s.pki + "/client.conf", "--principal", "alice", "--secret-file",
                 s.pki + "/alice.secret"};
  return std::nullopt;
}

// Whether a client without TLS is kept out of the secure master.
bool plain_client_refused(const std::string& master_ep) {
  caldera::node_config plain{"demo-probe"};
  caf::actor_system sys{plain};
  auto ep = caldera::parse_endpoint(master_ep);
  auto peer = caldera::connect_blocking(sys, *ep);
  std::printf("security: a client without TLS %s\n",
              peer ? "WAS ADMITTED" : "is refused by the master");
  return !peer;
}

std::vector<std::string> with(std::vector<std::string> argv, const std::vector<std::string>& more) {
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

std::string self_dir() {
  char buf[PATH_MAX];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  buf[n] = '\0';
  return fs::path{buf}.parent_path().string();
}

// A word list shaped like text: a few frequent words, many rare ones.
void generate_input(const fs::path& dir, const fs::path& placement, int files, int lines,
                    const std::vector<std::string>& hosts) {
  fs::create_directories(dir);
  std::mt19937_64 rng{2026};
  std::vector<std::string> vocab;
  const char* syll[] = {"ka", "lo", "mer", "tis", "ra", "zen", "po", "vik", "su", "dro"};
  for (int i = 0; i < 400; ++i) {
    std::string w;
    int n = 1 + i % 3;
    int x = i;
    for (int k = 0; k <= n; ++k) {
      w += syll[x % 10];
      x /= 3;
    }
    vocab.push_back(w + std::to_string(i % 7));
  }
  std::ofstream place{placement};
  for (int f = 0; f < files; ++f) {
    auto name = "input-" + std::to_string(f) + ".txt";
    std::ofstream out{dir / name};
    for (int l = 0; l < lines; ++l) {
      for (int w = 0; w < 12; ++w) {
        // Zipf-ish: index ~ 400 * u^3.
        double u = std::uniform_real_distribution<double>{0, 1}(rng);
        auto idx = static_cast<size_t>(399.0 * u * u * u);
        out << (w ? " " : "") << vocab[idx];
      }
      out << ".\n";
    }
    place << name << " " << hosts[static_cast<size_t>(f) % hosts.size()] << "\n";
  }
}

struct sample {
  double t;
  std::map<std::string, double> share; // framework label -> cpu share
};

std::string svg(const std::vector<sample>& samples, double total_cpus) {
  const int w = 800, h = 320, left = 60, right = 150, top = 30, bottom = 50;
  double t_max = samples.empty() ? 1 : std::max(1.0, samples.back().t);
  auto x = [&](double t) { return left + (w - left - right) * t / t_max; };
  auto y = [&](double s) { return top + (h - top - bottom) * (1 - s); };
  std::map<std::string, std::string> colors{{"hadoop-like", "#1f77b4"},
                                            {"mpi-like", "#d62728"}};
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "font-family=\"sans-serif\" font-size=\"12\">\n",
                w, h);
  out += buf;
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::snprintf(buf, sizeof(buf),
                "<text x=\"%d\" y=\"18\" font-size=\"14\">Share of the cluster's %.0f CPUs "
                "allocated to each framework (in use or offered), DRF</text>\n",
                left, total_cpus);
  out += buf;
  for (int i = 0; i <= 4; ++i) {
    double s = i / 4.0;
    std::snprintf(buf, sizeof(buf),
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
                  left, y(s), w - right, y(s), left - 6, y(s) + 4, i * 25);
    out += buf;
  }
  for (int i = 0; i <= 5; ++i) {
    double t = t_max * i / 5;
    std::snprintf(buf, sizeof(buf),
                  "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0fs</text>\n", x(t),
                  h - bottom + 18, t);
    out += buf;
  }
  std::snprintf(buf, sizeof(buf),
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time</text>\n",
                (left + w - right) / 2, h - 10);
  out += buf;
  int legend = 0;
  for (auto& [name, color] : colors) {
    std::string pts;
    for (auto& s : samples) {
      auto i = s.share.find(name);
      double v = i == s.share.end() ? 0 : i->second;
      std::snprintf(buf, sizeof(buf), "%.1f,%.1f ", x(s.t), y(v));
      pts += buf;
    }
    out += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + color + "\" points=\"" + pts
           + "\"/>\n";
    std::snprintf(buf, sizeof(buf),
                  "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                  "<text x=\"%d\" y=\"%d\">%s</text>\n",
                  w - right + 10, top + 10 + legend * 20, color.c_str(), w - right + 30,
                  top + 15 + legend * 20, name.c_str());
    out += buf;
    ++legend;
  }
  out += "</svg>\n";
  return out;
}

// "label" of a framework from its registered name.
std::string label_of(const std::string& name) {
  if (name.rfind("hadoop-like", 0) == 0)
    return "hadoop-like";
  if (name.rfind("mpi-like", 0) == 0)
    return "mpi-like";
  return name;
}

struct fw_stats {
  std::map<std::string, caldera::schema::TaskState> tasks; // last state seen
};

// The command line; an exit status when it is unusable.
std::optional<int> parse_options(int argc, char** argv, demo_options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "caldera-demo: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--out")
        o.out = next();
      else if (a == "--port")
        o.port = static_cast<uint16_t>(std::stoi(next()));
      else if (a == "--files")
        o.files = std::stoi(next());
      else if (a == "--lines")
        o.lines = std::stoi(next());
      else if (a == "--ranks")
        o.ranks = std::stoi(next());
      else if (a == "--samples")
        o.samples = std::stoi(next());
      else if (a == "--secure")
        o.secure = true;
      else if (a == "--small") {
        o.files = 6;
        o.lines = 400;
        o.ranks = 4;
        o.samples = 200;
        o.reducers = 2;
      } else {
        std::fprintf(stderr, "caldera-demo: unknown option '%s'\n", a.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "caldera-demo: %s: not a number\n", a.c_str());
      return 2;
    }
  }
  return std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
  using namespace caldera;
  demo_options o;
  if (auto rc = parse_options(argc, argv, o))
    return *rc;
  auto bin = self_dir();
  std::string src = CALDERA_SOURCE_DIR;
  fs::path out = fs::absolute(o.out);
  fs::path run = out / "run";
  std::error_code ec;
  fs::remove_all(run, ec);
  fs::create_directories(run, ec);
  auto master_ep = "127.0.0.1:" + std::to_string(o.port);
  // Port 0: any free ports (the master's is read from its log).
  auto agent_port = [&](int i) { return o.port == 0 ? 0 : o.port + 1 + i; };
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };

  std::printf("== caldera demo: a master and 3 agents on loopback, two frameworks sharing "
              "them%s ==\n", o.secure ? " (TLS, authentication, ACLs)" : "");
  secure_setup sec;
  if (o.secure) {
    // Tasks of a principal started by root run as nobody: they write here.
    fs::permissions(out, fs::perms::all, ec);
    fs::permissions(run, fs::perms::all, ec);
    if (auto why = make_secure(src, run, sec)) {
      std::fprintf(stderr, "caldera-demo: %s\n", why->c_str());
      return 1;
    }
  }
  child master{with({bin + "/caldera-master", "--config", src + "/conf/demo-master.conf",
                     "--port", std::to_string(o.port), "--work-dir", (run / "master").string()},
                    sec.master)};
  if (!master.wait_for("master_listening", 30s)) {
    std::fprintf(stderr, "caldera-demo: the master did not start:\n%s\n",
                 master.output().c_str());
    return 1;
  }
  if (o.port == 0) {
    auto text = master.output();
    auto at = text.find("master_listening endpoint=\"");
    if (at == std::string::npos) {
      std::fprintf(stderr, "caldera-demo: cannot tell the master's port:\n%s\n", text.c_str());
      return 1;
    }
    at += std::string{"master_listening endpoint=\""}.size();
    master_ep = text.substr(at, text.find('"', at) - at);
  }
  std::vector<std::unique_ptr<child>> agents;
  std::vector<std::string> hosts{"node1", "node2", "node3"};
  for (int i = 0; i < 3; ++i) {
    agents.push_back(std::make_unique<child>(with(
      {bin + "/caldera-agent", "--config", src + "/conf/agent.conf", "--master", master_ep,
       "--port", std::to_string(agent_port(i)), "--hostname", hosts[static_cast<size_t>(i)],
       "--work-dir", (run / hosts[static_cast<size_t>(i)]).string(), "--resources",
       o.agent_resources},
      sec.agent)));
  }
  for (auto& a : agents)
    if (!a->wait_for("agent_registered", 30s)) {
      std::fprintf(stderr, "caldera-demo: an agent did not register:\n%s\n",
                   a->output().c_str());
      return 1;
    }
  std::printf("master %s, agents node1..3 with %s each\n", master_ep.c_str(),
              o.agent_resources.c_str());
  if (o.secure && !plain_client_refused(master_ep))
    return 1;
  auto input = run / "input";
  auto placement = run / "placement.txt";
  generate_input(input, placement, o.files, o.lines, hosts);
  auto output = out / "wordcount";
  fs::remove_all(output, ec);
  std::printf("input: %d files of %d lines in %s, placed on node1..3 (%s)\n", o.files,
              o.lines, input.c_str(), placement.c_str());

  if (o.secure) {
    fs::create_directories(output, ec);
    fs::permissions(output, fs::perms::all, ec);
  }
  child hadoop{with({bin + "/hadoop-like", "--master", master_ep, "--job", "wordcount",
                     "--input", input.string(), "--output", output.string(), "--reducers",
                     std::to_string(o.reducers), "--role", "hadoop", "--placement",
                     placement.string(), "--split-size", std::to_string(o.split_size),
                     "--task-resources", "cpus:1;mem:256", "--locality-wait", "1s",
                     "--log-level", "warn"},
                    sec.framework)};
  child mpi{with({bin + "/mpi-like", "--master", master_ep, "--ranks", std::to_string(o.ranks),
                  "--cpus", "1", "--mem", "256", "--role", "mpi", "--samples",
                  std::to_string(o.samples), "--vector-length", "4096", "--log-level", "warn"},
                 sec.framework)};

  // Watch the master while both run.
  node_config cfg{"demo"};
  if (auto why = configure_from_file(cfg, o.secure ? sec.pki + "/client.conf" : "")) {
    std::fprintf(stderr, "caldera-demo: %s\n", why->c_str());
    return 1;
  }
  log::set_level(log::level::error);
  caf::actor_system sys{cfg};
  auto ep = parse_endpoint(master_ep);
  auto mh = connect_blocking(sys, *ep);
  if (!mh) {
    std::fprintf(stderr, "caldera-demo: cannot reach the master: %s\n",
                 describe(mh.error()).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  std::vector<sample> samples;
  std::map<std::string, fw_stats> stats; // by label
  std::map<std::string, std::string> label_by_id;
  double total_cpus = 0;
  double last_print = -1;
  auto poll = [&] {
    self->request(*mh, 5s, get_state_msg{})
      .receive(
        [&](const state_msg& st) {
          auto v = st.read();
          total_cpus = 0;
          for (auto a : v->getAgents())
            if (a.getActive())
              if (auto r = resources::from_capnp(a.getResources()))
                total_cpus += r->scalar("cpus");
          sample s{elapsed(), {}};
          for (auto f : v->getFrameworks()) {
            auto label = label_of(f.getName());
            label_by_id[f.getId()] = label;
            // What DRF divides: resources in use plus those offered to
            // (and possibly held by) the framework.
            auto used = resources::from_capnp(f.getUsedResources());
            auto offered = resources::from_capnp(f.getOfferedResources());
            if (used && offered && total_cpus > 0 && f.getActive())
              s.share[label] = (used->scalar("cpus") + offered->scalar("cpus")) / total_cpus;
          }
          for (auto t : v->getTasks()) {
            auto i = label_by_id.find(t.getFrameworkId());
            if (i != label_by_id.end())
              stats[i->second].tasks[t.getId()] = t.getState();
          }
          samples.push_back(std::move(s));
        },
        [&](caf::error&) {});
  };
  auto count = [&](const std::string& label, auto pred) {
    size_t n = 0;
    for (auto& [id, st] : stats[label].tasks)
      n += pred(st);
    return n;
  };
  auto done_of = [](caldera::schema::TaskState s) {
    return s == caldera::schema::TaskState::FINISHED;
  };
  auto progress_of = [](const std::string& text) {
    if (text.find("hadoop-like: done") != std::string::npos)
      return std::string{"done"};
    auto at = text.rfind("progress maps=");
    if (at == std::string::npos)
      return std::string{"starting"};
    return text.substr(at + 9, text.find('\n', at) - at - 9);
  };
  const double deadline = 170;
  while (!(hadoop.output_closed() && mpi.output_closed()) && elapsed() < deadline) {
    poll();
    if (elapsed() - last_print >= 1.0) {
      last_print = elapsed();
      sample last = samples.empty() ? sample{} : samples.back();
      auto share = [&](const char* l) {
        auto i = last.share.find(l);
        return i == last.share.end() ? 0.0 : i->second * 100;
      };
      std::printf("[%5.1fs] hadoop-like: %-26s cpu share %3.0f%%  | mpi-like: %zu/%d ranks "
                  "done, cpu share %3.0f%%\n",
                  elapsed(), progress_of(hadoop.output()).c_str(), share("hadoop-like"),
                  count("mpi-like", done_of), o.ranks, share("mpi-like"));
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(200ms);
  }
  poll();
  bool timed_out = !(hadoop.output_closed() && mpi.output_closed());
  int hadoop_rc = hadoop.wait_exit(timed_out ? 1s : 30s);
  int mpi_rc = mpi.wait_exit(timed_out ? 1s : 30s);
  double seconds = elapsed();

  // Checks.
  bool words_ok = false;
  std::string words_why;
  {
    auto got = hadoop::read_output(output.string());
    auto want = hadoop::count_directly(hadoop::job_kind::wordcount, "", input.string());
    if (!got || !want)
      words_why = "cannot read the output or the input";
    else if (*got != *want)
      words_why = "word counts differ from a direct count";
    else
      words_ok = hadoop_rc == 0 && fs::exists(output / "_SUCCESS");
    if (words_ok)
      words_why = std::to_string(want->size()) + " distinct words, counts equal a direct count";
  }
  double pi = 0;
  bool pi_ok = false;
  {
    auto text = mpi.output();
    auto at = text.rfind("result=");
    if (at != std::string::npos)
      pi = std::strtod(text.c_str() + at + 7, nullptr);
    pi_ok = mpi_rc == 0 && std::fabs(pi - M_PI) < 1e-8;
  }
  double locality = 0;
  {
    auto text = hadoop.output();
    auto at = text.rfind("locality=");
    if (at != std::string::npos)
      locality = std::strtod(text.c_str() + at + 9, nullptr);
  }
  auto failed_of = [](caldera::schema::TaskState s) {
    return is_terminal(s) && s != caldera::schema::TaskState::FINISHED;
  };
  nlohmann::json summary;
  summary["seconds"] = seconds;
  summary["cluster"] = {{"agents", 3}, {"resources_per_agent", o.agent_resources},
                        {"cpus", total_cpus}};
  summary["frameworks"]["hadoop-like"] = {
    {"job", "wordcount"},
    {"role", "hadoop"},
    {"tasks_launched", stats["hadoop-like"].tasks.size()},
    {"tasks_finished", count("hadoop-like", done_of)},
    {"tasks_failed", count("hadoop-like", failed_of)},
    {"locality_share", locality},
    {"exit_code", hadoop_rc},
    {"result_verified", words_ok},
    {"result", words_why}};
  summary["frameworks"]["mpi-like"] = {
    {"job", "pi by ring allreduce"},
    {"role", "mpi"},
    {"ranks", o.ranks},
    {"tasks_launched", stats["mpi-like"].tasks.size()},
    {"tasks_finished", count("mpi-like", done_of)},
    {"tasks_failed", count("mpi-like", failed_of)},
    {"locality_share", nullptr},
    {"exit_code", mpi_rc},
    {"result", pi},
    {"result_verified", pi_ok}};
  // The peak share each framework held while both were active.
  double overlap = 0;
  for (auto& s : samples)
    if (s.share.count("hadoop-like") && s.share.count("mpi-like")
        && s.share.at("hadoop-like") > 0 && s.share.at("mpi-like") > 0)
      overlap += 1;
  summary["samples_with_both_running"] = overlap;
  std::ofstream{out / "summary.json"} << summary.dump(2) << "\n";
  std::ofstream{out / "shares.svg"} << svg(samples, total_cpus);

  std::printf("\n== summary (%.1f s) ==\n", seconds);
  std::printf("hadoop-like word count: %s; %zu tasks, %zu failed, node-local maps %.0f%% -> %s\n",
              words_ok ? "VERIFIED" : "FAILED", stats["hadoop-like"].tasks.size(),
              count("hadoop-like", failed_of), locality * 100, words_why.c_str());
  std::printf("mpi-like pi (%d ranks): %.15f %s\n", o.ranks, pi,
              pi_ok ? "VERIFIED" : "FAILED");
  std::printf("wrote %s and %s\n", (out / "summary.json").c_str(), (out / "shares.svg").c_str());
  if (timed_out)
    std::printf("the frameworks did not finish within %.0f s\n", deadline);

  // Shut the cluster down.
  for (auto& a : agents)
    a->signal(SIGTERM);
  for (auto& a : agents)
    a->wait_exit(20s);
  master.signal(SIGTERM);
  master.wait_exit(20s);
  bool ok = words_ok && pi_ok && !timed_out;
  if (!ok) {
    std::fprintf(stderr, "caldera-demo: a check failed\n--- hadoop-like ---\n%s\n--- mpi-like "
                         "---\n%s\n",
                 hadoop.output().c_str(), mpi.output().c_str());
  }
  return ok ? 0 : 1;
}
