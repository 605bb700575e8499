// The coordination service under standby masters (issue 16): leader election
// with a lease, the leader's record (address and epoch), fenced writes, and
// what every node needs to find the leader. One interface, two services:
// etcd through its JSON gateway (actors/etcd.hpp; masters, agents, the CLI
// and the SDK) and memory (unit tests and the simulator, with leases on the
// time the caller says).
//
// Calls block (on the network for etcd): call them from a process main or
// through runtime_env::run_blocking, never from an actor's handler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/node.hpp"

namespace caldera {

/// `etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?cafile=F&certificate=F&key=F]`:
/// with the files, HTTPS to the members, their certificates checked against
/// `cafile` and this client's certificate shown (etcd's --client-cert-auth).
struct coordinator_url {
  std::vector<endpoint> members;
  std::string prefix; // "/caldera", never ending in '/'
  std::string cafile, certificate, key;
  bool tls() const { return !cafile.empty(); }
  /// Without the TLS files (for messages).
  std::string to_string() const;
};

/// Parses an etcd:// URL; fails naming what is wrong.
caf::expected<coordinator_url> parse_coordinator_url(std::string_view text);

/// Whether `text` names a coordinator (etcd://...) rather than HOST:PORT.
bool is_coordinator_url(std::string_view text);

/// Who leads: written by the leader under its lease.
struct leader_record {
  std::string id;            // the master's id (changes at every start)
  std::string address;       // its actor endpoint, HOST:PORT
  std::string http;          // its HTTP endpoint ("" when it serves none)
  std::string hostname;
  double since = 0;          // wall seconds when it was elected
  int64_t epoch = 0;         // the leader key's create revision: grows with every election

  std::string to_json() const;
  static caf::expected<leader_record> from_json(const std::string& text);
};

/// A put (value) or delete (nullopt) of one key under the prefix.
struct coord_op {
  std::string key;
  std::optional<std::string> value;
};

/// What was written to the registry after a revision (read_registry_since),
/// read at one revision of the coordinator.
struct registry_delta {
  int64_t revision = 0; // the coordinator's revision it was read at
  size_t count = 0;     // how many keys the registry holds at it
  std::map<std::string, std::string> changed; // keys written after `since`, their values
};

class coordinator {
public:
  virtual ~coordinator() = default;

  /// A lease of `ttl` (whole seconds); its id.
  virtual caf::expected<int64_t> grant(std::chrono::seconds ttl) = 0;
  /// Renews `lease`; false when it has expired (or is unknown).
  virtual caf::expected<bool> keepalive(int64_t lease) = 0;
  /// Gives up `lease` and the keys written under it (a clean stop).
  virtual caf::error revoke(int64_t lease) = 0;

  /// Becomes leader if no one is: writes `rec` (without epoch) as the
  /// leader key under `lease` unless the key exists. Returns the record
  /// that now leads: ours (with its epoch) or the other's.
  virtual caf::expected<leader_record> campaign(int64_t lease, const leader_record& rec) = 0;
  /// The current leader; nullopt when none leads.
  virtual caf::expected<std::optional<leader_record>> leader() = 0;
  /// The leader once it is not the one of epoch `not_epoch` (after a
  /// failover, the new one as soon as it is elected: it watches the leader
  /// key for up to about `wait`); after the wait, whoever leads.
  virtual caf::expected<std::optional<leader_record>> next_leader(int64_t not_epoch,
                                                                  std::chrono::milliseconds wait)
    = 0;

  /// Writes `ops` under `<prefix>/registry/` if and only if the leader key
  /// still has create revision `epoch`; false (nothing written) when it
  /// does not: the caller no longer leads.
  virtual caf::expected<bool> fenced_write(int64_t epoch, const std::vector<coord_op>& ops) = 0;
  /// Every key under `<prefix>/registry/` (without that part) and its value.
  virtual caf::expected<std::map<std::string, std::string>> read_registry() = 0;
  /// The registry's writes after revision `since` (0: all of it) and its
  /// size, read at one revision: a standby keeps its copy warm with it, and
  /// once elected reads only what changed since. A copy whose size then
  /// differs from `count` lost keys: registry_keys says which remain.
  virtual caf::expected<registry_delta> read_registry_since(int64_t since) = 0;
  /// Every key of the registry at `revision` (fails once it is compacted).
  virtual caf::expected<std::set<std::string>> registry_keys(int64_t revision) = 0;

  /// Announces a master (standby or leader) under `lease` at
  /// `<prefix>/masters/<id>`; `masters` lists those alive.
  virtual caf::error announce(int64_t lease, const leader_record& rec) = 0;
  virtual caf::expected<std::vector<leader_record>> masters() = 0;

  /// "etcd://..." or "memory": for messages.
  virtual std::string describe() const = 0;
};

/// A client of the etcd cluster `url` (JSON gateway over HTTP; the members
/// in turn until one answers, each call bounded by `timeout`).
std::unique_ptr<coordinator> make_etcd_coordinator(const coordinator_url& url,
                                                   std::chrono::milliseconds timeout
                                                   = std::chrono::milliseconds(1000));

/// An in-memory coordinator shared by the nodes of one test or simulation:
/// leases expire on the time `now()` says (virtual time in the simulator).
/// `clients` of it are coordinators too; `fail` makes every call of one
/// client fail as an unreachable service (a cut link) until restored.
class memory_coordination : public std::enable_shared_from_this<memory_coordination> {
public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
  explicit memory_coordination(clock_fn now);

  std::unique_ptr<coordinator> client(const std::string& name);
  void set_reachable(const std::string& client, bool reachable);

  struct lease_state {
    std::chrono::steady_clock::time_point expires;
    std::chrono::seconds ttl;
  };
  struct key_state {
    std::string value;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
    int64_t lease = 0;
  };

private:
  friend class memory_client;
  void expire();
  clock_fn now_;
  int64_t revision_ = 1;
  int64_t next_lease_ = 1;
  std::map<int64_t, lease_state> leases_;
  std::map<std::string, key_state> keys_;
  std::map<std::string, bool> reachable_;
};

} // namespace caldera
