#include "actors/framework_identity.hpp"

#include <pwd.h>
#include <unistd.h>

#include "actors/auth.hpp"
#include "actors/error.hpp"

namespace caldera {

void framework_identity::declare(caf::config_option_adder& opts) {
  opts.add(user, "user", "the user tasks run as (default: the caller's; nobody for root "
                         "with a principal)")
    .add(principal, "principal", "the principal proven to a master with --authenticate")
    .add(secret_file, "secret-file", "file holding the principal's secret");
}

std::optional<std::string> framework_identity::apply(scheduler_options& so) const {
  if (principal.empty() != secret_file.empty())
    return std::string{"options 'principal' and 'secret-file' go together"};
  std::string caller = std::to_string(::geteuid());
  if (auto* pw = ::getpwuid(::geteuid()))
    caller = pw->pw_name;
  if (caller == "root" && !principal.empty())
    caller = "nobody";
  so.user = user.empty() ? caller : user;
  if (principal.empty())
    return std::nullopt;
  auto secret = read_secret_file(secret_file);
  if (!secret)
    return "option 'secret-file': " + error_message(secret.error());
  so.principal = principal;
  so.secret = *secret;
  return std::nullopt;
}

} // namespace caldera
