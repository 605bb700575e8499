// Frameworks' own Cap'n Proto messages between their actors.
//
// A framework defines its structs in its own schema and sends them wrapped in
// an `app_msg` (schema AppMessage: a `kind` string and the struct as an
// AnyPointer). caldera registers that one CAF type on every node, so the
// framework needs no CAF type registration and its messages cross processes
// like caldera's own:
//
//   send(peer, make_app<hadoop::Fetch>("fetch", [&](auto b) { b.setMapId(3); }));
//
//   [=](const app_msg& m) {
//     auto v = m.read();
//     if (v->getKind() == "fetch") { auto f = payload<hadoop::Fetch>(v); ... }
//   }
//
// Reading may throw kj::Exception on malformed bytes: handle inside `guarded`.
#pragma once

#include <string>

#include "actors/types.hpp"

namespace caldera {

template <class S, class F>
app_msg make_app(const std::string& kind, F&& fill) {
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::AppMessage>();
  root.setKind(kind);
  fill(root.getPayload().template initAs<S>());
  return app_msg{mb};
}

/// The payload of `v` read as S (valid while `v` lives).
template <class S>
typename S::Reader payload(const app_msg::view& v) {
  return v->getPayload().template getAs<S>();
}

/// `data` (a Cap'n Proto flat array, e.g. a task's data) read as S; the
/// returned message owns a copy, keep it while using its reader.
template <class S>
msg<S> from_bytes(const std::string& data) {
  auto words = kj::heapArray<capnp::word>((data.size() + sizeof(capnp::word) - 1)
                                          / sizeof(capnp::word));
  std::memset(words.begin(), 0, words.size() * sizeof(capnp::word));
  std::memcpy(words.begin(), data.data(), data.size());
  return msg<S>{std::make_shared<const kj::Array<capnp::word>>(std::move(words))};
}

/// A message as bytes (for a task's data or a framework message).
template <class S>
std::string to_bytes(const msg<S>& m) {
  auto bytes = m.buffer()->asBytes();
  return std::string{reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

} // namespace caldera
