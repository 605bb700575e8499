// `caldera logs TASK_ID [--stderr] [--follow]`: a task's stdout (or stderr)
// from its sandbox. The master says on which agent the task runs and where
// that agent's HTTP API is; the agent's /state gives the sandbox directory,
// its /files/read the bytes.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "actors/cli/cli.hpp"
#include "actors/auth.hpp"
#include "actors/error.hpp"
#include "actors/tls.hpp"
#include "actors/node.hpp"
#include "actors/status.hpp"
#include "actors/types.hpp"

namespace caldera::cli {

namespace {

struct task_place {
  std::string framework_id;
  std::string agent_id;
  std::string http;
  bool terminal = false;
};

// An HTTP client of the agent at `ep`: HTTPS when the links are TLS (the
// agent serves HTTPS with its TLS files), Basic credentials when a principal
// is given.
std::unique_ptr<httplib::Client> agent_client(caf::actor_system& sys, parsed_args& args,
                                              const endpoint& ep) {
  auto tls = tls_files_of(sys.config());
  auto agent = std::make_unique<httplib::Client>((tls.enabled() ? "https://" : "http://")
                                                 + ep.to_string());
  if (tls.enabled()) {
    agent->set_ca_cert_path(tls.cafile.c_str(), tls.capath.c_str());
    agent->enable_server_certificate_verification(true);
  }
  if (args.opts.count("principal") > 0)
    if (auto secret = read_secret_file(args.opts["secret-file"]))
      agent->set_basic_auth(args.opts["principal"].c_str(), secret->c_str());
  agent->set_connection_timeout(5, 0);
  return agent;
}

// Where the task is, as the master sees it now.
std::optional<task_place> locate(caf::scoped_actor& self, const caf::actor& master,
                                 const std::string& task, const std::string& framework,
                                 std::string& error) {
  std::optional<task_place> out;
  self->request(master, std::chrono::seconds(10), get_state_msg{})
    .receive(
      [&](const state_msg& st) {
        auto v = st.read();
        std::map<std::string, std::string> http;
        for (auto a : v->getAgents())
          http[a.getId()] = a.getHttpEndpoint();
        for (auto t : v->getTasks()) {
          if (std::string{t.getId()} != task
              || (!framework.empty() && std::string{t.getFrameworkId()} != framework))
            continue;
          if (out && out->framework_id != std::string{t.getFrameworkId()}) {
            error = "task id '" + task + "' exists in several frameworks: give --framework";
            out.reset();
            return;
          }
          out = task_place{t.getFrameworkId(), t.getAgentId(), http[t.getAgentId()],
                           is_terminal(t.getState())};
        }
        if (!out)
          error = "no task '" + task + "' is known to the master";
      },
      [&](caf::error& err) { error = describe(err); });
  return out;
}

} // namespace

int cmd_logs(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"stderr", "follow"},
                            {"master", "framework"}, args)) {
    std::fprintf(stderr, "caldera logs: %s\n", err->c_str());
    return 2;
  }
  if (args.positional.size() != 1) {
    std::fprintf(stderr, "caldera logs: give exactly one TASK_ID\n");
    return 2;
  }
  auto task = args.positional[0];
  auto framework = args.opts.count("framework") ? args.opts["framework"] : "";
  std::string file = args.opts.count("stderr") ? "stderr" : "stdout";
  bool follow = args.opts.count("follow") > 0;
  return with_master("logs", args, [&](caf::scoped_actor& self, const caf::actor& master) {
    std::string error;
    auto where = locate(self, master, task, framework, error);
    if (!where) {
      std::fprintf(stderr, "caldera logs: %s\n", error.c_str());
      return 1;
    }
    if (where->http.empty()) {
      std::fprintf(stderr,
                   "caldera logs: agent %s has no HTTP API (start it with --http-port)\n",
                   where->agent_id.c_str());
      return 1;
    }
    auto ep = parse_endpoint(where->http);
    if (!ep) {
      std::fprintf(stderr, "caldera logs: bad agent address '%s'\n", where->http.c_str());
      return 1;
    }
    auto client = agent_client(self->system(), args, *ep);
    auto& agent = *client;
    agent.set_read_timeout(10, 0);
    auto st = agent.Get("/state");
    if (!st || st->status != 200) {
      std::fprintf(stderr, "caldera logs: cannot read %s/state\n", where->http.c_str());
      return 1;
    }
    std::string dir;
    try {
      auto j = nlohmann::json::parse(st->body);
      for (auto& f : j["frameworks"])
        for (auto* list : {&f["executors"], &f["completed_executors"]})
          for (auto& e : *list)
            for (auto* ts : {&e["tasks"], &e["completed_tasks"]})
              for (auto& t : *ts)
                if (t["id"] == task && t["framework_id"] == where->framework_id)
                  dir = e["directory"].get<std::string>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "caldera logs: the agent's /state does not parse: %s\n", e.what());
      return 1;
    }
    if (dir.empty()) {
      std::fprintf(stderr, "caldera logs: agent %s has no sandbox for task '%s'\n",
                   where->agent_id.c_str(), task.c_str());
      return 1;
    }
    long long offset = 0;
    for (;;) {
      httplib::Params q{{"path", dir + "/" + file},
                        {"offset", std::to_string(offset)},
                        {"length", "65536"}};
      auto r = agent.Get("/files/read", q, httplib::Headers{});
      if (!r || r->status != 200) {
        std::fprintf(stderr, "caldera logs: cannot read %s from %s\n", file.c_str(),
                     where->http.c_str());
        return 1;
      }
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      auto data = j.is_object() ? j.value("data", std::string{}) : std::string{};
      if (!data.empty()) {
        std::cout << data << std::flush;
        offset += static_cast<long long>(data.size());
        continue;
      }
      if (!follow)
        return 0;
      // Following: stop once the task ended and its output is drained.
      auto now = locate(self, master, task, where->framework_id, error);
      if (!now || now->terminal)
        return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
}

} // namespace caldera::cli
