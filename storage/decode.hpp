// Shared by the stores: a stored value back into a checked `msg<S>`, and
// RocksDB's status as an error (only storage/ includes RocksDB).
#pragma once

#include <cstring>
#include <string>

#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "actors/error.hpp"
#include "actors/message.hpp"

namespace caldera::detail {

inline caf::error storage_error(const std::string& what, const rocksdb::Status& st) {
  return make_error(errc::storage_error, what + ": " + st.ToString());
}

/// Copies `v` into a word-aligned buffer and checks that it decodes as S.
template <class S>
caf::expected<msg<S>> decode_record(const char* data, size_t size, const std::string& key) {
  if (size % sizeof(capnp::word) != 0)
    return make_error(errc::storage_error,
                      "record '" + key + "' is not a whole number of words");
  auto words = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
  std::memcpy(words.begin(), data, size);
  msg<S> m{std::make_shared<const kj::Array<capnp::word>>(std::move(words))};
  try {
    auto view = m.read();
    (void) view->totalSize();
  } catch (const kj::Exception& e) {
    return make_error(errc::storage_error, "record '" + key + "' does not decode: "
                                             + e.getDescription().cStr());
  }
  return m;
}

inline rocksdb::Slice as_slice(const word_buffer& buf) {
  auto bytes = buf->asBytes();
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

} // namespace caldera::detail
