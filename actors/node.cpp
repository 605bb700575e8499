#include "actors/node.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <pthread.h>
#include <sstream>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/tls.hpp"
#include "actors/types.hpp"
#include "actors/wire_guard.hpp"

namespace caldera {

node_config::node_config(std::string name) : component(std::move(name)) {
  register_types(*this);
  load<caf::io::middleman, guarded_multiplexer>();
  load<tls_module>();
  options()
    .add(log_level, "log-level", "log level: debug, info, warn, error")
    .add(seed, "seed", "seed for ids and randomness (0: random)")
    .add(wire.max_message, "max-message-size",
         "largest message (bytes) a peer may send on an actor link; a larger one closes "
         "the link")
    .add(wire.handshake_timeout, "handshake-timeout",
         "close actor-port connections that have not completed their handshake by then");
}

caf::config_option_adder node_config::options() {
  return caf::config_option_adder{custom_options_, "global"};
}

std::optional<std::string> node_config::validate() {
  return std::nullopt;
}

std::optional<std::string> node_config::validate_wire() const {
  if (wire.max_message < (size_t{1} << 20) || wire.max_message > (size_t{1} << 31))
    return "option 'max-message-size': " + std::to_string(wire.max_message)
           + " is outside 1048576..2147483648 bytes";
  if (wire.handshake_timeout.count() <= 0)
    return std::string{"option 'handshake-timeout': must be positive"};
  return std::nullopt;
}

namespace {

std::string ini_error_message(const std::string& file, const std::string& text,
                              const caf::error& err) {
  std::string out = "config file '" + file + "': ";
  int line = 0;
  int column = 0;
  auto& ctx = err.context();
  // parser errors carry a dictionary with "line" / "column" or "argument".
  if (ctx.size() > 0 && ctx.match_element<caf::config_value::dictionary>(0)) {
    auto& dict = ctx.get_as<caf::config_value::dictionary>(0);
    if (auto i = dict.find("line"); i != dict.end())
      if (auto v = caf::get_if<int64_t>(&i->second))
        line = static_cast<int>(*v);
    if (auto i = dict.find("column"); i != dict.end())
      if (auto v = caf::get_if<int64_t>(&i->second))
        column = static_cast<int>(*v);
  }
  if (line > 0) {
    std::istringstream in{text};
    std::string l;
    for (int i = 0; i < line && std::getline(in, l); ++i) {
    }
    auto eq = l.find('=');
    std::string key = eq == std::string::npos ? l : l.substr(0, eq);
    out += "line " + std::to_string(line) + " column " + std::to_string(column)
           + " (option '" + key + "', text '" + l + "'): ";
  }
  out += caf::to_string(static_cast<caf::pec>(err.code()));
  if (err.code() == static_cast<uint8_t>(caf::pec::unexpected_character))
    out += " (strings must be quoted: key=\"value\")";
  return out;
}

std::string cli_error_message(const caf::error& err) {
  std::string out;
  std::string arg;
  auto& ctx = err.context();
  if (ctx.size() > 0 && ctx.match_element<caf::config_value::dictionary>(0)) {
    auto& dict = ctx.get_as<caf::config_value::dictionary>(0);
    if (auto i = dict.find("argument"); i != dict.end())
      if (auto v = caf::get_if<std::string>(&i->second))
        arg = *v;
  }
  auto code = static_cast<caf::pec>(err.code());
  if (code == caf::pec::not_an_option)
    return "unknown option '" + arg + "' (see --help)";
  if (code == caf::pec::missing_argument)
    return "option '" + arg + "' needs a value";
  return "invalid value in '" + arg + "': " + caf::to_string(code);
}

} // namespace

std::optional<std::string> node_config::configure(int argc, char** argv) {
  // Split off --config FILE; turn "--name value" into "--name=value" for
  // options that take a value (CAF's CLI parser wants the '=' form).
  std::vector<std::string> args;
  std::vector<const caf::config_option*> cleared; // flags set false on the command line
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= argc)
        return "option '--config' needs a file name";
      config_file = argv[++i];
      continue;
    }
    if (a.rfind("--config=", 0) == 0) {
      config_file = a.substr(9);
      continue;
    }
    // Flags as Mesos writes them: --name, --name=true|false, --no-name
    // (CAF itself only takes --name).
    if (a.rfind("--no-", 0) == 0 && a.find('=') == std::string::npos) {
      auto opt = custom_options_.cli_long_name_lookup(a.substr(5));
      if (opt != nullptr && opt->is_flag()) {
        cleared.push_back(opt);
        continue;
      }
    }
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      auto opt = custom_options_.cli_long_name_lookup(a.substr(2, eq - 2));
      if (opt != nullptr && opt->is_flag()) {
        auto v = a.substr(eq + 1);
        if (v == "false" || v == "0" || v == "no") {
          cleared.push_back(opt);
          continue;
        }
        if (v != "true" && v != "1" && v != "yes")
          return "option '" + a.substr(0, eq) + "': '" + v + "' is neither true nor false";
        a = a.substr(0, eq);
      }
    }
    if (a.rfind("--", 0) == 0 && a.find('=') == std::string::npos && a != "--help") {
      auto opt = custom_options_.cli_long_name_lookup(a.substr(2));
      if (opt == nullptr)
        return "unknown option '" + a + "' (see --help)";
      if (!opt->is_flag()) {
        if (i + 1 >= argc)
          return "option '" + a + "' needs a value";
        a += "=";
        a += argv[++i];
      }
    }
    args.push_back(std::move(a));
  }
  std::string text;
  if (!config_file.empty()) {
    std::ifstream in{config_file};
    if (!in)
      return "cannot read config file '" + config_file + "'";
    std::stringstream ss;
    ss << in.rdbuf();
    text = config_file_text(ss.str());
  }
  std::istringstream ini{text};
  if (auto err = parse(std::move(args), ini)) {
    // Errors from the file carry a line; errors from the command line an
    // argument.
    auto& ctx = err.context();
    bool from_file = false;
    if (ctx.size() > 0 && ctx.match_element<caf::config_value::dictionary>(0))
      from_file = ctx.get_as<caf::config_value::dictionary>(0).count("line") > 0;
    if (from_file)
      return ini_error_message(config_file, text, err);
    return cli_error_message(err);
  }
  if (cli_helptext_printed)
    return std::nullopt;
  for (auto* opt : cleared)
    opt->store(caf::config_value{false});
  log::level lvl;
  if (!log::parse_level(log_level, lvl))
    return "option 'log-level': '" + log_level
           + "' is not one of debug, info, warn, error";
  log::set_level(lvl);
  log::set_component(component);
  apply_runtime_defaults(*this);
  if (auto why = validate_wire())
    return why;
  if (auto why = check_tls(tls_files_of(*this)))
    return why;
  return validate();
}

