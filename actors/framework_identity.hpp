// Who a framework binary runs as, for frameworks built on the SDK: the
// options --user, --principal and --secret-file that hadoop-like, mpi-like
// and any framework with a node_config take the same way, and what they set
// in scheduler_options.
#pragma once

#include <optional>
#include <string>

#include <caf/config_option_adder.hpp>

#include "actors/scheduler.hpp"

namespace caldera {

struct framework_identity {
  std::string user;
  std::string principal;
  std::string secret_file;

  /// Declares the three options.
  void declare(caf::config_option_adder& opts);

  /// Sets `so.user` ($USER unless --user; nobody when root runs with a
  /// principal: ACLs forbid root), `so.principal` and `so.secret` (read from
  /// the file). A message says what is wrong.
  std::optional<std::string> apply(scheduler_options& so) const;
};

} // namespace caldera
