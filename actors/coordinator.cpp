#include "actors/coordinator.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "actors/error.hpp"
#include "actors/leader_json.hpp"

namespace caldera {

std::string coordinator_url::to_string() const {
  std::string out = "etcd://";
  for (size_t i = 0; i < members.size(); ++i)
    out += (i > 0 ? "," : "") + members[i].to_string();
  return out + prefix;
}

namespace {

// cafile=F&certificate=F&key=F: all three or none, each readable.
std::optional<std::string> parse_tls_params(std::string_view query, coordinator_url& url) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto kv = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    auto eq = kv.find('=');
    auto key = kv.substr(0, eq);
    std::string value{eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1)};
    if (key == "cafile")
      url.cafile = value;
    else if (key == "certificate")
      url.certificate = value;
    else if (key == "key")
      url.key = value;
    else
      return "unknown parameter '" + std::string{key} + "' (cafile, certificate, key)";
    if (value.empty())
      return "parameter '" + std::string{key} + "' names no file";
    if (::access(value.c_str(), R_OK) != 0)
      return "parameter '" + std::string{key} + "': cannot read '" + value + "'";
  }
  if (url.cafile.empty() || url.certificate.empty() || url.key.empty())
    return std::string{"TLS to etcd needs cafile, certificate and key"};
  return std::nullopt;
}

} // namespace

bool is_coordinator_url(std::string_view text) {
  return text.substr(0, 7) == "etcd://";
}

caf::expected<coordinator_url> parse_coordinator_url(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::invalid_config,
                      "'" + std::string{text} + "' is not etcd://HOST:PORT[,HOST:PORT...]/PREFIX: "
                        + why);
  };
  if (!is_coordinator_url(text))
    return bad("it does not start with etcd://");
  auto rest = text.substr(7);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos)
    return bad("no /PREFIX after the members");
  coordinator_url url;
  auto hosts = rest.substr(0, slash);
  if (hosts.empty())
    return bad("no member");
  while (true) {
    auto comma = hosts.find(',');
    auto ep = parse_endpoint(hosts.substr(0, comma));
    if (!ep)
      return bad(describe(ep.error()));
    url.members.push_back(*ep);
    if (comma == std::string_view::npos)
      break;
    hosts.remove_prefix(comma + 1);
  }
  auto path = rest.substr(slash);
  if (auto q = path.find('?'); q != std::string_view::npos) {
    if (auto why = parse_tls_params(path.substr(q + 1), url))
      return bad(*why);
    path = path.substr(0, q);
  }
  url.prefix = std::string{path};
  while (url.prefix.size() > 1 && url.prefix.back() == '/')
    url.prefix.pop_back();
  if (url.prefix.size() < 2)
    return bad("an empty PREFIX");
  return url;
}

std::string leader_record::to_json() const {
  return nlohmann::json{{"id", id},           {"address", address}, {"http", http},
                        {"hostname", hostname}, {"since", since}}
    .dump();
}

nlohmann::json leader_json(const std::optional<leader_record>& l) {
  if (!l)
    return nullptr;
  return {{"id", l->id},       {"address", l->address},   {"http", l->http},
          {"hostname", l->hostname}, {"elected_time", l->since}, {"epoch", l->epoch}};
}

caf::expected<leader_record> leader_record::from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_string()
      || !j.contains("address") || !j["address"].is_string())
    return make_error(errc::invalid_message, "a master record that does not parse: " + text);
  leader_record r;
  r.id = j["id"];
  r.address = j["address"];
  r.http = j.value("http", "");
  r.hostname = j.value("hostname", "");
  r.since = j.value("since", 0.0);
  return r;
}

// --- memory -----------------------------------------------------------------

class memory_client : public coordinator {
public:
  memory_client(std::shared_ptr<memory_coordination> c, std::string name)
    : c_(std::move(c)), name_(std::move(name)) {}

  caf::expected<int64_t> grant(std::chrono::seconds ttl) override {
    if (auto err = reach())
      return err;
    auto id = c_->next_lease_++;
    c_->leases_[id] = {c_->now_() + ttl, ttl};
    return id;
  }

  caf::expected<bool> keepalive(int64_t lease) override {
    if (auto err = reach())
      return err;
    auto i = c_->leases_.find(lease);
    if (i == c_->leases_.end())
      return false;
    i->second.expires = c_->now_() + i->second.ttl;
    return true;
  }

  caf::error revoke(int64_t lease) override {
    if (auto err = reach())
      return err;
    drop_lease(lease);
    return caf::none;
  }

  caf::expected<leader_record> campaign(int64_t lease, const leader_record& rec) override {
    if (auto err = reach())
      return err;
    if (c_->leases_.count(lease) == 0)
      return make_error(errc::not_connected, "lease " + std::to_string(lease) + " expired");
    auto& k = c_->keys_;
    if (auto i = k.find(leader_key()); i != k.end())
      return record_of(i->second);
    auto rev = ++c_->revision_;
    k[leader_key()] = {rec.to_json(), rev, rev, lease};
    auto out = rec;
    out.epoch = rev;
    return out;
  }

