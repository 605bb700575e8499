#include "support/etcd_util.hpp"

#include <csignal>

#include "support/netns_util.hpp"

namespace caldera::test {

using namespace std::chrono_literals;

etcd_cluster::etcd_cluster(const std::string& dir, size_t members, std::string pki,
                           std::string ip, std::string netns)
  : dir_(dir), pki_(std::move(pki)), ip_(std::move(ip)), netns_(std::move(netns)) {
  for (size_t i = 0; i < members; ++i) {
    client_.push_back(free_port());
    peer_.push_back(free_port());
  }
  members_.resize(members);
  for (size_t i = 0; i < members; ++i)
    members_[i] = std::make_unique<child>(argv(i, true));
  ready_ = true;
  for (auto& m : members_)
    ready_ = m->wait_for("ready to serve client requests", 30s) && ready_;
}

std::vector<std::string> etcd_cluster::argv(size_t i, bool fresh) const {
  std::string cluster;
  for (size_t k = 0; k < peer_.size(); ++k)
    cluster += (k ? "," : "") + std::string{"e"} + std::to_string(k) + "=http://" + ip_ + ":"
               + std::to_string(peer_[k]);
  auto client = (pki_.empty() ? "http://" : "https://") + ip_ + ":" + std::to_string(client_[i]);
  auto peer = "http://" + ip_ + ":" + std::to_string(peer_[i]);
  std::vector<std::string> tls;
  if (!pki_.empty())
    tls = {"--cert-file", pki_ + "/etcd-server.pem", "--key-file", pki_ + "/etcd-server-key.pem",
           "--trusted-ca-file", pki_ + "/ca.pem", "--client-cert-auth"};
  std::vector<std::string> out{"/usr/bin/etcd",
          "--name", "e" + std::to_string(i),
          "--data-dir", dir_ + "/etcd-" + std::to_string(i),
          "--listen-client-urls", client,
          "--advertise-client-urls", client,
          "--listen-peer-urls", peer,
          "--initial-advertise-peer-urls", peer,
          "--initial-cluster", cluster,
          "--initial-cluster-state", fresh ? "new" : "existing",
          "--initial-cluster-token", "caldera-test",
          // Fast elections on loopback: heartbeats every 50 ms, a leader
          // missed for 500 ms is replaced (the lease minimum is 1.5 x that).
          "--heartbeat-interval", "50",
          "--election-timeout", "500"};
  out.insert(out.end(), tls.begin(), tls.end());
  return netns_.empty() ? out : netns_lab::in(netns_, out);
}

std::string etcd_cluster::url(const std::string& prefix) const {
  std::string out = "etcd://";
  for (size_t i = 0; i < client_.size(); ++i)
    out += (i ? "," : "") + ip_ + ":" + std::to_string(client_[i]);
  out += prefix;
  if (!pki_.empty())
    out += "?cafile=" + pki_ + "/ca.pem&certificate=" + pki_ + "/etcd-client.pem&key=" + pki_
           + "/etcd-client-key.pem";
  return out;
}

void etcd_cluster::kill(size_t i) {
  if (members_[i]) {
    members_[i]->signal(SIGKILL);
    members_[i]->wait_exit(10s);
  }
}

bool etcd_cluster::start(size_t i) {
  members_[i] = std::make_unique<child>(argv(i, false));
  return members_[i]->wait_for("ready to serve client requests", 30s);
}

} // namespace caldera::test
