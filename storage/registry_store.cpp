#include "storage/registry_store.hpp"

#include <cstring>
#include <filesystem>


#include "actors/error.hpp"
#include "storage/decode.hpp"

namespace caldera {

namespace {

using detail::decode_record;

const std::string agent_prefix = "agent/";
const std::string framework_prefix = "framework/";
const std::string master_key = "master/info";
const std::string role_prefix = "role/";
const std::string cluster_key = "cluster/info";

} // namespace

void registry_store::batch::put_agent(const std::string& id,
                                      const agent_record_msg& rec) {
  ops_.push_back({agent_prefix + id, rec.buffer()});
}

void registry_store::batch::remove_agent(const std::string& id) {
  ops_.push_back({agent_prefix + id, nullptr});
}

void registry_store::batch::put_framework(const std::string& id,
                                          const framework_record_msg& rec) {
  ops_.push_back({framework_prefix + id, rec.buffer()});
}

void registry_store::batch::remove_framework(const std::string& id) {
  ops_.push_back({framework_prefix + id, nullptr});
}

void registry_store::batch::put_master(const master_record_msg& rec) {
  ops_.push_back({master_key, rec.buffer()});
}

void registry_store::batch::put_role(const std::string& role,
                                     const role_record_msg& rec) {
  ops_.push_back({role_prefix + role, rec.buffer()});
}

void registry_store::batch::put_cluster(const std::string& id) {
  ops_.push_back({cluster_key, make<schema::ClusterRecord>([&](auto b) { b.setId(id); }).buffer()});
}

std::optional<std::string>
registry_store::cluster_of(const std::map<std::string, std::string>& raw) {
  auto i = raw.find(cluster_key);
  if (i == raw.end())
    return std::nullopt;
  auto rec = decode_record<schema::ClusterRecord>(i->second.data(), i->second.size(), i->first);
  if (!rec)
    return std::nullopt;
  return std::string{rec->read()->getId()};
}

void registry_store::batch::append(const batch& other) {
  ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
}

registry_store::~registry_store() = default;

caf::expected<std::unique_ptr<registry_store>>
registry_store::open(const std::string& dir, const store_opener& opener) {
  auto kv = opener ? opener(dir, "registry") : open_rocksdb(dir, "registry");
  if (!kv)
    return kv.error();
  std::unique_ptr<registry_store> out{new registry_store};
  out->kv_ = std::move(*kv);
  out->dir_ = dir;
  return out;
}

namespace {

// Decodes one record of kind S into `out`.
template <class S, class T>
caf::error take(const std::string& key, const char* data, size_t size, T& out) {
  auto m = decode_record<S>(data, size, key);
  if (!m)
    return m.error();
  out = std::move(*m);
  return caf::none;
}

} // namespace

caf::expected<registry_snapshot> registry_store::load() {
  registry_snapshot snap;
  auto err = kv_->scan([&](const std::string& key, const char* data, size_t size) -> caf::error {
    if (key.rfind(agent_prefix, 0) == 0)
      return take<schema::AgentRecord>(key, data, size, snap.agents.emplace_back());
    if (key.rfind(framework_prefix, 0) == 0)
      return take<schema::FrameworkRecord>(key, data, size, snap.frameworks.emplace_back());
    if (key.rfind(role_prefix, 0) == 0)
      return take<schema::RoleRecord>(key, data, size, snap.roles.emplace_back());
    if (key == master_key)
      return take<schema::MasterRecord>(key, data, size, snap.master.emplace());
    return caf::none;
  });
  if (err)
    return err;
  return snap;
}

namespace {

std::string bytes_of(const word_buffer& w) {
  auto bytes = w->asBytes();
  return std::string{reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

word_buffer words_of(const std::string& bytes) {
  auto words = kj::heapArray<capnp::word>((bytes.size() + sizeof(capnp::word) - 1)
                                          / sizeof(capnp::word));
  std::memset(words.begin(), 0, words.size() * sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return std::make_shared<const kj::Array<capnp::word>>(std::move(words));
}

} // namespace

caf::error registry_store::apply(const batch& b) {
  if (b.ops_.empty())
    return caf::none;
  if (replica_) {
    std::vector<std::pair<std::string, std::optional<std::string>>> rops;
    rops.reserve(b.ops_.size());
    for (auto& op : b.ops_)
      rops.emplace_back(op.key, op.value ? std::optional<std::string>{bytes_of(op.value)}
                                         : std::nullopt);
    if (auto err = replica_(rops))
      return err;
  }
  std::vector<kv_op> ops;
  ops.reserve(b.ops_.size());
  for (auto& op : b.ops_)
    ops.push_back(kv_op{op.key, op.value});
  auto err = kv_->write(ops, true);
  if (err && replica_ && behind_)
    behind_(err);
  return err;
}

caf::expected<std::map<std::string, std::string>> registry_store::raw() {
  std::map<std::string, std::string> out;
  auto err = kv_->scan([&](const std::string& key, const char* data, size_t size) -> caf::error {
    out.emplace(key, std::string{data, size});
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

caf::error registry_store::replace(const std::map<std::string, std::string>& records) {
  auto now = raw();
  if (!now)
    return now.error();
  std::vector<kv_op> ops;
  for (auto& [key, bytes] : *now)
    if (records.count(key) == 0)
      ops.push_back(kv_op{key, nullptr});
  for (auto& [key, bytes] : records)
    if (auto i = now->find(key); i == now->end() || i->second != bytes)
      ops.push_back(kv_op{key, words_of(bytes)});
  return ops.empty() ? caf::none : kv_->write(ops, true);
}

caf::error registry_store::apply_raw(const raw_changes& changes) {
  std::vector<kv_op> ops;
  ops.reserve(changes.size());
  for (auto& [key, bytes] : changes)
    ops.push_back(kv_op{key, bytes ? words_of(*bytes) : nullptr});
  return kv_->write(ops, true);
}

} // namespace caldera
