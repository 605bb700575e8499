// Resource arithmetic in Mesos syntax, a plain class (no actors).
//
//   cpus:4;mem:8192;disk:100000;ports:[31000-32000,33000-33010]
//   cpus(ml):2;mem(ml):1024          statically reserved for role "ml"
//
// Scalars are kept in fixed point with three decimals (as Mesos does) so sums
// and differences are exact. Ranges are kept as sorted, merged, inclusive
// intervals. Entries are keyed by (name, role); "*" is the unreserved role.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <capnp/list.h>
#include <caf/expected.hpp>

#include "schemas/common.capnp.h"

namespace caldera {

class resources {
public:
  using range = std::pair<uint64_t, uint64_t>; // inclusive
  struct value {
    bool is_ranges = false;
    int64_t milli = 0;           // scalar, in thousandths
    std::vector<range> ranges;   // sorted, merged
  };
  using key = std::pair<std::string, std::string>; // (name, role)

  resources() = default;

  /// Parses Mesos syntax. On failure the error names the entry and the reason
  /// (errc::invalid_resources). Negative, non-finite or malformed values fail.
  static caf::expected<resources> parse(std::string_view text);

  /// Reads the Cap'n Proto form; negative or malformed entries fail.
  static caf::expected<resources> from_capnp(
    capnp::List<schema::Resource>::Reader xs);

  /// Writes the Cap'n Proto form.
  void to_capnp(capnp::List<schema::Resource>::Builder xs) const;
  size_t entry_count() const { return entries_.size(); }

  /// Mesos syntax, canonical order; "" when empty.
  std::string to_string() const;

  bool empty() const { return entries_.empty(); }

  /// True if every entry of `other` is within this (same name and role).
  bool contains(const resources& other) const;

  resources& operator+=(const resources& other);
  /// Subtracts what is present; callers check `contains` first when they need
  /// exactness (what is missing is ignored, never negative).
  resources& operator-=(const resources& other);
  friend resources operator+(resources a, const resources& b) { return a += b; }
  friend resources operator-(resources a, const resources& b) { return a -= b; }
  bool operator==(const resources& other) const;
  bool operator!=(const resources& other) const { return !(*this == other); }

  /// The sum of a scalar over all roles (0 if absent).
  double scalar(std::string_view name) const;

  /// Adds a scalar (role "*" by default). Negative amounts are ignored.
  void add_scalar(std::string name, double amount, std::string role = "*");
  void add_ranges(std::string name, std::vector<range> rs, std::string role = "*");

  /// Lowers the scalar `name` (summed over roles) to at most `max`, taking
  /// from unreserved entries first.
  void cap(const std::string& name, double max);

  /// Scalar sums by name (cpus, mem, ...), over all roles.
  std::map<std::string, double> scalars() const;

  /// Only the entries reserved to `role` ("*": the unreserved ones).
  resources of_role(std::string_view role) const;

  /// What a framework in `roles` may be offered: unreserved plus its roles'.
  resources allocatable_to(const std::vector<std::string>& roles) const;
  resources allocatable_to_role(std::string_view role) const;

  const std::map<key, value>& entries() const { return entries_; }

private:
  void normalize(const key& k);
  std::map<key, value> entries_;
};

} // namespace caldera
