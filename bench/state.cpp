// bench-state: what reading the operator API costs, and that it never slows
// scheduling. Builds, in one process, a master (with its registrar and HTTP
// API), N emulated agents (actors that register, answer health checks and
// report every task RUNNING at once) and a framework that launches M tasks
// and then keeps declining what is offered (so allocation cycles go on).
// Then it times GET /master/state and the allocation cycle, idle and while
// 10 clients poll /master/state, and prints one JSON line per size:
//
//   {"agents":N,"tasks":M,"state_p50_ms":X,"state_p99_ms":Y,
//    "cycle_ms_idle":A,"cycle_ms_polled":B,"cycle_ms_polled_gzip":C, ...}
//
// (also "ui_poll_p50_ms": /master/state-summary plus /master/tasks?limit=500,
// what the web UI fetches every 2 s).
//
//   bench-state [--agents 1000 --tasks 10000] [--sizes 1000x10000,10000x100000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <tuple>
#include <sstream>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/error.hpp"
#include "actors/http.hpp"
#include "actors/ids.hpp"
#include "actors/log.hpp"
#include "actors/metrics_export.hpp"
#include "actors/node.hpp"
#include "actors/scheduler.hpp"
#include "actors/status.hpp"
#include "actors/v1_json.hpp"
#include "actors/types.hpp"
#include "master/http_api.hpp"
#include "master/master.hpp"
#include "master/registrar.hpp"
#include "master/v1_operator.hpp"

using namespace caldera;
using namespace std::chrono_literals;

namespace {

// An agent that runs nothing: every task is reported RUNNING at once.
caf::behavior fake_agent(caf::event_based_actor* self, caf::actor master, int idx) {
  auto id = std::make_shared<std::string>();
  auto reg = make<schema::RegisterAgent>([&](schema::RegisterAgent::Builder b) {
    b.setHostname("emu" + std::to_string(idx));
    b.setEndpoint("127.0.0.1:" + std::to_string(20000 + idx % 40000));
    auto r = *resources::parse("cpus:16;mem:65536");
    r.to_capnp(b.initResources(static_cast<unsigned>(r.entry_count())));
  });
  self->request(master, caf::infinite, reg).then([=](const agent_registered_msg& m) {
    *id = m.read()->getAgentId();
  });
  uint64_t n = 0;
  return {
    [=](ping_atom) { self->send(master, pong_atom::value); },
    [=](const run_task_msg& m) mutable {
      auto v = m.read();
      status_info st;
      st.task_id = v->getTask().getTaskId();
      st.framework_id = v->getFramework().getId();
      st.executor_id = v->getTask().getExecutor().getExecutorId();
      st.agent_id = *id;
      st.state = schema::TaskState::RUNNING;
      st.source = schema::StatusSource::AGENT;
      st.timestamp = wall_seconds();
      st.uuid = *id + "-" + std::to_string(++n);
      self->send(master, make_status_update(st));
    },
    [=](const acknowledge_msg&) {},
    [=](const kill_msg&) {},
    [=](reregister_atom) {},
  };
}

// Launches `total` small tasks, then declines everything with no filter.
class filler : public scheduler {
public:
  filler(caf::actor_config& cfg, scheduler_options o, size_t total,
         std::shared_ptr<std::atomic<size_t>> running)
    : scheduler(cfg, std::move(o)), left_(total), running_(std::move(running)) {
  }

protected:
  void resource_offers(const std::vector<offer>& offers) override {
    auto per = *resources::parse("cpus:0.1;mem:32");
    for (auto& o : offers) {
      std::vector<task_spec> ts;
      auto res = o.res;
      while (left_ > 0 && res.contains(per) && ts.size() < 100) {
        task_spec t;
        t.task_id = "t" + std::to_string(next_++);
        t.res = per;
        t.command = "true";
        ts.push_back(std::move(t));
        res -= per;
        --left_;
      }
      if (ts.empty())
        decline({o.id}, 0);
      else
        accept({o.id}, ts, 0);
    }
  }
  void status_update(const status_info& st) override {
    if (st.state == schema::TaskState::RUNNING)
      ++*running_;
  }

private:
  size_t left_;
  size_t next_ = 0;
  std::shared_ptr<std::atomic<size_t>> running_;
};

// A client of the v1 operator API's SUBSCRIBE stream on a socket of its own:
// decodes the chunks and the RecordIO records and counts the events (and
// the TASK_UPDATED ones to TASK_RUNNING) as they come.
class stream_counter {
public:
  explicit stream_counter(uint16_t port) : fd_(subscribe(port)) {
    reader_ = std::thread([this] { read_loop(); });
  }
  ~stream_counter() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    reader_.join();
    ::close(fd_);
  }

