// Node bootstrap shared by every caldera process: configuration (a config file
// plus command-line options, through CAF's own config machinery), logging,
// and publish / connect through the middleman (TLS links: actors/tls.hpp).
//
// Options are declared by subclasses in the "global" category, so both
//   caldera-agent --config conf/agent.conf --port 5052 --work-dir run/a2
// and a config file
//   [global]
//   port=5052
//   work-dir="run/a2"
// set them; the command line overrides the file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include "actors/wire_limits.hpp"

namespace caldera {

class node_config : public caf::actor_system_config {
public:
  /// `component` names the process in logs ("master", "agent", ...).
  explicit node_config(std::string component);

  /// Reads `--config FILE` (if given), then every other option. On failure
  /// returns a message naming the option, the value and the reason; the
  /// caller prints it and exits non-zero. `help_printed` is set when --help
  /// was asked for.
  std::optional<std::string> configure(int argc, char** argv);

  /// Subclasses check their values here (called by `configure`); a message means
  /// the value is unusable.
  virtual std::optional<std::string> validate();

  bool help_printed() const { return cli_helptext_printed; }

  std::string component;
  std::string config_file;
  std::string log_level = "info";
  uint64_t seed = 0;
  /// What a peer may make this node spend (actors/wire_guard.hpp).
  wire_limits wire;

protected:
  std::optional<std::string> validate_wire() const;
  caf::config_option_adder options();
};

struct endpoint {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

/// A config file's text as CAF's INI parser takes it: operators' '#'
/// comments become ';' comments, and a file that sets options before any
/// section gets a [global] section first.
std::string config_file_text(const std::string& raw);

/// Parses "host:port" (port 1..65535).
caf::expected<endpoint> parse_endpoint(std::string_view text);

/// Publishes `whom` on `ip:port` (0: any free port), over TLS when the
/// config sets `openssl.*` (actors/tls.hpp). Returns the port.
caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                                uint16_t port, const std::string& ip);

/// Connects asynchronously (never blocks `self`) to the actor published at
/// `ep` and calls `on_ok(actor)` or `on_err(error)` in `self`'s context.
void connect_async(caf::event_based_actor* self, const endpoint& ep,
                   std::function<void(caf::actor)> on_ok,
                   std::function<void(const caf::error&)> on_err);

/// Connects to the actor published at `ep`, waiting at most 10 s (for
/// command-line tools; never from an actor).
caf::expected<caf::actor> connect_blocking(caf::actor_system& sys, const endpoint& ep);

/// Configures `cfg` from a config file alone (the command-line tools' --config,
/// e.g. the `[openssl]` files of run/pki/client.conf); "" reads none.
std::optional<std::string> configure_from_file(node_config& cfg, const std::string& file);

/// Blocks SIGINT and SIGTERM in this thread and every thread started after
/// it (call first thing in main); `wait_for_termination` then receives them.
void block_termination_signals();

/// Waits for SIGINT or SIGTERM; returns the signal number.
int wait_for_termination();
/// The same, at most `timeout`: 0 when none came.
int wait_for_termination_for(std::chrono::milliseconds timeout);

/// Applies the CAF settings caldera runs with unless the user set them:
/// the sharing scheduler and no middleman worker threads (measured lower
/// latency on 2 cores, see docs/benchmarks.md).
void apply_runtime_defaults(caf::actor_system_config& cfg);

} // namespace caldera
