// A real etcd cluster for process tests (issue 16): Debian's etcd-server,
// `members` members on free loopback ports with their data under `dir`,
// started and waited for (each says "ready to serve client requests"), killed
// with the test. Never the default 2379: a packaged daemon may hold it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/process_util.hpp"

namespace caldera::test {

class etcd_cluster {
public:
  /// `pki`: a scripts/make-certs directory: clients then speak HTTPS and
  /// show a certificate (etcd-server / etcd-client certificates).
  /// With `netns`, the members run in that network namespace (netns_lab)
  /// and listen on `ip`.
  etcd_cluster(const std::string& dir, size_t members, std::string pki = "",
               std::string ip = "127.0.0.1", std::string netns = "");

  /// etcd://127.0.0.1:P1,127.0.0.1:P2,.../PREFIX (with TLS: and the client's
  /// files as ?cafile=...&certificate=...&key=...)
  std::string url(const std::string& prefix = "/caldera") const;
  /// Whether every member (started) answered.
  bool ready() const { return ready_; }
  /// kill -9 of member `i`; `start(i)` brings it back on its data.
  void kill(size_t i);
  bool start(size_t i);
  std::string output(size_t i) const { return members_[i] ? members_[i]->output() : ""; }

private:
  std::vector<std::string> argv(size_t i, bool fresh) const;
  std::string dir_;
  std::string pki_;
  std::string ip_, netns_;
  std::vector<uint16_t> client_, peer_;
  std::vector<std::unique_ptr<child>> members_;
  bool ready_ = false;
};

} // namespace caldera::test