  // Waits (at most a minute) for `running` tasks' TASK_RUNNING updates.
  nlohmann::json figures(size_t running) {
    for (int i = 0; i < 1200 && running_ < running; ++i)
      std::this_thread::sleep_for(50ms);
    std::lock_guard<std::mutex> g{m_};
    double secs = std::chrono::duration<double>(last_ - first_).count();
    return {{"operator_events", events_},
            {"operator_events_per_s", secs > 0 ? static_cast<double>(events_) / secs : 0.0},
            {"operator_stream_mib", static_cast<double>(bytes_) / (1 << 20)}};
  }

  // The time to a new subscriber's SUBSCRIBED (the whole state) and its size.
  static std::pair<double, size_t> subscribed(uint16_t port) {
    auto t0 = std::chrono::steady_clock::now();
    stream_counter c{port};
    for (int i = 0; i < 12000 && c.events_seen() == 0; ++i) // at most a minute
      std::this_thread::sleep_for(5ms);
    std::lock_guard<std::mutex> g{c.m_};
    return {std::chrono::duration<double, std::milli>(c.first_ - t0).count(), c.bytes_};
  }

private:
  size_t events_seen() {
    std::lock_guard<std::mutex> g{m_};
    return events_;
  }

  static int subscribe(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
      throw std::runtime_error("cannot connect to the HTTP API");
    std::string body = R"({"type":"SUBSCRIBE"})";
    std::string req = "POST /api/v1 HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      throw std::runtime_error("cannot send SUBSCRIBE");
    return fd;
  }

  void read_loop() {
    std::string buf;
    bool head = false;
    char tmp[1 << 16];
    while (!stop_) {
      auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0)
        return;
      buf.append(tmp, static_cast<size_t>(n));
      if (!head) {
        auto e = buf.find("\r\n\r\n");
        if (e == std::string::npos)
          continue;
        buf.erase(0, e + 4);
        head = true;
      }
      take_chunks(buf);
    }
  }

  // Complete chunks out of `buf`, their data through RecordIO into events.
  void take_chunks(std::string& buf) {
    size_t pos = 0;
    std::vector<std::string> records;
    while (true) {
      auto nl = buf.find("\r\n", pos);
      if (nl == std::string::npos)
        break;
      auto size = std::stoul(buf.substr(pos, nl - pos), nullptr, 16);
      if (buf.size() < nl + 2 + size + 2)
        break;
      rio_.feed(std::string_view{buf}.substr(nl + 2, size), records);
      pos = nl + 2 + size + 2;
    }
    buf.erase(0, pos);
    std::lock_guard<std::mutex> g{m_};
    for (auto& r : records) {
      auto now = std::chrono::steady_clock::now();
      if (events_++ == 0)
        first_ = now;
      last_ = now;
      bytes_ += r.size();
      if (r.find("\"TASK_UPDATED\"") != std::string::npos
          && r.find("\"state\":\"TASK_RUNNING\"") != std::string::npos)
        ++running_;
    }
  }

  int fd_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  v1::recordio_reader rio_;
  std::mutex m_;
  size_t events_ = 0, bytes_ = 0;
  std::atomic<size_t> running_{0};
  std::chrono::steady_clock::time_point first_, last_;
};

// Sum and count of the allocation-cycle histogram so far.
std::pair<double, double> cycle_totals() {
  std::istringstream in{metrics::exposition()};
  double sum = 0, count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("caldera_allocation_cycle_seconds_sum ", 0) == 0)
      sum = std::stod(line.substr(line.find(' ') + 1));
    else if (line.rfind("caldera_allocation_cycle_seconds_count ", 0) == 0)
      count = std::stod(line.substr(line.find(' ') + 1));
  }
  return {sum, count};
}

