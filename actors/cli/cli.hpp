// The `caldera` command line: subcommands and their shared helpers.
#pragma once

#include <functional>
#include <map>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/scoped_actor.hpp>
#include <optional>
#include <string>
#include <vector>

namespace caldera::cli {

/// Options before a "--" as NAME -> VALUE ("" for flags), the words after
/// "--" in `rest`. Returns an error message for a malformed line. Every
/// subcommand takes --config FILE (a node config file: its [openssl] files),
/// and those that call a daemon --principal P --secret-file F.
struct parsed_args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> rest;
  std::vector<std::string> positional;
};

std::optional<std::string> parse_args(int argc, char** argv, int first,
                                      const std::vector<std::string>& flags,
                                      const std::vector<std::string>& valued,
                                      parsed_args& out);

/// What the peer-facing commands do with their peer: `self` sends (it proved
/// --principal to the peer when given), `peer` receives.
using peer_call = std::function<int(caf::scoped_actor& self, const caf::actor& peer)>;

/// Connects to the master named by --master (default 127.0.0.1:5050) over the
/// links of --config, proves --principal with --secret-file when given, and
/// calls f(self, master). Prints a message naming `what` and returns 1 or 2
/// when that fails; otherwise returns what f returns.
int with_master(const char* what, parsed_args& args, const peer_call& f);

/// The same for any daemon: the endpoint in option `option` (default
/// `dflt`), `role` naming it in messages ("agent").
int with_remote(const char* what, parsed_args& args, const char* option, const char* dflt,
                const char* role, const peer_call& f);

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
int cmd_teardown(int argc, char** argv);
int cmd_masters(int argc, char** argv);

} // namespace caldera::cli
