// `caldera run`: the mesos-execute of caldera. Registers a framework, waits
// for an offer that fits, launches the command as one task, prints each state
// change and exits with the command's exit code.
//
// Exit codes: the command's own on TASK_FINISHED / TASK_FAILED; 137 when the
// task was killed; 1 for TASK_LOST / ERROR / DROPPED and for errors of caldera
// itself (master unreachable, no fitting offer within --offer-timeout);
// 2 for a malformed command line.
#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/cli/cli.hpp"
#include "actors/master_address.hpp"
#include "actors/auth.hpp"
#include "actors/bootstrap.hpp"
#include "actors/error.hpp"
#include "actors/framework_identity.hpp"
#include "actors/ids.hpp"
#include "actors/log.hpp"
#include "actors/scheduler.hpp"

namespace caldera::cli {

namespace {

using interrupt_atom = caf::atom_constant<caf::atom("interrupt")>;
using offer_timeout_atom = caf::atom_constant<caf::atom("offertime")>;

std::string shell_quote(const std::vector<std::string>& words) {
  if (words.size() == 1)
    return words[0];
  std::string out;
  for (auto& w : words) {
    if (!out.empty())
      out += ' ';
    out += '\'';
    for (char c : w) {
      if (c == '\'')
        out += "'\\''";
      else
        out += c;
    }
    out += '\'';
  }
  return out;
}

struct run_spec {
  std::string command;
  resources res;
  std::string task_id;
  double offer_timeout = 0;
};

class run_scheduler : public scheduler {
public:
  run_scheduler(caf::actor_config& cfg, scheduler_options opts, run_spec spec,
                std::shared_ptr<std::atomic<int>> rc)
    : scheduler(cfg, std::move(opts)), spec_(std::move(spec)), rc_(std::move(rc)) {
  }

protected:
  void registered(const std::string& fid, const std::string&) override {
    std::fprintf(stderr, "framework %s registered; waiting for an offer with %s\n",
                 fid.c_str(), spec_.res.to_string().c_str());
    if (spec_.offer_timeout > 0)
      delayed_send(this,
                   std::chrono::duration_cast<caf::timespan>(
                     std::chrono::duration<double>(spec_.offer_timeout)),
                   offer_timeout_atom::value);
  }

  void resource_offers(const std::vector<offer>& offers) override {
    std::vector<std::string> rest;
    for (auto& o : offers) {
      if (!launched_ && !interrupted_ && o.res.contains(spec_.res)) {
        launched_ = true;
        task_spec t;
        t.task_id = spec_.task_id;
        t.name = spec_.task_id;
        t.agent_id = o.agent_id;
        t.res = spec_.res;
        t.command = spec_.command;
        accept({o.id}, {t});
        agent_ = o.agent_id;
        std::printf("TASK_STAGING task=%s agent=%s host=%s\n", t.task_id.c_str(),
                    o.agent_id.c_str(), o.hostname.c_str());
        std::fflush(stdout);
        continue;
      }
      rest.push_back(o.id);
    }
    decline(rest, launched_ ? 3600 : 1);
    if (launched_)
      suppress();
  }

  void status_update(const status_info& st) override {
    if (st.task_id != spec_.task_id)
      return;
    std::string line = std::string{state_name(st.state)} + " task=" + st.task_id;
    if (!st.message.empty())
      line += " message=\"" + st.message + "\"";
    if (!st.reason.empty())
      line += " reason=" + st.reason;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (!is_terminal(st.state))
      return;
    using S = schema::TaskState;
    if (st.state == S::FINISHED)
      *rc_ = 0;
    else if (st.state == S::FAILED)
      *rc_ = st.exit_code ? *st.exit_code : 1;
    else if (st.state == S::KILLED)
      *rc_ = 137;
    else
      *rc_ = 1;
    acknowledge(st);
    stop();
  }

  void error(const std::string& message) override {
    std::fprintf(stderr, "caldera run: %s\n", message.c_str());
    *rc_ = 1;
  }