double mean_cycle_ms(std::chrono::milliseconds window) {
  auto a = cycle_totals();
  std::this_thread::sleep_for(window);
  auto b = cycle_totals();
  double n = b.second - a.second;
  return n > 0 ? (b.first - a.first) / n * 1000 : 0;
}

double pct(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

nlohmann::json run(size_t agents, size_t tasks) {
  caf::actor_system_config cfg;
  register_types(cfg);
  apply_runtime_defaults(cfg);
  caf::actor_system sys{cfg};
  auto dir = std::filesystem::temp_directory_path()
             / ("caldera-bench-state-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto store = registry_store::open(dir.string());
  if (!store)
    throw std::runtime_error(describe(store.error()));
  auto registrar = spawn_registrar(sys, std::move(*store));
  auto box = std::make_shared<state_box>();
  master_options mo;
  mo.allocation_interval = 200ms;
  mo.publish = box;
  mo.agent_ping_timeout = 60s;
  auto master = spawn_master(sys, registrar, mo);
  uint16_t port = 0;
  master_http_info info;
  info.hostname = "bench";
  info.v1_operator = std::make_shared<v1_operator_hub>();
  auto http = start_master_http("127.0.0.1", 0, box, info, port);
  if (!http)
    throw std::runtime_error(describe(http.error()));
  std::vector<caf::actor> emus;
  for (size_t i = 0; i < agents; ++i)
    emus.push_back(sys.spawn(fake_agent, master, static_cast<int>(i)));
  auto running = std::make_shared<std::atomic<size_t>>(0);
  scheduler_options so;
  so.master = master;
  so.name = "filler";
  auto watcher = std::make_unique<stream_counter>(port); // the operator stream
  auto t0 = std::chrono::steady_clock::now();
  auto fw = sys.spawn<filler>(so, tasks, running);
  while (*running < tasks
         && std::chrono::steady_clock::now() - t0 < std::chrono::minutes(10))
    std::this_thread::sleep_for(50ms);
  double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Until the published snapshot shows every task.
  for (int i = 0; i < 600; ++i) {
    auto p = box->get();
    if (p && p->state.read_trusted()->getTasks().size() >= tasks)
      break;
    std::this_thread::sleep_for(50ms);
  }
  auto op = watcher->figures(tasks);
  watcher.reset();
  std::tie(op["operator_subscribed_ms"], op["operator_subscribed_bytes"]) =
    stream_counter::subscribed(port);
  httplib::Client cli{"127.0.0.1", port};
  cli.set_read_timeout(60, 0);
  std::vector<double> lat, ui_lat, gzip_lat;
  size_t bytes = 0, gzip_bytes = 0;
  httplib::Client gz{"127.0.0.1", port};
  gz.set_read_timeout(60, 0);
  gz.set_default_headers({{"Accept-Encoding", "gzip"}});
  gz.set_decompress(false);
  auto deadline = std::chrono::steady_clock::now() + 8s;
  while (lat.size() < 40 && (lat.size() < 5 || std::chrono::steady_clock::now() < deadline)) {
    auto a = std::chrono::steady_clock::now();
    auto r = cli.Get("/master/state");
    auto b = std::chrono::steady_clock::now();
    if (!r || r->status != 200)
      throw std::runtime_error("GET /master/state failed: "
                               + (r ? std::to_string(r->status) + " " + r->body.substr(0, 200)
                                    : httplib::to_string(r.error()))
                               + " (running " + std::to_string(running->load()) + ")");
    bytes = r->body.size();
    lat.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    // The same for a client that accepts gzip.
    auto g0 = std::chrono::steady_clock::now();
    auto g = gz.Get("/master/state");
    if (!g || g->status != 200)
      throw std::runtime_error("GET /master/state (gzip) failed");
    gzip_bytes = g->body.size();
    gzip_lat.push_back(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g0).count());
    // What the web UI polls every 2 s.
    auto ui0 = std::chrono::steady_clock::now();
    auto s1 = cli.Get("/master/state-summary");
    auto s2 = cli.Get("/master/tasks?limit=500&order=desc");
    if (!s1 || s1->status != 200 || !s2 || s2->status != 200)
      throw std::runtime_error("GET of what the web UI polls failed");
    ui_lat.push_back(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ui0).count());
    std::this_thread::sleep_for(100ms); // spans several snapshots
  }
  // Idle and polled windows alternate (2 s each, five rounds) and each
  // figure is the median: one window of each says more about the machine's
  // noise than about the readers. The readers stand for clients on other hosts
  // and run at the same low priority as the HTTP threads, so what is left
  // is what serving costs the master.
  // mode: 0 idle, 1 readers that take the body as it is, 2 readers that
  // accept gzip (as browsers, curl --compressed, Python and Go clients do;
  // they inflate on their own hosts, so these do not).
  std::atomic<int> mode{0};
  std::atomic<bool> stop{false};
  std::atomic<size_t> polls{0}, polls_gzip{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 10; ++i)
    readers.emplace_back([&] {
      lower_thread_priority();
      httplib::Client plain{"127.0.0.1", port}, zipped{"127.0.0.1", port};
      plain.set_read_timeout(60, 0);
      zipped.set_read_timeout(60, 0);
      zipped.set_default_headers({{"Accept-Encoding", "gzip"}});
      zipped.set_decompress(false);
      while (!stop) {
        int m = mode;
        if (m == 0) {
          std::this_thread::sleep_for(10ms);
          continue;
        }
        if (auto r = (m == 1 ? plain : zipped).Get("/master/state"); r && r->status == 200)
          ++(m == 1 ? polls : polls_gzip);
      }
    });
  std::vector<double> idle_w, polled_w, gzip_w;
  auto window = [&](int m, std::vector<double>& into) {
    mode = m;
    if (m == 0)
      std::this_thread::sleep_for(300ms); // requests in flight finish
    into.push_back(mean_cycle_ms(2s));
  };
  for (int round = 0; round < 5; ++round) {
    window(0, idle_w);
    window(1, polled_w);
    window(0, idle_w);
    window(2, gzip_w);
  }
  stop = true;
  for (auto& t : readers)
    t.join();
  double idle = pct(idle_w, 0.5), polled = pct(polled_w, 0.5), polled_gzip = pct(gzip_w, 0.5);
  nlohmann::json out{{"agents", agents},
                     {"tasks", tasks},
                     {"state_p50_ms", pct(lat, 0.5)},
                     {"state_p99_ms", pct(lat, 0.99)},
                     {"cycle_ms_idle", idle},
                     {"cycle_ms_polled", polled},
                     {"cycle_ms_polled_gzip", polled_gzip},
                     {"state_bytes", bytes},
                     {"gzip_p50_ms", pct(gzip_lat, 0.5)},
                     {"gzip_p99_ms", pct(gzip_lat, 0.99)},
                     {"gzip_bytes", gzip_bytes},
                     {"ui_poll_p50_ms", pct(ui_lat, 0.5)},
                     {"polls_in_6s", polls.load()},
                     {"gzip_polls_in_6s", polls_gzip.load()},
                     {"setup_s", setup_s}};
  out.update(op);
  (*http)->stop();
  caf::anon_send_exit(fw, caf::exit_reason::kill);
  for (auto& e : emus)
    caf::anon_send_exit(e, caf::exit_reason::kill);
  caf::anon_send_exit(master, caf::exit_reason::kill);
  caf::anon_send_exit(registrar, caf::exit_reason::kill);
  emus.clear();
  master = registrar = fw = nullptr;
  std::filesystem::remove_all(dir);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  log::set_level(log::level::error);
  std::vector<std::pair<size_t, size_t>> sizes{{1000, 10000}};
  size_t agents = 0, tasks = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string{argv[++i]} : std::string{}; };
    if (a == "--agents")
      agents = std::stoul(next());
    else if (a == "--tasks")
      tasks = std::stoul(next());
    else if (a == "--sizes") {
      sizes.clear();
      std::stringstream ss{next()};
      for (std::string item; std::getline(ss, item, ',');) {
        auto x = item.find('x');
        sizes.emplace_back(std::stoul(item.substr(0, x)), std::stoul(item.substr(x + 1)));
      }
    } else {
      std::fprintf(stderr, "usage: bench-state [--agents N --tasks M] [--sizes NxM,...]\n");
      return 2;
    }
  }
  if (agents > 0)
    sizes = {{agents, tasks}};
  for (auto [n, m] : sizes) {
    auto j = run(n, m);
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