std::string config_file_text(const std::string& raw) {
  // '#' comments, as operators write them, become CAF's ';' comments.
  std::string text;
  std::istringstream lines{raw};
  for (std::string l; std::getline(lines, l);) {
    auto first = l.find_first_not_of(" \t");
    if (first != std::string::npos && l[first] == '#')
      l[first] = ';';
    text += l;
    text += '\n';
  }
  // A file without sections holds global options.
  if (text.find('[') == std::string::npos
      || text.substr(0, text.find('[')).find('=') != std::string::npos)
    text = "[global]\n" + text;
  return text;
}

caf::expected<endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return make_error(errc::invalid_config,
                      "'" + std::string{text} + "' is not HOST:PORT");
  endpoint ep;
  ep.host = std::string{text.substr(0, colon)};
  auto p = text.substr(colon + 1);
  unsigned long port = 0;
  for (char c : p) {
    if (c < '0' || c > '9' || port > 65535)
      return make_error(errc::invalid_config,
                        "'" + std::string{text} + "' has an invalid port");
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (p.empty() || port == 0 || port > 65535)
    return make_error(errc::invalid_config,
                      "'" + std::string{text} + "' has an invalid port");
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                                uint16_t port, const std::string& ip) {
  start_wire_watchdog(sys);
  if (!tls_enabled(sys))
    return sys.middleman().publish(whom, port, ip.empty() ? nullptr : ip.c_str(), true);
  caf::scoped_actor self{sys};
  caf::expected<uint16_t> result{uint16_t{0}};
  self
    ->request(link_manager(sys), caf::infinite, caf::publish_atom::value, port,
              caf::actor_cast<caf::strong_actor_ptr>(whom), sys.message_types(whom), ip, true)
    .receive([&](uint16_t actual) { result = actual; },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

namespace {

// The middleman actor's answer to a connect: the actor, or why not.
caf::expected<caf::actor> connected(caf::strong_actor_ptr& ptr) {
  if (!ptr)
    return make_error(errc::not_connected, "no actor published there");
  return caf::actor_cast<caf::actor>(std::move(ptr));
}

} // namespace

void connect_async(caf::event_based_actor* self, const endpoint& ep,
                   std::function<void(caf::actor)> on_ok,
                   std::function<void(const caf::error&)> on_err) {
  self
    ->request(link_manager(self->system()), std::chrono::seconds(10), caf::connect_atom::value,
              ep.host, ep.port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        auto a = connected(ptr);
        if (a)
          on_ok(std::move(*a));
        else
          on_err(a.error());
      },
      [=](caf::error& err) { on_err(err); });
}

caf::expected<caf::actor> connect_blocking(caf::actor_system& sys, const endpoint& ep) {
  caf::scoped_actor self{sys};
  caf::expected<caf::actor> result{caf::actor{}};
  self
    ->request(link_manager(sys), std::chrono::seconds(10), caf::connect_atom::value, ep.host,
              ep.port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        result = connected(ptr);
      },
      [&](caf::error& err) { result = std::move(err); });
  return result;
}

std::optional<std::string> configure_from_file(node_config& cfg, const std::string& file) {
  std::string a0 = cfg.component;
  std::string a1 = "--config";
  std::string a2 = file;
  char* argv[] = {a0.data(), a1.data(), a2.data()};
  return cfg.configure(file.empty() ? 1 : 3, argv);
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int wait_for_termination_for(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  auto ms = std::max<long long>(timeout.count(), 0);
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  int sig = ::sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

void apply_runtime_defaults(caf::actor_system_config& cfg) {
  if (!caf::get_if(&cfg.content, "scheduler.policy"))
    cfg.set("scheduler.policy", caf::atom("sharing"));
  if (!caf::get_if(&cfg.content, "middleman.workers"))
    cfg.set("middleman.workers", size_t{0});
}

} // namespace caldera