  caf::message_handler extra_handlers() override {
    return {
      [this](interrupt_atom) {
        interrupted_ = true;
        if (launched_) {
          std::fprintf(stderr, "caldera run: killing task %s\n", spec_.task_id.c_str());
          kill(spec_.task_id, agent_);
        } else {
          *rc_ = 130;
          stop();
        }
      },
      [this](offer_timeout_atom) {
        if (launched_)
          return;
        std::fprintf(stderr,
                     "caldera run: no offer with %s arrived within %g s\n",
                     spec_.res.to_string().c_str(), spec_.offer_timeout);
        *rc_ = 1;
        stop();
      },
    };
  }

private:
  run_spec spec_;
  std::shared_ptr<std::atomic<int>> rc_;
  bool launched_ = false;
  bool interrupted_ = false;
  std::string agent_;
};

} // namespace

namespace {

// --principal P --secret-file F: who the framework is, proven to a master
// that authenticates frameworks. A message when they do not fit together.
// --user, --principal and --secret-file, as every framework takes them.
std::optional<std::string> identity_from_args(parsed_args& args, scheduler_options& so) {
  framework_identity id;
  id.user = args.opts.count("user") ? args.opts["user"] : "";
  id.principal = args.opts.count("principal") ? args.opts["principal"] : "";
  id.secret_file = args.opts.count("secret-file") ? args.opts["secret-file"] : "";
  return id.apply(so);
}

} // namespace

int cmd_run(int argc, char** argv) {
  parsed_args args;
  if (auto err = parse_args(argc, argv, 2, {"partition-aware"},
                            {"master", "resources", "name", "role", "user",
                             "offer-timeout", "task-id", "log-level", "principal",
                             "secret-file"},
                            args)) {
    std::fprintf(stderr, "caldera run: %s\n", err->c_str());
    return 2;
  }
  auto words = args.rest;
  words.insert(words.begin(), args.positional.begin(), args.positional.end());
  if (words.empty()) {
    std::fprintf(stderr, "caldera run: no command given (caldera run ... -- COMMAND)\n");
    return 2;
  }
  auto ep = parse_master_address(args.opts.count("master") ? args.opts["master"]
                                                           : "127.0.0.1:5050");
  if (!ep) {
    std::fprintf(stderr, "caldera run: --master: %s\n", describe(ep.error()).c_str());
    return 2;
  }
  auto res = resources::parse(args.opts.count("resources") ? args.opts["resources"]
                                                           : "cpus:0.1;mem:32");
  if (!res) {
    std::fprintf(stderr, "caldera run: --resources: %s\n", describe(res.error()).c_str());
    return 2;
  }
  if (res->empty()) {
    std::fprintf(stderr, "caldera run: --resources: a task needs some resources\n");
    return 2;
  }
  run_spec spec;
  spec.command = shell_quote(words);
  spec.res = *res;
  spec.offer_timeout = 0;
  if (args.opts.count("offer-timeout")) {
    char* end = nullptr;
    spec.offer_timeout = std::strtod(args.opts["offer-timeout"].c_str(), &end);
    if (*end != '\0' || spec.offer_timeout < 0) {
      std::fprintf(stderr, "caldera run: --offer-timeout: '%s' is not a number of seconds\n",
                   args.opts["offer-timeout"].c_str());
      return 2;
    }
  }
  id_generator ids{real_env()->seed_for("caldera-run")};
  spec.task_id = args.opts.count("task-id") ? args.opts["task-id"] : "run-" + ids.token();
  scheduler_options so;
  so.name = args.opts.count("name") ? args.opts["name"] : "caldera-run";
  so.roles = {args.opts.count("role") ? args.opts["role"] : "*"};
  so.master_endpoint = *ep;
  so.partition_aware = args.opts.count("partition-aware") > 0;
  if (auto why = identity_from_args(args, so)) {
    std::fprintf(stderr, "caldera run: %s\n", why->c_str());
    return 2;
  }

  block_termination_signals();
  node_config cfg{"run"};
  if (auto why = configure_from_file(cfg, args.opts["config"])) {
    std::fprintf(stderr, "caldera run: %s\n", why->c_str());
    return 2;
  }
  log::level lvl = log::level::warn;
  if (args.opts.count("log-level"))
    log::parse_level(args.opts["log-level"], lvl);
  log::set_level(lvl);
  log::set_component("run");
  caf::actor_system sys{cfg};
  // Fail fast when nobody listens at the master's address.
  auto probe = connect_master_blocking(sys, *ep);
  if (!probe) {
    std::fprintf(stderr, "caldera run: cannot reach the master at %s: %s%s\n",
                 ep->to_string().c_str(), describe(probe.error()).c_str(),
                 unreachable_hint(sys).c_str());
    return 1;
  }
  auto rc = std::make_shared<std::atomic<int>>(1);
  auto why = run_scheduler_until_done(
    sys, [&](caf::actor_system& s) { return s.spawn<run_scheduler>(so, spec, rc); },
    [](const caf::actor& sched) { caf::anon_send(sched, interrupt_atom::value); });
  // Errors (not a master, registration refused) were printed by `error`.
  return why == caf::exit_reason::user_shutdown ? 130 : rc->load();
}

} // namespace caldera::cli
