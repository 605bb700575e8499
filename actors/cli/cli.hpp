// The `caldera` command line: subcommands and their shared helpers.
#pragma once

#include <functional>
#include <map>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace caldera::cli {

/// Options before a "--" as NAME -> VALUE ("" for flags), the words after
/// "--" in `rest`. Returns an error message for a malformed line. Every
/// subcommand takes --config FILE (a node config file: its [openssl] files).
struct parsed_args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> rest;
  std::vector<std::string> positional;
};

std::optional<std::string> parse_args(int argc, char** argv, int first,
                                      const std::vector<std::string>& flags,
                                      const std::vector<std::string>& valued,
                                      parsed_args& out);

/// Connects to the master named by --master (default 127.0.0.1:5050) and
/// calls f(system, master). Prints a message naming `what` and returns 1 or 2
/// when that fails; otherwise returns what f returns.
int with_master(const char* what, parsed_args& args,
                const std::function<int(caf::actor_system&, const caf::actor&)>& f);

/// The same for any daemon: the endpoint in option `option` (default
/// `dflt`), `role` naming it in messages ("agent").
int with_remote(const char* what, parsed_args& args, const char* option, const char* dflt,
                const char* role,
                const std::function<int(caf::actor_system&, const caf::actor&)>& f);

/// What to add to a "cannot reach" message: whether TLS may be the reason.
std::string unreachable_hint(caf::actor_system& sys);

int cmd_run(int argc, char** argv);
int cmd_state(int argc, char** argv);
int cmd_logs(int argc, char** argv);
int cmd_usage(int argc, char** argv);
int cmd_weights(int argc, char** argv);
int cmd_quota(int argc, char** argv);
int cmd_actors(int argc, char** argv);
int cmd_kill_actor(int argc, char** argv);

} // namespace caldera::cli
