// coordinator over etcd 3.4's JSON gateway (/v3/...): keys and values are
// base64, 64-bit integers are strings. The members are tried in turn, from
// the last one that answered; an HTTP error from a member is an answer.
#include <openssl/evp.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "actors/coordinator.hpp"
#include "actors/error.hpp"

namespace caldera {

namespace {

using json = nlohmann::json;

// A txn stays well under etcd's 1.5 MiB request limit and its 128
// operations (--max-txn-ops; more are refused with 400).
constexpr size_t max_txn_bytes = 1 << 20;
constexpr size_t max_txn_ops = 120;

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

std::string unb64(const std::string& in) {
  if (in.empty())
    return {};
  std::string out(3 * in.size() / 4 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0)
    return {};
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '=' && pad < 2; --i)
    ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// The end of the range of keys starting with `prefix`.
std::string prefix_end(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

int64_t as_int(const json& j, const char* key) {
  if (!j.contains(key))
    return 0;
  auto& v = j[key];
  if (v.is_number_integer())
    return v.get<int64_t>();
  if (v.is_string())
    return std::strtoll(v.get<std::string>().c_str(), nullptr, 10);
  return 0;
}

class etcd_coordinator : public coordinator {
public:
  etcd_coordinator(coordinator_url url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

  caf::expected<int64_t> grant(std::chrono::seconds ttl) override {
    auto r = call("/v3/lease/grant", {{"TTL", ttl.count()}});
    if (!r)
      return r.error();
    if (as_int(*r, "ID") == 0)
      return make_error(errc::not_connected, describe() + " granted no lease: " + r->dump());
    return as_int(*r, "ID");
  }

  caf::expected<bool> keepalive(int64_t lease) override {
    auto r = call("/v3/lease/keepalive", {{"ID", std::to_string(lease)}});
    if (!r)
      return r.error();
    // An expired lease comes back without a TTL.
    return r->contains("result") && as_int((*r)["result"], "TTL") > 0;
  }

  caf::error revoke(int64_t lease) override {
    auto r = call("/v3/lease/revoke", {{"ID", std::to_string(lease)}});
    return r ? caf::error{} : r.error();
  }

  caf::expected<leader_record> campaign(int64_t lease, const leader_record& rec) override {
    auto key = b64(url_.prefix + "/leader");
    json txn{{"compare", json::array({{{"target", "CREATE"},
                                       {"key", key},
                                       {"create_revision", "0"},
                                       {"result", "EQUAL"}}})},
             {"success", json::array({{{"request_put",
                                        {{"key", key},
                                         {"value", b64(rec.to_json())},
                                         {"lease", std::to_string(lease)}}}}})},
             {"failure", json::array({{{"request_range", {{"key", key}}}}})}};
    auto r = call("/v3/kv/txn", txn);
    if (!r)
      return r.error();
    if (r->value("succeeded", false)) {
      auto out = rec;
      out.epoch = as_int((*r)["header"], "revision");
      return out;
    }
    auto& resp = (*r)["responses"];
    if (!resp.is_array() || resp.empty() || !resp[0].contains("response_range"))
      return make_error(errc::invalid_message, describe() + ": unexpected answer " + r->dump());
    auto found = record_from(resp[0]["response_range"]);
    if (!found)
      return found.error();
    if (!*found) // the leader's lease expired between compare and range
      return make_error(errc::not_connected, "no leader and no election won: try again");
    return **found;
  }

  caf::expected<std::optional<leader_record>> next_leader(int64_t not_epoch,
                                                          std::chrono::milliseconds wait) override {
    auto r = call("/v3/kv/range", {{"key", b64(url_.prefix + "/leader")}});
    if (!r)
      return r.error();
    auto now = record_from(*r);
    if (!now || (*now && (*now)->epoch != not_epoch) || wait.count() <= 0)
      return now;
    auto rev = r->contains("header") ? as_int((*r)["header"], "revision") : 0;
    watch_for_put(url_.prefix + "/leader", rev + 1, not_epoch, wait);
    return leader();
  }

  caf::expected<std::optional<leader_record>> leader() override {
    auto r = call("/v3/kv/range", {{"key", b64(url_.prefix + "/leader")}});
    if (!r)
      return r.error();
    return record_from(*r);
  }

  caf::expected<bool> fenced_write(int64_t epoch, const std::vector<coord_op>& ops) override {
    // Split into txns under the request limit, each fenced on its own.
    size_t i = 0;
    while (i < ops.size()) {
      json success = json::array();
      size_t bytes = 0;
      for (; i < ops.size() && (success.empty() || (bytes < max_txn_bytes
                                                    && success.size() < max_txn_ops));
           ++i) {
        auto key = b64(url_.prefix + "/registry/" + ops[i].key);
        bytes += key.size();
        if (ops[i].value) {
          auto v = b64(*ops[i].value);
          bytes += v.size();
          success.push_back({{"request_put", {{"key", key}, {"value", v}}}});
        } else {
          success.push_back({{"request_delete_range", {{"key", key}}}});
        }
      }
      json txn{{"compare", json::array({{{"target", "CREATE"},
                                         {"key", b64(url_.prefix + "/leader")},
                                         {"create_revision", std::to_string(epoch)},
                                         {"result", "EQUAL"}}})},
               {"success", success}};
      auto r = call("/v3/kv/txn", txn);
      if (!r)
        return r.error();
      if (!r->value("succeeded", false))
        return false;
    }
    return true;
  }

  caf::expected<std::map<std::string, std::string>> read_registry() override {
    auto p = url_.prefix + "/registry/";
    auto kvs = range_all(p);
    if (!kvs)
      return kvs.error();
    std::map<std::string, std::string> out;
    for (auto& [k, v] : *kvs)
      out[k.substr(p.size())] = std::move(v.second);
    return out;
  }

  caf::expected<registry_delta> read_registry_since(int64_t since) override {
    auto p = url_.prefix + "/registry/";
    registry_delta d;
    // The first page fixes the revision the others are read at. etcd counts
    // the whole range, filtered or not.
    auto kvs = range_all(p, {{"min_mod_revision", since + 1}}, &d.revision, &d.count);
    if (!kvs)
      return kvs.error();
    for (auto& [k, v] : *kvs)
      d.changed[k.substr(p.size())] = std::move(v.second);
    return d;
  }

  caf::expected<std::set<std::string>> registry_keys(int64_t revision) override {
    auto p = url_.prefix + "/registry/";
    auto kvs = range_all(p, {{"revision", revision}, {"keys_only", true}});
    if (!kvs)
      return kvs.error();
    std::set<std::string> out;
    for (auto& [k, v] : *kvs)
      out.insert(k.substr(p.size()));
    return out;
  }

  caf::error announce(int64_t lease, const leader_record& rec) override {
    auto r = call("/v3/kv/put", {{"key", b64(url_.prefix + "/masters/" + rec.id)},
                                 {"value", b64(rec.to_json())},
                                 {"lease", std::to_string(lease)}});
    return r ? caf::error{} : r.error();
  }

  caf::expected<std::vector<leader_record>> masters() override {
    auto kvs = range_all(url_.prefix + "/masters/");
    if (!kvs)
      return kvs.error();
    std::vector<leader_record> out;
    for (auto& [k, v] : *kvs)
      if (auto r = leader_record::from_json(v.second)) {
        r->epoch = v.first;
        out.push_back(*r);
      }
    return out;
  }

  std::string describe() const override { return url_.to_string(); }

private:
  // POSTs `body` to the members in turn; the first that answers decides.
  // When none does and one at least was slow rather than refusing (members
  // electing a leader after losing one), the error is errc::timeout: worth
  // asking again in a moment.
  caf::expected<json> call(const std::string& path, const json& body) {
    std::string why;
    bool slow = false;
    auto text = body.dump();
    for (size_t n = 0; n < url_.members.size(); ++n) {
      auto& m = url_.members[(next_ + n) % url_.members.size()];
      auto cli = client_for(m);
      auto secs = timeout_.count() / 1000;
      auto usecs = (timeout_.count() % 1000) * 1000;
      cli->set_connection_timeout(secs, usecs);
      cli->set_read_timeout(secs, usecs);
      cli->set_write_timeout(secs, usecs);
      auto r = cli->Post(path.c_str(), text, "application/json");
      if (!r) {
        why += (why.empty() ? "" : "; ") + m.to_string() + ": " + httplib::to_string(r.error());
        slow = slow || r.error() == httplib::Error::Read || r.error() == httplib::Error::Write
               || r.error() == httplib::Error::ConnectionTimeout;
        continue;
      }
      next_ = (next_ + n) % url_.members.size();
      auto j = json::parse(r->body, nullptr, false);
      if (r->status != 200 || j.is_discarded())
        return make_error(errc::not_connected, "etcd at " + m.to_string() + " answered "
                                                 + std::to_string(r->status) + " to " + path
                                                 + ": " + r->body.substr(0, 300));
      return j;
    }
    return make_error(slow ? errc::timeout : errc::not_connected,
                      "no member of " + describe() + " answers (" + why + ")");
  }

  // Plain HTTP, or HTTPS checking the member against the CA and showing
  // this client's certificate.
  std::unique_ptr<httplib::ClientImpl> client_for(const endpoint& m) {
    if (!url_.tls())
      return std::make_unique<httplib::ClientImpl>(m.host, m.port);
    auto cli = std::make_unique<httplib::SSLClient>(m.host, m.port, url_.certificate, url_.key);
    cli->set_ca_cert_path(url_.cafile.c_str());
    cli->enable_server_certificate_verification(true);
    return cli;
  }

  caf::expected<std::optional<leader_record>> record_from(const json& range) {
    if (!range.contains("kvs") || !range["kvs"].is_array() || range["kvs"].empty())
      return std::optional<leader_record>{};
    auto& kv = range["kvs"][0];
    auto rec = leader_record::from_json(unb64(kv.value("value", "")));
    if (!rec)
      return rec.error();
    rec->epoch = as_int(kv, "create_revision");
    return std::optional<leader_record>{*rec};
  }

  // Watches `key` from revision `from` until a put of it with a create
  // revision other than `not_epoch` (a new leader), or until nothing came
  // for `wait`, or the stream fails: the caller reads the key then.
  void watch_for_put(const std::string& key, int64_t from, int64_t not_epoch,
                     std::chrono::milliseconds wait) {
    auto& m = url_.members[next_ % url_.members.size()];
    auto cli = client_for(m);
    auto ms = wait.count();
    cli->set_connection_timeout(timeout_.count() / 1000, (timeout_.count() % 1000) * 1000);
    cli->set_read_timeout(ms / 1000, (ms % 1000) * 1000);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v3/watch";
    req.body = json{{"create_request", {{"key", b64(key)}, {"start_revision", from}}}}.dump();
    req.set_header("Content-Type", "application/json");
    std::string buf;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      buf.append(data, n);
      for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
        auto line = json::parse(buf.substr(0, nl), nullptr, false);
        buf.erase(0, nl + 1);
        if (new_put(line, not_epoch))
          return false; // enough: ends the stream
      }
      return true;
    };
    httplib::Response res;
    httplib::Error err;
    cli->send(req, res, err);
  }

  // Whether watch message `m` has a put whose create revision is not
  // `not_epoch` (etcd's JSON leaves out a PUT's type: it is the default).
  static bool new_put(const json& m, int64_t not_epoch) {
    if (m.is_discarded() || !m.contains("result") || !m["result"].contains("events"))
      return false;
    for (auto& e : m["result"]["events"])
      if (e.value("type", "PUT") == "PUT" && e.contains("kv")
          && as_int(e["kv"], "create_revision") != not_epoch)
        return true;
    return false;
  }

  // key -> (create revision, value) for every key under `prefix`, in pages;
  // `extra` adds fields to each range request (a revision, filters). With
  // `revision`, every page is read at the first one's revision, said there,
  // and `count` is the range's size then.
  caf::expected<std::map<std::string, std::pair<int64_t, std::string>>>
  range_all(const std::string& prefix, const json& extra = json::object(),
            int64_t* revision = nullptr, size_t* count = nullptr) {
    std::map<std::string, std::pair<int64_t, std::string>> out;
    std::string from = prefix;
    json q = {{"range_end", b64(prefix_end(prefix))}, {"limit", 1000}};
    q.update(extra);
    while (true) {
      q["key"] = b64(from);
      auto r = call("/v3/kv/range", q);
      if (!r)
        return r.error();
      if (revision && !q.contains("revision")) {
        *revision = r->contains("header") ? as_int((*r)["header"], "revision") : 0;
        q["revision"] = *revision;
        if (count)
          *count = static_cast<size_t>(as_int(*r, "count"));
      }
      std::string last;
      if (r->contains("kvs"))
        for (auto& kv : (*r)["kvs"]) {
          last = unb64(kv.value("key", ""));
          out[last] = {as_int(kv, "create_revision"), unb64(kv.value("value", ""))};
        }
      if (!r->value("more", false) || last.empty())
        return out;
      from = last + std::string(1, '\0');
    }
  }

  coordinator_url url_;
  std::chrono::milliseconds timeout_;
  size_t next_ = 0;
};

} // namespace

std::unique_ptr<coordinator> make_etcd_coordinator(const coordinator_url& url,
                                                   std::chrono::milliseconds timeout) {
  return std::make_unique<etcd_coordinator>(url, timeout);
}

} // namespace caldera
