// Resource arithmetic in Mesos syntax, a plain class (no actors).
//
//   cpus:4;mem:8192;disk:100000;ports:[31000-32000,33000-33010]
//   cpus(ml):2;mem(ml):1024          statically reserved for role "ml"
//
// Scalars are kept in fixed point with three decimals (as Mesos does) so sums
// and differences are exact. Ranges are kept as sorted, merged, inclusive
// intervals. Entries are keyed by (name, role); "*" is the unreserved role.
#pragma once

#include <algorithm>
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

  /// The entries, kept as one vector sorted by key: a resources value has a
  /// handful of entries and is walked far more often than changed; one
  /// allocation, in order (the allocator walks tens of thousands a cycle).
  class entry_map {
  public:
    using value_type = std::pair<key, value>;
    using iterator = std::vector<value_type>::iterator;
    using const_iterator = std::vector<value_type>::const_iterator;

    iterator begin() { return v_.begin(); }
    iterator end() { return v_.end(); }
    const_iterator begin() const { return v_.begin(); }
    const_iterator end() const { return v_.end(); }
    size_t size() const { return v_.size(); }
    bool empty() const { return v_.empty(); }

    const_iterator find(const key& k) const {
      auto i = lower(k);
      return i != v_.end() && i->first == k ? i : v_.end();
    }
    iterator find(const key& k) {
      auto i = v_.begin() + (lower(k) - v_.cbegin());
      return i != v_.end() && i->first == k ? i : v_.end();
    }
    value& operator[](const key& k) {
      auto i = v_.begin() + (lower(k) - v_.cbegin());
      if (i == v_.end() || i->first != k)
        i = v_.insert(i, value_type{k, value{}});
      return i->second;
    }
    /// Inserts unless `k` is there; appends at once when `k` sorts last.
    void emplace(const key& k, const value& x) {
      if (v_.empty() || v_.back().first < k) {
        v_.emplace_back(k, x);
        return;
      }
      auto i = v_.begin() + (lower(k) - v_.cbegin());
      if (i == v_.end() || i->first != k)
        v_.insert(i, value_type{k, x});
    }
    iterator erase(iterator i) { return v_.erase(i); }

  private:
    const_iterator lower(const key& k) const {
      return std::lower_bound(v_.cbegin(), v_.cend(), k,
                              [](const value_type& e, const key& x) { return e.first < x; });
    }
    std::vector<value_type> v_;
  };

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

  const entry_map& entries() const { return entries_; }

private:
  void normalize(const key& k);
  entry_map entries_;
};

} // namespace caldera
