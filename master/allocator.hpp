// The first allocation policy: every free resource of an agent is offered to
// one framework at a time, frameworks taken round robin. A plain class (no
// actors): the master calls it and turns its decisions into offers. The DRF
// allocator of issue 3 replaces the policy behind the same calls.
//
// Semantics kept from Mesos:
// - a framework is offered only unreserved resources and those reserved to
//   one of its roles;
// - a decline (or the unused part of an accepted offer) with refuse_seconds
//   installs a filter: that agent's resources are not offered again to that
//   framework before the filter expires, unless what is free there is no
//   longer a subset of what was refused (something new was freed);
// - suppressed and inactive frameworks get nothing until revived/reactivated.
//
// Time is passed in by the caller (the actor clock), never read here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/resources.hpp"

namespace caldera {

class allocator {
public:
  using time_point = std::chrono::steady_clock::time_point;

  struct allocation {
    std::string framework_id;
    std::string agent_id;
    resources offered;
  };

  void add_agent(const std::string& agent_id, const resources& total);
  void remove_agent(const std::string& agent_id);
  bool has_agent(const std::string& agent_id) const;

  void add_framework(const std::string& framework_id,
                     std::vector<std::string> roles);
  void remove_framework(const std::string& framework_id);
  /// Inactive frameworks (scheduler disconnected) are offered nothing.
  void activate_framework(const std::string& framework_id, bool active);
  void suppress(const std::string& framework_id);
  /// Ends suppression and clears the framework's filters.
  void revive(const std::string& framework_id);

  /// Marks `r` on `agent_id` as in use (a launched task, an outstanding
  /// offer). Returns false if the agent does not have it free.
  bool use(const std::string& agent_id, const resources& r);

  /// Returns `r` on `agent_id` to the free pool. With `refuse_until`, `r` is
  /// filtered for `framework_id` on that agent until then.
  void recover(const std::string& agent_id, const resources& r,
               const std::string& framework_id = {},
               std::optional<time_point> refuse_until = std::nullopt);

  /// Decides offers: each agent's free resources go to the next eligible
  /// framework in rotation; the offered resources are marked in use.
  std::vector<allocation> allocate(time_point now);

  const resources* total(const std::string& agent_id) const;
  const resources* free(const std::string& agent_id) const;

private:
  struct agent_entry {
    resources total;
    resources free;
  };
  struct filter {
    resources refused;
    time_point until;
  };
  struct framework_entry {
    std::vector<std::string> roles;
    bool active = true;
    bool suppressed = false;
    std::map<std::string, filter> filters; // by agent id
  };

  bool filtered(framework_entry& fw, const std::string& agent_id,
                const resources& offerable, time_point now);

  std::map<std::string, agent_entry> agents_;
  std::map<std::string, framework_entry> frameworks_;
  std::vector<std::string> rotation_; // framework ids in registration order
  size_t cursor_ = 0;
};

} // namespace caldera
