// The `caldera` command line: subcommands and their shared helpers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace caldera::cli {

/// Options before a "--" as NAME -> VALUE ("" for flags), the words after
/// "--" in `rest`. Returns an error message for a malformed line.
struct parsed_args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> rest;
  std::vector<std::string> positional;
};

std::optional<std::string> parse_args(int argc, char** argv, int first,
                                      const std::vector<std::string>& flags,
                                      const std::vector<std::string>& valued,
                                      parsed_args& out);

int cmd_run(int argc, char** argv);
int cmd_state(int argc, char** argv);
int cmd_weights(int argc, char** argv);
int cmd_quota(int argc, char** argv);

} // namespace caldera::cli