  caf::expected<std::optional<leader_record>> leader() override {
    if (auto err = reach())
      return err;
    auto i = c_->keys_.find(leader_key());
    if (i == c_->keys_.end())
      return std::optional<leader_record>{};
    auto r = record_of(i->second);
    if (!r)
      return r.error();
    return std::optional<leader_record>{*r};
  }

  // Nothing here can wait (the simulator tells its nodes of a new leader).
  caf::expected<std::optional<leader_record>> next_leader(int64_t,
                                                          std::chrono::milliseconds) override {
    return leader();
  }

  caf::expected<bool> fenced_write(int64_t epoch, const std::vector<coord_op>& ops) override {
    if (auto err = reach())
      return err;
    auto i = c_->keys_.find(leader_key());
    if (i == c_->keys_.end() || i->second.create_revision != epoch)
      return false;
    auto rev = ++c_->revision_;
    for (auto& op : ops) {
      auto key = registry_prefix() + op.key;
      if (!op.value) {
        c_->keys_.erase(key);
        continue;
      }
      auto& k = c_->keys_[key];
      k.create_revision = k.create_revision == 0 ? rev : k.create_revision;
      k.mod_revision = rev;
      k.value = *op.value;
    }
    return true;
  }

  caf::expected<registry_delta> read_registry_since(int64_t since) override {
    if (auto err = reach())
      return err;
    registry_delta d;
    d.revision = c_->revision_;
    auto p = registry_prefix();
    for (auto i = c_->keys_.lower_bound(p); i != c_->keys_.end() && i->first.rfind(p, 0) == 0;
         ++i) {
      ++d.count;
      if (i->second.mod_revision > since)
        d.changed[i->first.substr(p.size())] = i->second.value;
    }
    return d;
  }

  // Only the present: the revision is checked to be the current one (as
  // etcd refuses a compacted revision).
  caf::expected<std::set<std::string>> registry_keys(int64_t revision) override {
    if (auto err = reach())
      return err;
    if (revision != c_->revision_)
      return make_error(errc::not_connected, "revision " + std::to_string(revision)
                                               + " is no longer held");
    std::set<std::string> out;
    auto p = registry_prefix();
    for (auto i = c_->keys_.lower_bound(p); i != c_->keys_.end() && i->first.rfind(p, 0) == 0;
         ++i)
      out.insert(i->first.substr(p.size()));
    return out;
  }

  caf::expected<std::map<std::string, std::string>> read_registry() override {
    if (auto err = reach())
      return err;
    std::map<std::string, std::string> out;
    auto p = registry_prefix();
    for (auto i = c_->keys_.lower_bound(p); i != c_->keys_.end() && i->first.rfind(p, 0) == 0;
         ++i)
      out[i->first.substr(p.size())] = i->second.value;
    return out;
  }

  caf::error announce(int64_t lease, const leader_record& rec) override {
    if (auto err = reach())
      return err;
    if (c_->leases_.count(lease) == 0)
      return make_error(errc::not_connected, "lease " + std::to_string(lease) + " expired");
    auto rev = ++c_->revision_;
    c_->keys_["/masters/" + rec.id] = {rec.to_json(), rev, rev, lease};
    return caf::none;
  }

  caf::expected<std::vector<leader_record>> masters() override {
    if (auto err = reach())
      return err;
    std::vector<leader_record> out;
    std::string p = "/masters/";
    for (auto i = c_->keys_.lower_bound(p); i != c_->keys_.end() && i->first.rfind(p, 0) == 0;
         ++i)
      if (auto r = leader_record::from_json(i->second.value))
        out.push_back(*r);
    return out;
  }

  std::string describe() const override { return "memory coordinator (" + name_ + ")"; }

private:
  static std::string leader_key() { return "/leader"; }
  static std::string registry_prefix() { return "/registry/"; }

  caf::error reach() {
    c_->expire();
    auto i = c_->reachable_.find(name_);
    if (i != c_->reachable_.end() && !i->second)
      return make_error(errc::not_connected, describe() + " is unreachable");
    return caf::none;
  }

  caf::expected<leader_record> record_of(const memory_coordination::key_state& k) {
    auto r = leader_record::from_json(k.value);
    if (r)
      r->epoch = k.create_revision;
    return r;
  }

  void drop_lease(int64_t lease) {
    c_->leases_.erase(lease);
    for (auto i = c_->keys_.begin(); i != c_->keys_.end();)
      i = i->second.lease == lease ? c_->keys_.erase(i) : std::next(i);
  }

  std::shared_ptr<memory_coordination> c_;
  std::string name_;
};

memory_coordination::memory_coordination(clock_fn now) : now_(std::move(now)) {
}

std::unique_ptr<coordinator> memory_coordination::client(const std::string& name) {
  return std::make_unique<memory_client>(shared_from_this(), name);
}

void memory_coordination::set_reachable(const std::string& client, bool reachable) {
  reachable_[client] = reachable;
}

void memory_coordination::expire() {
  auto now = now_();
  for (auto l = leases_.begin(); l != leases_.end();) {
    if (l->second.expires > now) {
      ++l;
      continue;
    }
    for (auto k = keys_.begin(); k != keys_.end();)
      k = k->second.lease == l->first ? keys_.erase(k) : std::next(k);
    l = leases_.erase(l);
  }
}

} // namespace caldera
