// The network seam of the simulated world: every message from an actor of
// one node to an actor of another passes this table, which may deliver it,
// lose it (a cut link, a dropped message), hold it back (a delay, which
// reorders it behind later messages) or deliver it twice. Partitions are
// rules of this table, never a special case inside a daemon.
//
// Actors join with `linked<Base>` (below): their mailbox asks `admit` about
// each message before taking it. A node is a name ("master", "agent/3",
// "agent/3/exec/<framework>/<executor>", "fw/run-1"); an actor belongs to the
// node it attached under. Messages without a sender, between actors of one
// node, from actors of no node, and the runtime's own down and exit messages
// always pass.
//
// Single-threaded: it belongs to a simulation on CAF's test coordinator. The
// real runtime has no table (`runtime_env::links()` is null) and the middleman
// carries messages between processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/fwd.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/timespan.hpp>

namespace caldera {

/// What happens on one direction of a link.
struct link_fault {
  bool cut = false;          // every message lost
  double drop = 0;           // chance a message is lost
  double duplicate = 0;      // chance a message is delivered twice
  double delay = 0;          // chance a message is held back (reordered)
  caf::timespan max_delay = std::chrono::seconds(2);
  bool any() const { return cut || drop > 0 || duplicate > 0 || delay > 0; }
};

struct link_counts {
  uint64_t delivered = 0, dropped = 0, duplicated = 0, delayed = 0;
};

class link_table {
public:
  explicit link_table(uint64_t seed);

  /// The actor `id` belongs to `node` from now on.
  void attach(caf::actor_id id, const std::string& node);
  /// The node of actor `id` (null: none).
  const std::string* node_of(caf::actor_id id) const;
  /// Every node an actor ever attached under.
  const std::set<std::string>& nodes() const { return nodes_; }

  /// Sets (replaces) what happens on the link `from` -> `to`.
  void set(const std::string& from, const std::string& to, link_fault f);
  link_fault get(const std::string& from, const std::string& to) const;
  /// Cuts `a` -> `b`, and `b` -> `a` when `both`.
  void cut(const std::string& a, const std::string& b, bool both = true);
  /// Every fault between `a` and `b` gone (both ways).
  void heal(const std::string& a, const std::string& b);
  /// Every fault on every link gone.
  void heal_all();
  /// Links with a fault.
  const std::map<std::pair<std::string, std::string>, link_fault>& faults() const {
    return faults_;
  }

  /// Decides the fate of `e`, arriving at `receiver`: true to deliver it
  /// now; false when the table took it (lost, or scheduled for later).
  bool admit(caf::mailbox_element_ptr& e, caf::abstract_actor* receiver);

  /// Called for every message crossing nodes: what happened ("deliver",
  /// "drop", "cut", "delay", "dup"), the nodes and the message's type names.
  using observer = std::function<void(const char* what, const std::string& from,
                                      const std::string& to, const std::string& types)>;
  void observe(observer f) { observer_ = std::move(f); }

  const link_counts& counts() const { return counts_; }

private:
  double draw();
  void tell(const char* what, const std::string& from, const std::string& to,
            const caf::mailbox_element& e, caf::abstract_actor* receiver);
  void hold(caf::mailbox_element_ptr e, caf::abstract_actor* receiver, caf::timespan d);

  std::mt19937_64 rng_;
  std::unordered_map<caf::actor_id, std::string> node_of_;
  std::set<std::string> nodes_;
  std::map<std::pair<std::string, std::string>, link_fault> faults_;
  std::set<const caf::mailbox_element*> held_;
  observer observer_;
  link_counts counts_;
};

/// An actor whose mailbox passes its node's links. `join_links` once, in the
/// constructor of the derived actor (a null table: nothing to pass).
template <class Base>
class linked : public Base {
public:
  using Base::Base;

  void enqueue(caf::mailbox_element_ptr e, caf::execution_unit* eu) override {
    if (links_ != nullptr && e != nullptr && !links_->admit(e, this))
      return;
    Base::enqueue(std::move(e), eu);
  }

protected:
  void join_links(link_table* t, const std::string& node) {
    links_ = t;
    if (t != nullptr)
      t->attach(this->id(), node);
  }

private:
  link_table* links_ = nullptr;
};

} // namespace caldera
