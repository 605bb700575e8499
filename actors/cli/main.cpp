// caldera: the operator and user command line.
//
//   caldera run   --master HOST:PORT --resources 'cpus:0.5;mem:64' -- CMD ARGS...
//   caldera state --master HOST:PORT [--json]
//   caldera weights set ROLE=W ... | get;  caldera quota set ROLE RES | remove ROLE | get
#include <cstdio>
#include <cstring>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/cli/cli.hpp"
#include "actors/master_address.hpp"
#include "actors/auth_client.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/node.hpp"
#include "actors/tls.hpp"
#include "actors/types.hpp"
#include "master/state_json.hpp"

namespace caldera::cli {

std::optional<std::string> parse_args(int argc, char** argv, int first,
                                      const std::vector<std::string>& flags,
                                      const std::vector<std::string>& valued,
                                      parsed_args& out) {
  auto is = [](const std::vector<std::string>& xs, const std::string& x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (int j = i + 1; j < argc; ++j)
        out.rest.emplace_back(argv[j]);
      break;
    }
    if (a.rfind("--", 0) != 0) {
      out.positional.push_back(a);
      continue;
    }
    auto name = a.substr(2);
    std::string value;
    auto eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (is(flags, name)) {
      out.opts[name] = "";
      continue;
    }
    bool common = name == "config" || name == "principal" || name == "secret-file";
    if (!is(valued, name) && !common)
      return "unknown option '--" + name + "'";
    if (!has_value) {
      if (i + 1 >= argc)
        return "option '--" + name + "' needs a value";
      value = argv[++i];
    }
    out.opts[name] = value;
  }
  return std::nullopt;
}

std::string unreachable_hint(caf::actor_system& sys) {
  if (tls_enabled(sys))
    return " (TLS is on: is the peer using TLS with a certificate from the same CA?)";
  return " (if the peer uses TLS, pass --config with its [openssl] files)";
}

namespace {

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  caldera run   --master HOST:PORT --resources RES [--name NAME] [--role ROLE]\n"
               "                [--user USER] [--offer-timeout SECS]\n"
               "                [--principal P --secret-file FILE] -- COMMAND [ARGS...]\n"
               "  caldera state | agents | frameworks | tasks --master HOST:PORT [--json]\n"
               "  caldera logs TASK_ID [--stderr] [--follow] [--master HOST:PORT]\n"
               "  caldera usage [--agent HOST:PORT] [--json]   what each executor uses (ResourceStatistics)\n"
               "  caldera weights set ROLE=WEIGHT... | get   [--master HOST:PORT] [--json]\n"
               "  caldera quota set ROLE RES [--limit RES] | remove ROLE | get\n"
               "                [--master HOST:PORT] [--json]\n"
               "  caldera actors     --node HOST:PORT [--json]\n"
               "  caldera kill-actor --node HOST:PORT NAME\n"
               "  caldera teardown FRAMEWORK_ID [--master HOST:PORT]\n"
               "  caldera masters --master etcd://HOST:PORT[,...]/PREFIX [--json]   who leads\n"
               "--master takes HOST:PORT, a list HOST:PORT,HOST:PORT or etcd://... (standby masters);\n"
               "every command takes --config FILE (e.g. the [openssl] files for TLS links),\n"
               "and --principal P --secret-file F to prove who calls (a secure master's ACLs)\n");
  return 2;
}

} // namespace

namespace {

// Proves --principal (with --secret-file) to `peer` from `self`.
std::optional<std::string> prove_principal(parsed_args& args, caf::scoped_actor& self,
                                           const caf::actor& peer) {
  bool p = args.opts.count("principal") > 0, f = args.opts.count("secret-file") > 0;
  if (p != f)
    return std::string{"--principal and --secret-file go together"};
  if (!p)
    return std::nullopt;
  auto secret = read_secret_file(args.opts["secret-file"]);
  if (!secret)
    return "--secret-file: " + error_message(secret.error());
  auto err = authenticate_blocking(self, peer, {args.opts["principal"], *secret});
  if (err)
    return describe(err);
  return std::nullopt;
}

} // namespace

int with_remote(const char* what, parsed_args& args, const char* option, const char* dflt,
                const char* role, const peer_call& f) {
  auto ep = parse_master_address(args.opts.count(option) ? args.opts[option] : dflt);
  if (!ep) {
    std::fprintf(stderr, "caldera %s: --%s: %s\n", what, option, describe(ep.error()).c_str());
    return 2;
  }
  node_config cfg{"cli"};
  if (auto why = configure_from_file(cfg, args.opts["config"])) {
    std::fprintf(stderr, "caldera %s: %s\n", what, why->c_str());
    return 2;
  }
  log::set_level(log::level::error);
  caf::actor_system sys{cfg};
  auto peer = connect_master_blocking(sys, *ep);
  if (!peer) {
    std::fprintf(stderr, "caldera %s: cannot reach the %s at %s: %s%s\n", what, role,
                 ep->to_string().c_str(), describe(peer.error()).c_str(),
                 unreachable_hint(sys).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  if (auto why = prove_principal(args, self, *peer)) {
    std::fprintf(stderr, "caldera %s: %s\n", what, why->c_str());
    return 1;
  }
  return f(self, *peer);
}

int with_master(const char* what, parsed_args& args, const peer_call& f) {
  return with_remote(what, args, "master", "127.0.0.1:5050", "master", f);
}

int cmd_state(int argc, char** argv) {
  std::string section = argv[1];
  if (section == "state")
    section.clear();
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"json"}, {"master", "timeout"}, args)) {
    std::fprintf(stderr, "caldera %s: %s\n", argv[1], err->c_str());
    return 2;
  }
  return with_master(argv[1], args, [&](caf::scoped_actor& self, const caf::actor& master) {
    int rc = 0;
    self->request(master, std::chrono::seconds(10), get_state_msg{})
      .receive(
        [&](const state_msg& st) {
          auto v = st.read();
          if (args.opts.count("json")) {
            auto j = state_to_json(v.get());
            std::cout << (section.empty() ? j : j[section]).dump(2) << std::endl;
          } else {
            std::cout << state_to_table(v.get(), section);
          }
        },
        [&](caf::error& err) {
          std::fprintf(stderr, "caldera %s: %s\n", argv[1], describe(err).c_str());
          rc = 1;
        });
    return rc;
  });
}

} // namespace caldera::cli

int main(int argc, char** argv) {
  if (argc < 2)
    return caldera::cli::usage();
  std::string cmd = argv[1];
  if (cmd == "run")
    return caldera::cli::cmd_run(argc, argv);
  if (cmd == "state" || cmd == "agents" || cmd == "frameworks" || cmd == "tasks")
    return caldera::cli::cmd_state(argc, argv);
  if (cmd == "logs")
    return caldera::cli::cmd_logs(argc, argv);
  if (cmd == "usage")
    return caldera::cli::cmd_usage(argc, argv);
  if (cmd == "weights")
    return caldera::cli::cmd_weights(argc, argv);
  if (cmd == "quota")
    return caldera::cli::cmd_quota(argc, argv);
  if (cmd == "actors")
    return caldera::cli::cmd_actors(argc, argv);
  if (cmd == "kill-actor")
    return caldera::cli::cmd_kill_actor(argc, argv);
  if (cmd == "teardown")
    return caldera::cli::cmd_teardown(argc, argv);
  if (cmd == "masters")
    return caldera::cli::cmd_masters(argc, argv);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    caldera::cli::usage();
    return 0;
  }
  std::fprintf(stderr, "caldera: unknown command '%s'\n", cmd.c_str());
  return caldera::cli::usage();
}
