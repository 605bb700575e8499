// The DRF sorter: orders clients (roles, or frameworks inside a role) by
// weighted dominant share, ascending, keeping that order incrementally: a
// change to one client's allocation re-positions that client only
// (O(log n)); a change of the pool's totals re-computes every share once.
// A plain class; ties are broken by name, so the order is deterministic.
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace caldera {

/// Scalar quantities by resource name (cpus, mem, disk, gpus, ...).
using scalars = std::map<std::string, double>;

class drf_sorter {
public:
  /// (share, name): the name points at the sorter's own copy, so keeping the
  /// order costs no string copies.
  using entry = std::pair<double, const std::string*>;
  struct by_share {
    bool operator()(const entry& a, const entry& b) const {
      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
    }
  };
  using order_type = std::set<entry, by_share>;

  /// Adds `name` with no allocation; does nothing if present.
  void add(const std::string& name, double weight = 1.0);
  void remove(const std::string& name);
  bool contains(const std::string& name) const { return clients_.count(name) > 0; }
  size_t size() const { return clients_.size(); }

  /// An inactive client keeps its allocation and share but leaves `order()`
  /// (a suppressed or disconnected framework: walks never visit it).
  void set_active(const std::string& name, bool active);

  /// Weights must be positive; a share is divided by its weight.
  void set_weight(const std::string& name, double weight);

  void allocate(const std::string& name, const scalars& s);
  void unallocate(const std::string& name, const scalars& s);

  /// The pool the shares are fractions of.
  void set_totals(const scalars& totals);

  double share(const std::string& name) const;
  const scalars& allocation(const std::string& name) const;

  /// Active clients by ascending weighted dominant share.
  const order_type& order() const { return order_; }

private:
  struct client {
    double weight = 1.0;
    double share = 0;
    bool active = true;
    scalars alloc;
  };
  double compute(const client& c) const;
  void reposition(const std::string& name, client& c);

  std::unordered_map<std::string, client> clients_;
  order_type order_;
  scalars totals_;
};

} // namespace caldera
