// Several hosts on one machine for process tests: network namespaces this
// test creates, each joined by veth pairs to bridges in a hub namespace
// (private addresses the test assigns). A link cut at the bridge drops
// packets and leaves connections open, as when a cable is pulled.
// Everything is removed by the destructor. Needs root (CAP_NET_ADMIN) and
// iproute2; `ok` is false elsewhere and the test says it skipped.
#pragma once

#include <string>
#include <vector>

namespace caldera::test {

class netns_lab {
public:
  netns_lab();
  ~netns_lab();
  netns_lab(const netns_lab&) = delete;
  netns_lab& operator=(const netns_lab&) = delete;

  bool ok() const { return ok_; }
  /// The hub namespace (holds the bridges; processes may run there too).
  const std::string& hub() const { return hub_; }

  /// A bridge in the hub with address `cidr` (e.g. "10.77.0.1/24").
  bool add_bridge(const std::string& bridge, const std::string& cidr);
  /// A new namespace (its loopback up); its name.
  std::string add_host(const std::string& tag);
  /// A veth from `ns` (interface `ifname` there, address `cidr`) to
  /// `bridge`; the name of its hub end (for set_link), "" on failure.
  std::string attach(const std::string& ns, const std::string& ifname, const std::string& cidr,
                     const std::string& bridge);
  /// Cuts (or restores) a link at its hub end.
  bool set_link(const std::string& hub_end, bool up);

  /// `argv` run inside `ns`.
  static std::vector<std::string> in(const std::string& ns, std::vector<std::string> argv);

private:
  std::string prefix_;
  std::string hub_;
  std::vector<std::string> hosts_;
  size_t links_ = 0;
  bool ok_ = false;
  bool run_netns_was_mounted_ = false;
};

} // namespace caldera::test
