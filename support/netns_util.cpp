#include "support/netns_util.hpp"

#include <cstdlib>
#include <unistd.h>

namespace caldera::test {

namespace {

int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::string exec_in(const std::string& ns, const std::string& cmd) {
  return "ip netns exec " + ns + " " + cmd;
}

std::string ip_binary() {
  return access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : "/sbin/ip";
}

} // namespace

netns_lab::netns_lab()
  : prefix_("cld" + std::to_string(getpid())), hub_(prefix_ + "-hub"),
    // `ip netns add` bind-mounts /run/netns on itself the first time; a
    // test that caused that mount removes it again.
    run_netns_was_mounted_(sh("mountpoint -q /run/netns") == 0) {
  ok_ = sh("ip netns add " + hub_) == 0 && sh(exec_in(hub_, "ip link set lo up")) == 0;
}

netns_lab::~netns_lab() {
  // Deleting a namespace deletes the interfaces in it.
  for (auto& ns : hosts_)
    sh("ip netns del " + ns);
  sh("ip netns del " + hub_);
  if (!run_netns_was_mounted_ && sh("test -z \"$(ip netns list)\"") == 0)
    sh("umount /run/netns");
}

bool netns_lab::add_bridge(const std::string& bridge, const std::string& cidr) {
  ok_ = ok_ && sh(exec_in(hub_, "ip link add " + bridge + " type bridge")) == 0
        && sh(exec_in(hub_, "ip addr add " + cidr + " dev " + bridge)) == 0
        && sh(exec_in(hub_, "ip link set " + bridge + " up")) == 0;
  return ok_;
}

std::string netns_lab::add_host(const std::string& tag) {
  auto ns = prefix_ + "-" + tag;
  ok_ = ok_ && sh("ip netns add " + ns) == 0;
  if (ok_)
    hosts_.push_back(ns);
  ok_ = ok_ && sh(exec_in(ns, "ip link set lo up")) == 0;
  return ns;
}

std::string netns_lab::attach(const std::string& ns, const std::string& ifname,
                              const std::string& cidr, const std::string& bridge) {
  // Interface names have 15 characters at most.
  auto end = "c" + std::to_string(getpid()) + "v" + std::to_string(links_++);
  ok_ = ok_
        && sh("ip link add " + end + " netns " + hub_ + " type veth peer name " + ifname
              + " netns " + ns)
             == 0
        && sh(exec_in(hub_, "ip link set " + end + " master " + bridge)) == 0
        && sh(exec_in(hub_, "ip link set " + end + " up")) == 0
        && sh(exec_in(ns, "ip addr add " + cidr + " dev " + ifname)) == 0
        && sh(exec_in(ns, "ip link set " + ifname + " up")) == 0;
  return ok_ ? end : std::string{};
}

bool netns_lab::set_link(const std::string& hub_end, bool up) {
  return sh(exec_in(hub_, "ip link set " + hub_end + (up ? " up" : " down"))) == 0;
}

std::vector<std::string> netns_lab::in(const std::string& ns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {ip_binary(), "netns", "exec", ns});
  return argv;
}

} // namespace caldera::test
